"""CDR lines for the ingestion tests, written the way Asterisk writes them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from billing.cdr_format import CLICKPHONE_COLUMNS, MASTER_COLUMNS

T0 = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
"""A Friday morning in August 2025 (Annex B v2025.1 in effect)."""

FIXED = "0212345678"  # ro_fixed: 0.01 EUR/min, 60/1
MOBILE = "0721234567"  # ro_mobile: 0.025 EUR/min, 60/1
GERMANY = "+4930123456"  # international (standard list)


def _time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def quoted(values: list[str]) -> str:
    """One CSV line as cdr_csv writes it: every field quoted, quotes doubled."""
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"


def master_line(
    uniqueid: str,
    account: str = "acct-1",
    dialled: str = FIXED,
    billsec: int = 90,
    start: datetime = T0,
    *,
    answered: bool = True,
    linkedid: str | None = None,
) -> str:
    """A Master.csv line (21 fields) for one outbound call."""
    answer = start + timedelta(seconds=5)
    fields = {
        "accountcode": account, "src": "1001", "dst": dialled, "dcontext": "from-internal",
        "clid": '"Ana" <1001>', "channel": "PJSIP/1001-00000001",
        "dstchannel": "PJSIP/trunk-00000002", "lastapp": "Dial",
        "lastdata": f"PJSIP/{dialled}@trunk",
        "start": _time(start), "answer": _time(answer) if answered else "",
        "end": _time(answer + timedelta(seconds=billsec if answered else 0)),
        "duration": str(billsec + 5 if answered else 5), "billsec": str(billsec if answered else 0),
        "disposition": "ANSWERED" if answered else "NO ANSWER", "amaflags": "DOCUMENTATION",
        "uniqueid": uniqueid, "userfield": "", "peeraccount": "",
        "linkedid": linkedid or uniqueid, "sequence": "1",
    }  # fmt: skip
    return quoted([fields[c] for c in MASTER_COLUMNS])


def clickphone_line(
    system: str,
    uniqueid: str,
    account: str = "acct-1",
    dialled: str = FIXED,
    billsec: int = 90,
    start: datetime = T0,
) -> str:
    """A clickphone.csv line (the project's cdr_custom mapping, with the system name)."""
    answer = start + timedelta(seconds=2)
    fields = {
        "systemname": system, "uniqueid": uniqueid, "linkedid": uniqueid, "accountcode": account,
        "src": "1001", "dst": dialled, "dcontext": "clickphone-out", "clid": '"Ana" <1001>',
        "channel": "PJSIP/1001-1", "dstchannel": "PJSIP/trunk-2", "lastapp": "Dial",
        "start": _time(start), "answer": _time(answer),
        "end": _time(answer + timedelta(seconds=billsec)), "duration": str(billsec + 2),
        "billsec": str(billsec), "disposition": "ANSWERED", "userfield": "",
        "cp_dialled": dialled, "cp_class": "",
    }  # fmt: skip
    return quoted([fields[c] for c in CLICKPHONE_COLUMNS])
