"""A connected call is held to its grant, chunk by chunk (invariant 2).

These tests use a per-second plan (0.01 EUR/s from the first second) and
4-second chunks, so the control plane has to extend, stop and end calls
within seconds of the computed moment."""

from __future__ import annotations

import asyncio
import time

import pytest

from admission.service import Admission
from ari_app.calls import CallTiming
from billing import ledger, reservations
from billing.authorisation import max_call_seconds
from billing.numbering import default_numbering_plan
from billing.tariff_store import load_tariff
from billing.ingest import CdrSource, ingest_lines

from .support import (
    PER_SECOND_MICRO,
    AutoAnswer,
    add_subscriber,
    cdr_records,
    connected_call,
    per_second_tariff,
    registered_phone,
    start_control_plane,
    stasis_channel_of,
    synced,
    wait_until,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.both_databases, pytest.mark.timeout(60)]

CHUNK_S = 4
TIMING = CallTiming(extend_before=2.0, warn_before=1.0)


async def test_daily_limit_reached_mid_call_ends_it_within_2s_of_the_computed_second(
    call_asterisk, db, carrier, sip_phone
):
    """Daily limit 0.09 EUR at 0.01 EUR/s: 9 seconds. The grants go 4, 8, 9
    seconds; the next extension is refused for the daily limit, the hook
    hears of it, and the call ends at 9 s — by the controller, with
    Asterisk's hard cap at the same second."""
    plan = await per_second_tariff(db)
    daily_limit = 9 * PER_SECOND_MICRO
    rate = (await load_tariff(db, plan)).versions[0].voice_rate(default_numbering_plan().classify("0712345678"))
    expected = max_call_seconds(rate, daily_limit, 3600)
    assert expected == 9
    subscriber = await add_subscriber(db, balance=1_000_000, daily_limit_micro=daily_limit, tariff=plan)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db, admission=Admission(db, chunk_seconds=CHUNK_S),
                                      timing=TIMING)
    answering = AutoAnswer(carrier)
    try:
        phone, caller, answered_at = await connected_call(call_asterisk, sip_phone, plane, subscriber)
        await phone.wait_state("DISCONNECTED", timeout=20)
        lasted = time.monotonic() - answered_at
        assert abs(lasted - expected) < 2, lasted
        assert plane.daily_limit_hits == [subscriber.account_id]
        warning = await plane.log.wait_for("PlaybackStarted", lambda e: e["playback"]["target_uri"] == f"channel:{caller['id']}")
        assert warning["playback"]["media_uri"] == TIMING.warning_media
    finally:
        await answering.close()
        await plane.stop()
    lines, (cdr,) = await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", caller["id"])
    assert expected - 1 <= cdr.billsec <= expected
    report = await ingest_lines(db, lines, CdrSource("clickphone.csv", call_asterisk.settings.asterisk_system_name))
    assert report.cost_micro <= daily_limit and report.settled == 1


async def test_two_calls_competing_for_the_last_credit_never_overspend(call_asterisk, db, carrier, sip_phone):
    """0.10 EUR (10 s at 0.01 EUR/s) and two calls at once from the same
    account: together they are granted, and charged, at most the credit
    (never more than one chunk over it), and the control plane ends both."""
    plan = await per_second_tariff(db)
    balance = 10 * PER_SECOND_MICRO
    subscriber = await add_subscriber(db, balance=balance, endpoints=2, tariff=plan)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db, admission=Admission(db, chunk_seconds=CHUNK_S),
                                      timing=TIMING)
    answering = AutoAnswer(carrier)
    try:
        phones = [await registered_phone(sip_phone, call_asterisk, ep) for ep in subscriber.endpoints]
        started = time.monotonic()
        await asyncio.gather(*(p.call("0712345678") for p in phones))
        await asyncio.gather(*(p.wait_state("CONFIRMED") for p in phones))
        await asyncio.gather(*(p.wait_state("DISCONNECTED", timeout=20) for p in phones))
        assert time.monotonic() - started < 12
        callers = [await stasis_channel_of(plane, ep) for ep in subscriber.endpoints]
        await wait_until(lambda: plane.controller.live() == [])
    finally:
        await answering.close()
        await plane.stop()
    lines = []
    for caller in callers:
        lines += (await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", caller["id"]))[0]
    report = await ingest_lines(db, lines, CdrSource("clickphone.csv", call_asterisk.settings.asterisk_system_name))
    assert report.charged == 2 and report.settled == 2
    assert report.cost_micro <= balance + CHUNK_S * PER_SECOND_MICRO
    assert await ledger.balance_micro(db, subscriber.account_id) >= -CHUNK_S * PER_SECOND_MICRO
    assert await reservations.live_reservations(db, subscriber.account_id) == []
