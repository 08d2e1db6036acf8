"""The control plane dies, restarts, or suspends an account in the middle
of calls (invariants 2 and 3)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from admission.service import Admission
from ari_app.calls import CallTiming
from billing import ledger, reservations
from billing.ingest import CdrSource, ingest_lines
from billing.accounts import SUSPENDED

from .support import (
    EUR,
    PER_SECOND_MICRO,
    AutoAnswer,
    add_subscriber,
    cdr_records,
    connected_call,
    per_second_tariff,
    registered_phone,
    start_control_plane,
    synced,
    wait_until,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]

CHUNK_S = 4
TIMING = CallTiming(extend_before=2.0, warn_before=1.0, orphan_grace=0.5)


async def test_killed_control_plane_leaves_the_call_to_asterisks_hard_cap_and_a_restart_settles_it(
    call_asterisk, db, carrier, sip_phone
):
    """The control plane goes away 1 s into a call granted one 4 s chunk,
    without hanging up: Asterisk's TIMEOUT(absolute) ends the call at 4 s.
    The next control plane finds the live call's channels gone and finishes
    it; CDR ingestion then settles its reservation at what the CDR says."""
    plan = await per_second_tariff(db)
    subscriber = await add_subscriber(db, balance=1 * EUR, tariff=plan)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=CHUNK_S)
    plane = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
    answering = AutoAnswer(carrier)
    try:
        phone, caller, answered_at = await connected_call(call_asterisk, sip_phone, plane, subscriber)
        await asyncio.sleep(0.8)
        await plane.stop(hang_up=False)  # "killed": no hangup, no finish

        await phone.wait_state("DISCONNECTED", timeout=10)
        lasted = time.monotonic() - answered_at
        assert CHUNK_S - 1 < lasted < CHUNK_S + 1.5, lasted
        assert await admission.live_call_refs() == [caller["id"]]  # nobody told admission

        async def no_live_calls() -> bool:
            return not await admission.live_call_refs()

        restarted = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
        try:
            await wait_until(no_live_calls, timeout=5)
        finally:
            await restarted.stop()
    finally:
        await answering.close()
    lines, (cdr,) = await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", caller["id"])
    assert cdr.billsec <= CHUNK_S
    (held,) = await reservations.live_reservations(db, subscriber.account_id)
    report = await ingest_lines(db, lines, CdrSource("clickphone.csv", call_asterisk.settings.asterisk_system_name))
    assert report.settled == 1 and report.cost_micro == cdr.billsec * PER_SECOND_MICRO <= held.amount_micro
    assert await reservations.live_reservations(db, subscriber.account_id) == []


async def test_a_restarted_control_plane_adopts_a_connected_call_and_holds_it_to_its_grant(
    call_asterisk, db, carrier, sip_phone
):
    """Killed 1 s into the call and restarted at once: the new controller
    adopts the call from the channel's record, extends it past the first
    chunk's hard cap, and when the subscriber hangs up it hangs up the
    carrier leg and finishes the live call."""
    plan = await per_second_tariff(db)
    subscriber = await add_subscriber(db, balance=1 * EUR, tariff=plan)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=CHUNK_S)
    plane = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
    answering = AutoAnswer(carrier)
    try:
        phone, caller, answered_at = await connected_call(call_asterisk, sip_phone, plane, subscriber)
        await asyncio.sleep(0.8)
        await plane.stop(hang_up=False)
        restarted = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
        try:
            (adopted,) = await wait_until(restarted.controller.live, timeout=3)
            assert adopted.call_ref == caller["id"] and adopted.connected
            await asyncio.sleep(max(CHUNK_S + 1.5 - (time.monotonic() - answered_at), 0))
            assert phone.state() == "CONFIRMED"  # past the first chunk's cap: extended
            await phone.hangup()
            await carrier.wait_state("DISCONNECTED", call=answering.answered[0], timeout=5)
            await wait_until(lambda: restarted.controller.live() == [])
            assert await admission.live_call_refs() == []
        finally:
            await restarted.stop()
    finally:
        await answering.close()


async def test_suspension_ends_live_paid_calls_at_once_but_not_an_emergency_call(
    call_asterisk, db, carrier, sip_phone, caplog
):
    """Invariant 3: suspending the account ends its paid call at once (by
    the suspension order, not at a chunk's end) while its 112 call goes on,
    held past two of the chunks paid calls are granted in."""
    caplog.set_level(logging.INFO, logger="ari_app.controller")
    subscriber = await add_subscriber(db, balance=5 * EUR, endpoints=2)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=CHUNK_S)
    plane = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
    answering = AutoAnswer(carrier)
    try:
        paid = await registered_phone(sip_phone, call_asterisk, subscriber.endpoints[0])
        emergency = await registered_phone(sip_phone, call_asterisk, subscriber.endpoints[1])
        await paid.call("0212345678")
        await emergency.call("112")
        await asyncio.gather(paid.wait_state("CONFIRMED"), emergency.wait_state("CONFIRMED"))
        confirmed_at = time.monotonic()
        (paid_ref,) = [c.call_ref for c in plane.controller.live() if not c.free]

        await ledger.set_account_status(db, subscriber.account_id, SUSPENDED)
        ended = await plane.controller.end_calls(subscriber.account_id)

        assert ended == 1
        await paid.wait_state("DISCONNECTED", timeout=2)
        # ended by the suspension order, not by running out of its chunk
        assert [r.why for r in caplog.records
                if r.getMessage() == "call ended" and r.call == paid_ref] == ["account_suspended"]
        # the 112 call stays up past two chunk boundaries (a free call wrongly
        # held to a chunk would be hung up at the first or the second)
        hold_until = confirmed_at + 2 * admission.chunk_seconds + 1
        while time.monotonic() < hold_until:
            assert emergency.state() == "CONFIRMED"
            await asyncio.sleep(0.2)
        assert emergency.state() == "CONFIRMED"
        (still,) = plane.controller.live()
        assert still.free
        await emergency.hangup()
        await wait_until(lambda: plane.controller.live() == [])
    finally:
        await answering.close()
        await plane.stop()


async def test_a_restarted_control_plane_hangs_up_a_call_caught_ringing(
    call_asterisk, db, carrier, sip_phone, caplog
):
    """Killed while the carrier leg rings: a call caught ringing cannot be
    resumed, so the next control plane hangs up both the caller and the
    still-ringing leg (the far end stops ringing long before its ring
    timeout) and finishes the live call."""
    caplog.set_level(logging.INFO, logger="ari_app.controller")
    subscriber = await add_subscriber(db, balance=1 * EUR)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=CHUNK_S)
    plane = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
    phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
    await phone.call("0712345678")
    ringing = await carrier.wait_incoming()
    (caller_ref,) = await admission.live_call_refs()
    await plane.stop(hang_up=False)
    restarted = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING)
    try:
        # within seconds, where the ring timeout is a minute (TIMING.dial_timeout)
        await carrier.wait_state("DISCONNECTED", call=ringing, timeout=5)
        await phone.wait_state("DISCONNECTED", timeout=2)
        # hung up by the restarted control plane, not by a timeout: the caller
        # and its ringing leg, the two channels no call of it owns
        orphans = [r.channel for r in caplog.records if r.getMessage() == "hanging up a channel no call owns"]
        assert caller_ref in orphans and len(set(orphans)) == 2
        assert restarted.controller.live() == []

        async def no_live_calls() -> bool:
            return not await admission.live_call_refs()

        await wait_until(no_live_calls, timeout=3)
    finally:
        await restarted.stop()
