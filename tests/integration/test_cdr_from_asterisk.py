"""CDRs the real Asterisk writes for a real call carry what billing needs
(system name, uniqueid, linkedid, account code, the dialled number) and are
rated at the contract's price."""

from __future__ import annotations

import asyncio
import csv
import io
import time

import pytest

from billing.batch import rate_cdr_file
from billing.cdr_format import parse_cdr_stream
from billing.tariffs import default_tariff
from tests.fixtures.ari import hang_up_quietly, on_channel

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]


async def cdr_lines_for(path, uniqueid: str, timeout: float = 5.0) -> list[str]:
    """Wait until Asterisk has written the CDR line of ``uniqueid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [l for l in path.read_text().splitlines(keepends=True) if uniqueid in l]
            if lines:
                return lines
        await asyncio.sleep(0.1)
    raise AssertionError(f"no CDR for {uniqueid} in {path}")


async def place_answered_call(asterisk, ari, sip_phone, number: str, seconds: float) -> str:
    """A phone on test1001 dials ``number``; the app answers, holds the call
    ``seconds`` and hangs up. Return the channel's uniqueid."""
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    await phone.call(number)
    start = await ari.log.wait_for("StasisStart", lambda e: e["channel"]["name"].startswith("PJSIP/test1001-"))
    channel_id = start["channel"]["id"]
    try:
        await ari.answer(channel_id)
        await phone.wait_state("CONFIRMED")
        await asyncio.sleep(seconds)
    finally:
        await hang_up_quietly(ari, channel_id)
    await ari.log.wait_for("StasisEnd", on_channel(channel_id))
    return channel_id


async def test_custom_cdr_of_a_real_call_carries_the_billing_keys(asterisk, ari, sip_phone):
    uniqueid = await place_answered_call(asterisk, ari, sip_phone, "0712345678", 2.2)
    lines = await cdr_lines_for(asterisk.testbed.cdr_dir / "clickphone.csv", uniqueid)
    (line_no, record), = list(parse_cdr_stream(lines, "clickphone"))
    assert not isinstance(record, Exception), record
    assert record.systemname == asterisk.settings.asterisk_system_name
    assert record.uniqueid == uniqueid
    assert record.linkedid == uniqueid
    assert record.accountcode == "acct1001"
    assert record.dialled == "0712345678"
    assert record.answered and 2 <= record.billsec <= 3


async def test_real_calls_cdrs_are_rated_at_the_contract_price(asterisk, ari, sip_phone):
    """A 2 s answered call to a Romanian mobile costs the first minute whole:
    60 s at 0.025 EUR/min = 0.025000 EUR; Master.csv and clickphone.csv agree."""
    uniqueid = await place_answered_call(asterisk, ari, sip_phone, "+40712345678", 2.2)
    rows = {}
    for fmt, path in (("clickphone", asterisk.testbed.cdr_dir / "clickphone.csv"),
                      ("master", asterisk.testbed.cdr_csv_dir / "Master.csv")):
        out = io.StringIO()
        rate_cdr_file(await cdr_lines_for(path, uniqueid), default_tariff(), out, cdr_format=fmt)
        (rows[fmt],) = list(csv.DictReader(io.StringIO(out.getvalue())))
    for row in rows.values():
        assert row["error"] == ""
        assert (row["uniqueid"], row["account"]) == (uniqueid, "acct1001")
        assert (row["normalised"], row["class"]) == ("40712345678", "ro_mobile")
        assert (row["billable_seconds"], row["cost_eur"]) == ("60", "0.025000")
