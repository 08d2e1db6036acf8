"""CDR lines as Asterisk writes them → :class:`CdrRecord`.

Two layouts, both CSV with every field double-quoted and embedded quotes
doubled (cdr_csv's own quoting, and the dialplan function ``CSV_QUOTE``):

``master`` — cdr_csv's ``Master.csv`` with ``loguniqueid=yes``,
``loguserfield=yes`` and ``newcdrcolumns=yes`` (21 fields; the 18-field form
written without ``newcdrcolumns`` is accepted too)::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
    lastdata, start, answer, end, duration, billsec, disposition, amaflags,
    uniqueid, userfield[, peeraccount, linkedid, sequence]

``clickphone`` — the project's cdr_custom mapping ``clickphone.csv`` (20)::

    systemname, uniqueid, linkedid, accountcode, src, dst, dcontext, clid,
    channel, dstchannel, lastapp, start, answer, end, duration, billsec,
    disposition, userfield, cp_dialled, cp_class

``fmt="auto"`` picks the layout from the field count (18/21 → master,
20 → clickphone). Times are ``YYYY-MM-DD HH:MM:SS`` (optionally with
fractional seconds) in the server's local time: read as UTC unless a
``tz`` is given, and always returned as aware UTC datetimes. An empty
``answer`` means the call was not answered.

Lines are parsed one at a time, so a broken line (bad quoting, wrong field
count, bad number) is reported with its line number and reason and the next
line is read normally. A quoted field containing a newline (Asterisk does not
escape them) therefore shows up as two bad lines — reported, not lost.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

MASTER = "master"
CLICKPHONE = "clickphone"
AUTO = "auto"

MASTER_COLUMNS: tuple[str, ...] = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
    "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
    "disposition", "amaflags", "uniqueid", "userfield", "peeraccount",
    "linkedid", "sequence",
)  # fmt: skip
"""Master.csv columns with loguniqueid, loguserfield and newcdrcolumns."""

CLICKPHONE_COLUMNS: tuple[str, ...] = (
    "systemname", "uniqueid", "linkedid", "accountcode", "src", "dst",
    "dcontext", "clid", "channel", "dstchannel", "lastapp", "start", "answer",
    "end", "duration", "billsec", "disposition", "userfield", "cp_dialled",
    "cp_class",
)  # fmt: skip
"""The project's cdr_custom ``clickphone.csv`` columns."""

# Field count -> (format, columns): the table "auto" uses.
LAYOUTS: dict[int, tuple[str, tuple[str, ...]]] = {
    21: (MASTER, MASTER_COLUMNS),
    18: (MASTER, MASTER_COLUMNS[:18]),
    20: (CLICKPHONE, CLICKPHONE_COLUMNS),
}

ANSWERED = "ANSWERED"
DISPOSITIONS = frozenset({ANSWERED, "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
"""Dispositions Asterisk writes; anything else is a parse error (quarantined)."""


class CdrParseError(ValueError):
    """A CDR line could not be parsed; ``reason`` says why.

    :func:`parse_cdr_stream` also sets ``line_number`` and ``raw`` (the line)
    so the line can be quarantined as it was.
    """

    def __init__(self, reason: str, line_number: int | None = None, raw: str | None = None):
        self.reason = reason
        self.line_number = line_number
        self.raw = raw
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """One CDR, as plain data. Fields absent from a layout are '' (or None)."""

    source_format: str
    uniqueid: str
    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    start: datetime
    answer: datetime | None
    end: datetime
    duration: int
    billsec: int
    disposition: str
    userfield: str = ""
    lastdata: str = ""
    amaflags: str = ""
    peeraccount: str = ""
    linkedid: str = ""
    sequence: int | None = None
    systemname: str = ""
    cp_dialled: str = ""
    cp_class: str = ""

    @property
    def answered(self) -> bool:
        """True when the disposition is ANSWERED."""
        return self.disposition == ANSWERED

    @property
    def dialled(self) -> str:
        """The number the subscriber dialled: ``cp_dialled`` when recorded, else ``dst``."""
        return self.cp_dialled or self.dst


def parse_cdr_time(text: str, tz: tzinfo | None = None) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM:SS[.ffffff]`` as local time in ``tz`` (default UTC); return aware UTC."""
    if not (
        len(text) >= 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == " "
        and text[13] == ":"
        and text[16] == ":"
        and (len(text) == 19 or (text[19] == "." and 21 <= len(text) <= 26 and text[20:].isdigit()))
    ):
        raise ValueError(f"not YYYY-MM-DD HH:MM:SS: {text!r}")
    if tz is None:
        # Parsing with the offset yields the timezone.utc singleton, several
        # times faster than .replace(tzinfo=...) on the parsed value.
        return datetime.fromisoformat(text + "+00:00")
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(timezone.utc)


def _count(fields: dict[str, str], name: str) -> int:
    text = fields[name]
    if not (text.isdigit() and text.isascii()):
        raise CdrParseError(f"{name} must be a whole number of seconds, got {text!r}")
    return int(text)


def _time(fields: dict[str, str], name: str, tz: tzinfo | None) -> datetime:
    try:
        return parse_cdr_time(fields[name], tz)
    except ValueError:
        raise CdrParseError(f"{name} is not a YYYY-MM-DD HH:MM:SS time: {fields[name]!r}") from None


def cdr_from_fields(values: list[str], fmt: str = AUTO, tz: tzinfo | None = None) -> CdrRecord:
    """Return the :class:`CdrRecord` for one line's already-split ``values``."""
    layout = LAYOUTS.get(len(values))
    if layout is None or (fmt != AUTO and layout[0] != fmt):
        wanted = [str(n) for n in sorted(n for n, (f, _) in LAYOUTS.items() if fmt in (AUTO, f))]
        counts = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " or " + wanted[-1]
        raise CdrParseError(
            f"expected {counts} fields"
            f"{'' if fmt == AUTO else ' for ' + fmt}, got {len(values)}"
        )
    source_format, columns = layout
    f = dict(zip(columns, values))
    uniqueid = f["uniqueid"].strip()
    if not uniqueid:
        raise CdrParseError("uniqueid is empty")
    disposition = f["disposition"]
    if disposition not in DISPOSITIONS:
        raise CdrParseError(f"unknown disposition {disposition!r}")
    duration, billsec = _count(f, "duration"), _count(f, "billsec")
    if billsec > duration:
        raise CdrParseError(f"billsec {billsec} exceeds duration {duration}")
    start, end = _time(f, "start", tz), _time(f, "end", tz)
    answer = _time(f, "answer", tz) if f["answer"] else None
    if end < start:
        raise CdrParseError("end is before start")
    if disposition == ANSWERED and billsec > 0 and answer is None:
        raise CdrParseError("answered with billsec > 0 but no answer time")
    sequence = None
    if f.get("sequence"):
        sequence = _count(f, "sequence")
    return CdrRecord(
        source_format=source_format,
        uniqueid=uniqueid,
        accountcode=f["accountcode"],
        src=f["src"],
        dst=f["dst"],
        dcontext=f["dcontext"],
        clid=f["clid"],
        channel=f["channel"],
        dstchannel=f["dstchannel"],
        lastapp=f["lastapp"],
        start=start,
        answer=answer,
        end=end,
        duration=duration,
        billsec=billsec,
        disposition=disposition,
        userfield=f["userfield"],
        lastdata=f.get("lastdata", ""),
        amaflags=f.get("amaflags", ""),
        peeraccount=f.get("peeraccount", ""),
        linkedid=f.get("linkedid", ""),
        sequence=sequence,
        systemname=f.get("systemname", ""),
        cp_dialled=f.get("cp_dialled", ""),
        cp_class=f.get("cp_class", ""),
    )


def split_cdr_line(line: str) -> list[str]:
    """Return the fields of one CSV line; raise :class:`CdrParseError` on broken quoting."""
    try:
        return next(csv.reader((line,), strict=True))
    except csv.Error as exc:
        raise CdrParseError(f"malformed CSV: {exc}") from None
    except StopIteration:
        raise CdrParseError("empty line") from None


def parse_cdr_line(line: str, fmt: str = AUTO, tz: tzinfo | None = None) -> CdrRecord:
    """Return the :class:`CdrRecord` of one CDR line; raise :class:`CdrParseError` with the reason."""
    return cdr_from_fields(split_cdr_line(line), fmt, tz)


def parse_cdr_stream(
    lines: Iterable[str | bytes], fmt: str = AUTO, tz: tzinfo | None = None
) -> Iterator[tuple[int, CdrRecord | CdrParseError]]:
    """Yield ``(line_number, record or error)`` for each non-blank line, lazily.

    A bad line yields a :class:`CdrParseError` (with ``line_number`` and
    ``raw``) and parsing goes on. Bytes are decoded as UTF-8 with
    replacement characters (caller-ID names are not always UTF-8).
    """
    for number, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        try:
            yield number, parse_cdr_line(line, fmt, tz)
        except CdrParseError as exc:
            exc.line_number = number
            exc.raw = line.rstrip("\r\n")
            yield number, exc
