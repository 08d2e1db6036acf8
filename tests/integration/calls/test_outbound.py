"""Outbound calls through the real testbed: a subscriber's pjsua2 phone
dials, the control plane decides over ARI, a pjsua2 phone at the carrier
trunk's address answers. Invariants 2 (no overspend, hard cap) and 3
(112, 116xxx, 0800 always connected and free)."""

from __future__ import annotations

import asyncio

import pytest

from admission.policy import AccountPolicy, parse_networks
from admission.service import set_account_policy
from ari_app.calls import CallTiming
from billing import ledger, reservations
from billing.ingest import CdrSource, ingest_lines
from billing.accounts import SUSPENDED

from .support import (
    EUR,
    AutoAnswer,
    add_subscriber,
    cdr_records,
    registered_phone,
    start_control_plane,
    stasis_channel_of,
    synced,
    wait_until,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.both_databases, pytest.mark.timeout(60)]


def cdr_file(asterisk):
    return asterisk.testbed.cdr_dir / "clickphone.csv"


async def ingest(db, asterisk, lines):
    return await ingest_lines(db, lines, CdrSource("clickphone.csv", asterisk.settings.asterisk_system_name))


def carrier_heard(carrier, number: str) -> bool:
    """True if the carrier phone received an INVITE for ``number``."""
    return f"INVITE sip:{number}@" in carrier.log_path.read_text(errors="replace")


async def test_allowed_mobile_call_connects_through_the_carrier_and_its_one_cdr_is_rated(
    call_asterisk, db, carrier, sip_phone
):
    """A 2 s call to a Romanian mobile: the carrier gets the E.164 number,
    the caller's CDR (the only one) says allowed/ro_mobile with the account
    code, and ingesting it charges the first minute whole (0.025 EUR) and
    settles the call's reservation."""
    subscriber = await add_subscriber(db, balance=1 * EUR)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    answering = AutoAnswer(carrier)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call("0712345678")
        await phone.wait_state("CONFIRMED")
        caller = await stasis_channel_of(plane, subscriber.endpoint)
        assert carrier_heard(carrier, "40712345678")
        assert await plane.admission.live_call_refs() == [caller["id"]]
        await asyncio.sleep(2.0)
        await phone.hangup()
        await carrier.wait_state("DISCONNECTED", call=answering.answered[0])
        await wait_until(lambda: plane.controller.live() == [])
        assert await plane.admission.live_call_refs() == []
    finally:
        await answering.close()
        await plane.stop()

    lines, records = await cdr_records(cdr_file(call_asterisk), caller["id"])
    (record,) = records
    assert (record.accountcode, record.userfield, record.cp_class) == (subscriber.account_code, "allowed", "ro_mobile")
    assert record.answered and 2 <= record.billsec <= 3 and record.dstchannel.startswith("PJSIP/carrier-")
    report = await ingest(db, call_asterisk, lines)
    assert (report.charged, report.settled, report.cost_micro) == (1, 1, 25_000)
    assert await ledger.balance_micro(db, subscriber.account_id) == 1 * EUR - 25_000
    assert await reservations.live_reservations(db, subscriber.account_id) == []


async def test_a_connected_call_costs_asterisk_a_dozen_requests_and_no_event_no_flow_reads(
    call_asterisk, db, carrier, sip_phone
):
    """Each ARI request costs Asterisk a check of the ARI password (a crypt
    hash: milliseconds of CPU) and each event a JSON encoding. A call from
    a phone, connected and hung up, takes: the caller's source address,
    the decision on its CDR with its ring-time cap (one request), the
    carrier leg created and dialled, ringing (when the carrier rings first),
    answer, bridge, both hard caps (the caller's with its call record), and
    the teardown's hangup and bridge. The control plane is sent none of the
    ChannelVarset or ChannelDialplan events no flow reads."""
    subscriber = await add_subscriber(db, balance=1 * EUR)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    sent: list[str] = []
    request = plane.client.request

    async def counted(method, path, **kwargs):
        if path.startswith(("/channels", "/bridges")):  # the call's (not the reconciliation's)
            sent.append(f"{method} {path}")
        return await request(method, path, **kwargs)

    plane.client.request = counted
    answering = AutoAnswer(carrier)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call("0712345678")
        await phone.wait_state("CONFIRMED")
        await stasis_channel_of(plane, subscriber.endpoint)
        await asyncio.sleep(0.5)
        await phone.hangup()
        await wait_until(lambda: plane.controller.live() == [])
    finally:
        await answering.close()
        await plane.stop()
    assert len(sent) <= 12, "\n".join(sent)
    assert not {e["type"] for e in plane.log.events} & {"ChannelVarset", "ChannelDialplan"}


async def refused_call(plane, phone, endpoint, number: str):
    """Dial ``number``; return (the phone's call record, the caller channel)
    once the call has ended."""
    await phone.call(number)
    record = await phone.wait_state("DISCONNECTED", timeout=15)
    caller = await stasis_channel_of(plane, endpoint)
    return record, caller


async def test_zero_balance_call_is_refused_with_an_announcement_and_never_reaches_the_carrier(
    call_asterisk, db, carrier, sip_phone
):
    """The phone hears the announcement as early media (183, never
    answered: nothing to bill) and gets 403, Asterisk's SIP status for the
    reason's cause 21; the CDR records the refusal."""
    subscriber = await add_subscriber(db, balance=0)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        record, caller = await refused_call(plane, phone, subscriber.endpoint, "0712345678")
        assert "EARLY" in record.states and "CONFIRMED" not in record.states
        assert record.code == 403
        assert not carrier.calls and not carrier_heard(carrier, "40712345678")
    finally:
        await plane.stop()
    _, (cdr,) = await cdr_records(cdr_file(call_asterisk), caller["id"])
    assert (cdr.userfield, cdr.disposition, cdr.billsec) == ("refused:insufficient_credit", "NO ANSWER", 0)


@pytest.mark.parametrize("dialled,sent,number_class", [("112", "112", "emergency"),
                                                      ("0800123456", "40800123456", "toll_free"),
                                                      ("116111", "116111", "social")])
async def test_emergency_and_toll_free_connect_at_zero_balance_while_suspended_and_cost_nothing(
    call_asterisk, db, carrier, sip_phone, dialled, sent, number_class
):
    """Invariant 3: 112, 0800 and 116xxx (social) calls of a suspended
    subscriber at zero balance reach the carrier and cost nothing."""
    subscriber = await add_subscriber(db, balance=0)
    await ledger.set_account_status(db, subscriber.account_id, SUSPENDED)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    answering = AutoAnswer(carrier)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call(dialled)
        await phone.wait_state("CONFIRMED")
        caller = await stasis_channel_of(plane, subscriber.endpoint)
        assert carrier_heard(carrier, sent)
        (info,) = plane.controller.live()
        assert info.free and info.connected
        await asyncio.sleep(1.2)
        await phone.hangup()
        await carrier.wait_state("DISCONNECTED", call=answering.answered[0])
    finally:
        await answering.close()
        await plane.stop()
    lines, (cdr,) = await cdr_records(cdr_file(call_asterisk), caller["id"])
    assert (cdr.userfield, cdr.cp_class) == ("allowed", number_class) and cdr.billsec >= 1
    report = await ingest(db, call_asterisk, lines)
    assert (report.charged, report.cost_micro) == (1, 0)


async def test_premium_number_is_refused_unless_enabled(call_asterisk, db, carrier, sip_phone):
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        record, caller = await refused_call(plane, phone, subscriber.endpoint, "0900123456")
        assert record.code == 403 and not carrier.calls
    finally:
        await plane.stop()
    _, (cdr,) = await cdr_records(cdr_file(call_asterisk), caller["id"])
    assert cdr.userfield == "refused:premium_not_enabled"


async def test_call_from_outside_the_allowlist_is_refused_by_admission(call_asterisk, db, carrier, sip_phone):
    """The admission path on its own: the allowlist is stored after the last
    sync, so Asterisk's ACL (see test_asterisk_sync) does not stop the call
    first; admission reads the SIP source address and refuses it."""
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    await set_account_policy(db, subscriber.account_id, AccountPolicy(allowed_networks=parse_networks("10.0.0.0/8")))
    plane = await start_control_plane(call_asterisk, db)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        record, caller = await refused_call(plane, phone, subscriber.endpoint, "0212345678")
        assert record.code == 403 and not carrier.calls
    finally:
        await plane.stop()
    _, (cdr,) = await cdr_records(cdr_file(call_asterisk), caller["id"])
    assert cdr.userfield == "refused:source_not_allowed"


async def test_busy_carrier_hangs_up_the_caller_busy(call_asterisk, db, carrier, sip_phone):
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    answering = AutoAnswer(carrier, code=486)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call("0212345678")
        record = await phone.wait_state("DISCONNECTED")
        assert record.code == 486
        await wait_until(lambda: plane.controller.live() == [])
        assert await plane.admission.live_call_refs() == []
    finally:
        await answering.close()
        await plane.stop()


async def test_carrier_that_rings_out_hangs_up_the_caller_no_answer(call_asterisk, db, carrier, sip_phone):
    """The carrier rings and never answers: after the dial timeout (2 s
    here) the carrier's INVITE is cancelled and the caller gets cause 19
    (SIP 480); the caller heard ringing meanwhile."""
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db, timing=CallTiming(dial_timeout=2))
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call("0212345678")
        ringing = await carrier.wait_incoming()
        record = await phone.wait_state("DISCONNECTED", timeout=8)
        assert record.code == 480 and "EARLY" in record.states
        await carrier.wait_state("DISCONNECTED", call=ringing)
        await wait_until(lambda: plane.controller.live() == [])
        assert await plane.admission.live_call_refs() == []
    finally:
        await plane.stop()


async def test_concurrent_call_limit_holds(call_asterisk, db, carrier, sip_phone):
    """One call at a time: the second phone of the account is refused with
    cause 34 (SIP 503) while the first call is up."""
    subscriber = await add_subscriber(db, balance=5 * EUR, endpoints=2, max_concurrent_calls=1)
    await synced(db, call_asterisk)
    plane = await start_control_plane(call_asterisk, db)
    answering = AutoAnswer(carrier)
    try:
        first = await registered_phone(sip_phone, call_asterisk, subscriber.endpoints[0])
        second = await registered_phone(sip_phone, call_asterisk, subscriber.endpoints[1])
        await first.call("0212345678")
        await first.wait_state("CONFIRMED")
        record, caller = await refused_call(plane, second, subscriber.endpoints[1], "0212345679")
        assert record.code == 503 and len(carrier.calls) == 1
        await first.hangup()
        await wait_until(lambda: plane.controller.live() == [])
    finally:
        await answering.close()
        await plane.stop()
    _, (cdr,) = await cdr_records(cdr_file(call_asterisk), caller["id"])
    assert cdr.userfield == "refused:too_many_calls"
