"""Calls to our own numbers: on-net calls between subscribers, and inbound
calls from the carrier to a DID."""

from __future__ import annotations

import asyncio

import pytest

from admission.service import Admission
from billing.ingest import CdrSource, ingest_lines
from provisioning import services as provisioning

from .support import add_subscriber, cdr_records, registered_phone, start_control_plane, stasis_channel_of, synced, wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]


async def test_on_net_call_rings_the_callees_phones_is_bridged_and_free(call_asterisk, db, carrier, sip_phone):
    """A subscriber without credit calls another's DID: both of the callee's
    phones ring showing the caller's name and number, the first to answer
    gets the call (the other stops ringing), the carrier is never involved,
    and the CDR costs nothing."""
    caller_sub = await add_subscriber(db, balance=0)
    callee_sub = await add_subscriber(db, endpoints=2)
    await provisioning.add_did(db, number="40318880002", subscriber_id=callee_sub.id)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db, admission=Admission(db))
    try:
        caller = await registered_phone(sip_phone, call_asterisk, caller_sub.endpoint)
        callees = [await registered_phone(sip_phone, call_asterisk, ep) for ep in callee_sub.endpoints]
        await caller.call("0318880002")
        rung = await asyncio.gather(*(c.wait_incoming() for c in callees))
        shown = caller_sub.endpoints[0]
        for callee, key in zip(callees, rung):
            assert f'"{shown.display_name}" <sip:{shown.caller_id_number}@' in callee.calls[key].remote_uri
        await callees[1].answer(rung[1])
        await asyncio.gather(caller.wait_state("CONFIRMED"), callees[1].wait_state("CONFIRMED"))
        await callees[0].wait_state("DISCONNECTED", call=rung[0])
        assert not carrier.calls
        (info,) = plane.controller.live()
        assert info.free and info.connected
        channel = await stasis_channel_of(plane, caller_sub.endpoint)
        await asyncio.sleep(1.2)
        await callees[1].hangup()
        await caller.wait_state("DISCONNECTED")
        await wait_until(lambda: plane.controller.live() == [])
    finally:
        await plane.stop()
    lines, (cdr,) = await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", channel["id"])
    assert (cdr.userfield, cdr.cp_class, cdr.accountcode) == ("allowed", "on_net", caller_sub.account_code)
    assert cdr.answered and cdr.billsec >= 1
    report = await ingest_lines(db, lines, CdrSource("clickphone.csv", call_asterisk.settings.asterisk_system_name),
                                on_net=frozenset({"40318880002"}))
    assert (report.charged, report.cost_micro) == (1, 0)


async def test_inbound_call_to_a_did_is_answered_by_the_subscribers_phone(call_asterisk, db, carrier, sip_phone):
    subscriber = await add_subscriber(db)
    await provisioning.add_did(db, number="40318880003", subscriber_id=subscriber.id)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await carrier.call(f"sip:+40318880003@127.0.0.1:{call_asterisk.sip_port}")
        incoming = await phone.wait_incoming()
        await phone.answer(incoming)
        await asyncio.gather(carrier.wait_state("CONFIRMED"), phone.wait_state("CONFIRMED"))
        (info,) = plane.controller.live()
        assert info.direction == "inbound" and info.connected
        await carrier.hangup()
        await phone.wait_state("DISCONNECTED")
        await wait_until(lambda: plane.controller.live() == [])
        # the CDR is the called subscriber's, for the DID: on-net, free, not quarantined
        _, (record,) = await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", info.call_ref)
        assert (record.accountcode, record.dialled) == (subscriber.account_code, "40318880003")
    finally:
        await plane.stop()


async def test_unanswered_inbound_call_goes_to_the_handover_hook_with_why_no_answer(
    call_asterisk, db, carrier, sip_phone
):
    """The DID rings 5 s; the phone rings but nobody answers: the handover
    hook gets the caller channel, the DID and "no_answer", and then the
    caller is released with cause 19 (SIP 480)."""
    subscriber = await add_subscriber(db)
    await provisioning.add_did(db, number="40318880004", subscriber_id=subscriber.id, ring_seconds=5)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await carrier.call(f"sip:40318880004@127.0.0.1:{call_asterisk.sip_port}")
        await phone.wait_incoming()
        record = await carrier.wait_state("DISCONNECTED", timeout=10)
        assert record.code == 480
        ((caller_channel, did, why),) = plane.unanswered
        assert (did, why) == ("40318880004", "no_answer")
        assert caller_channel.startswith(call_asterisk.settings.asterisk_system_name)
    finally:
        await plane.stop()


async def test_caller_hanging_up_while_the_did_rings_is_reported_as_one_missed_call(
    call_asterisk, db, carrier, sip_phone
):
    """The caller gives up after about 2 s of ringing: the missed-call hook
    (the missed-call email) gets the caller, the DID and the ring time, once;
    the handover hook (voicemail) is not called."""
    subscriber = await add_subscriber(db)
    await provisioning.add_did(db, number="40318880005", subscriber_id=subscriber.id, ring_seconds=20)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await carrier.call(f"sip:40318880005@127.0.0.1:{call_asterisk.sip_port}")
        await phone.wait_incoming()
        await asyncio.sleep(2)
        await carrier.hangup()
        await phone.wait_state("DISCONNECTED", timeout=5)
        await wait_until(lambda: plane.missed)
        ((caller_channel, did, rang),) = plane.missed
        assert did == "40318880005" and 1 <= rang <= 4
        assert plane.unanswered == []
    finally:
        await plane.stop()


async def test_inbound_call_to_a_number_that_is_not_ours_is_refused_unallocated(call_asterisk, db, carrier, sip_phone):
    await add_subscriber(db)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    try:
        await carrier.call(f"sip:40318889999@127.0.0.1:{call_asterisk.sip_port}")
        record = await carrier.wait_state("DISCONNECTED", timeout=5)
        assert record.code == 404
        assert plane.unanswered == []
    finally:
        await plane.stop()
