"""The dialplan path (FastAGI ``admit``) decides exactly as admission does,
on a real Asterisk with real SIP phones.

Each case places a real call from a pjsua2 phone whose endpoint enters the
``clickphone-agi`` context, reads back the CP_* variables the channel holds
after ``admit``, and compares them with ``Admission.decide`` for the same
endpoint, source address and number. Invariant 3 (112 always connected and
free), invariant 2 (Asterisk's own hard cap ends the call at its grant).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time

import pytest

from admission.policy import AccountPolicy
from admission.service import Admission, CallRequest, Decision, set_account_policy
from billing import reservations
from ari_app.client import AriClient
from ari_app.controller import CallController
from billing.cdr_format import parse_cdr_stream

from .conftest import CARRIER_ADDRESS, account_for

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]

EUR = 1_000_000
PHONE_ADDRESS = "127.0.0.1"  # where the pjsua2 phones send from
_refs = itertools.count(1)


async def expected_decision(admission: Admission, endpoint: str, number: str) -> Decision:
    """What admission decides for these inputs, in-process; whatever it
    held is given back so the real call meets the same state."""
    decision = await admission.decide(CallRequest(f"direct-{next(_refs)}", endpoint, PHONE_ADDRESS, number))
    await admission.finish(decision.call_ref)
    if decision.reservation_id is not None:
        await reservations.release(admission.engine, decision.reservation_id)
    return decision


async def dial(phone, number: str):
    await phone.register()
    return await phone.call(number)


async def admitted(plane, timeout: float = 10.0) -> tuple[str, dict]:
    """Wait for the first ``admit`` of the test; return (uniqueid, variables)."""
    deadline = time.monotonic() + timeout
    while not plane.seen:
        if time.monotonic() > deadline:
            raise AssertionError("no FastAGI admit within the timeout")
        await asyncio.sleep(0.05)
    return next(iter(plane.seen.items()))


async def ended(phone, timeout: float = 15.0):
    record = await phone.wait_state("DISCONNECTED", timeout=timeout)
    return record


async def cdr_of(agi_testbed, uniqueid: str, timeout: float = 10.0):
    path = agi_testbed.testbed.cdr_dir / "clickphone.csv"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [line for line in path.read_text().splitlines(keepends=True) if uniqueid in line]
            if lines:
                records = [r for _, r in parse_cdr_stream(lines, "clickphone") if r.uniqueid == uniqueid]
                if records:
                    return records[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no CDR for {uniqueid}")


def assert_same_decision(variables: dict, expected: Decision) -> None:
    assert variables["CP_ADMIT"] == ("yes" if expected.allowed else "no")
    assert variables["CP_REASON"] == (expected.reason.code if expected.reason else "")
    assert variables["CP_CLASS"] == expected.number_class
    assert variables["CDR(cp_class)"] == expected.number_class
    assert int(variables["CP_MAXSECONDS"]) == (expected.max_seconds if expected.allowed else 0)
    if expected.reason:
        assert variables["CP_SOUND"] == expected.reason.sound
        assert variables["CP_CAUSE"] == str(expected.reason.q850_cause)


async def test_zero_balance_mobile_is_refused_for_credit_as_admission_decides(agi_testbed, plane, sip_phone, carrier):
    endpoint = agi_testbed.endpoints[0]
    await account_for(plane.engine, endpoint)
    expected = await expected_decision(plane.admission, endpoint.username, "0712345678")
    assert expected.reason.code == "insufficient_credit"

    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0712345678")
    uniqueid, variables = await admitted(plane)
    assert_same_decision(variables, expected)
    assert variables["CDR(userfield)"] == "refused;reason=insufficient_credit"
    record = await ended(phone)
    assert record.code == 403  # Hangup(21), "call rejected"
    assert not carrier.calls
    cdr = await cdr_of(agi_testbed, uniqueid)
    assert (cdr.userfield, cdr.cp_class, cdr.accountcode) == (
        "refused;reason=insufficient_credit", "ro_mobile", endpoint.account_code)
    assert cdr.cp_dialled == "0712345678"


async def test_emergency_number_connects_at_zero_balance_free(agi_testbed, plane, sip_phone, carrier):
    """Invariant 3: 112 goes to the carrier although the account has nothing."""
    endpoint = agi_testbed.endpoints[0]
    await account_for(plane.engine, endpoint)
    expected = await expected_decision(plane.admission, endpoint.username, "112")
    assert expected.allowed and expected.free

    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "112")
    uniqueid, variables = await admitted(plane)
    assert_same_decision(variables, expected)
    assert variables["CP_MAXSECONDS"] == "3600" and variables["CP_RESERVATION"] == ""
    assert variables["CDR(userfield)"] == "allowed;free;max=3600"
    incoming = await carrier.wait_incoming()
    assert f"INVITE sip:112@{CARRIER_ADDRESS}" in carrier.log_path.read_text()
    await carrier.answer(incoming)
    await phone.wait_state("CONFIRMED")
    await phone.hangup()
    await ended(phone)
    await wait_until(lambda: uniqueid in plane.finished)
    assert await plane.admission.live_call_refs() == []


async def test_premium_number_is_refused_unless_enabled(agi_testbed, plane, sip_phone, carrier):
    endpoint = agi_testbed.endpoints[0]
    await account_for(plane.engine, endpoint, balance_micro=5 * EUR)
    expected = await expected_decision(plane.admission, endpoint.username, "0900123456")
    assert expected.reason.code == "premium_not_enabled"

    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0900123456")
    _, variables = await admitted(plane)
    assert_same_decision(variables, expected)
    assert (await ended(phone)).code == 403
    assert not carrier.calls


async def test_call_from_outside_the_allowlist_is_refused(agi_testbed, plane, sip_phone, carrier):
    """The source address is the SIP packet's (CHANNEL(pjsip,remote_addr)),
    not anything the phone says about itself."""
    endpoint = agi_testbed.endpoints[0]
    account = await account_for(plane.engine, endpoint, balance_micro=5 * EUR)
    await set_account_policy(plane.engine, account.id, AccountPolicy(
        allowed_networks=(ipaddress.ip_network("192.0.2.0/24"),)))
    expected = await expected_decision(plane.admission, endpoint.username, "0212345678")
    assert expected.reason.code == "source_not_allowed"

    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0212345678")
    _, variables = await admitted(plane)
    assert_same_decision(variables, expected)
    assert variables["CP_SOUND"] == "ss-noservice"
    assert (await ended(phone)).code == 403
    assert not carrier.calls


async def test_call_from_inside_the_allowlist_is_allowed(agi_testbed, plane, sip_phone, carrier):
    endpoint = agi_testbed.endpoints[0]
    account = await account_for(plane.engine, endpoint, balance_micro=5 * EUR)
    await set_account_policy(plane.engine, account.id, AccountPolicy(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/30"),)))
    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0212345678")
    _, variables = await admitted(plane)
    assert variables["CP_ADMIT"] == "yes"
    await carrier.wait_incoming()
    await phone.hangup()
    await ended(phone)


async def test_allowed_mobile_call_is_dialled_with_the_grant_admission_gives(agi_testbed, plane, sip_phone, carrier):
    endpoint = agi_testbed.endpoints[1]
    account = await account_for(plane.engine, endpoint, balance_micro=5 * EUR)
    expected = await expected_decision(plane.admission, endpoint.username, "0712345678")
    assert expected.allowed and expected.max_seconds == 300

    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0712345678")
    uniqueid, variables = await admitted(plane)
    assert_same_decision(variables, expected)
    held = await reservations.get_reservation(plane.engine, int(variables["CP_RESERVATION"]))
    assert (held.call_reference, held.account_id, held.state) == (uniqueid, account.id, "live")
    assert variables["CDR(userfield)"] == f"allowed;max=300;reservation={held.id}"
    assert await plane.admission.live_call_refs(account.id) == [uniqueid]

    incoming = await carrier.wait_incoming()
    await carrier.answer(incoming)
    await phone.wait_state("CONFIRMED")
    await phone.hangup()
    await ended(phone)
    await wait_until(lambda: uniqueid in plane.finished)
    assert await plane.admission.live_call_refs() == []
    cdr = await cdr_of(agi_testbed, uniqueid)
    assert cdr.userfield == f"allowed;max=300;reservation={held.id}" and cdr.cp_class == "ro_mobile"
    assert cdr.answered


async def test_asterisk_ends_the_call_at_the_end_of_its_grant(agi_testbed, plane, sip_phone, carrier):
    """Invariant 2's hard cap: Dial's L() ends the call when its grant runs
    out, with no help from the control plane."""
    endpoint = agi_testbed.endpoints[1]
    await account_for(plane.engine, endpoint, balance_micro=5 * EUR)
    await plane.start_agi(agi_testbed.agi_port, agi_testbed.settings.agi_secret, Admission(plane.engine, chunk_seconds=3))
    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0712345678")
    uniqueid, variables = await admitted(plane)
    assert variables["CP_MAXSECONDS"] == "3"
    await plane.stop_agi()  # the control plane is gone: Asterisk alone must end the call
    incoming = await carrier.wait_incoming()
    await carrier.answer(incoming)
    await phone.wait_state("CONFIRMED")
    answered_at = time.monotonic()
    await ended(phone, timeout=10)
    assert 2.5 <= time.monotonic() - answered_at <= 5
    cdr = await cdr_of(agi_testbed, uniqueid)
    assert 2 <= cdr.billsec <= 4


async def test_without_the_control_plane_112_still_connects_and_paid_calls_are_refused(
    agi_testbed, plane, sip_phone, carrier
):
    """Invariant 3 holds even when the FastAGI server cannot be reached;
    any other call is refused as congestion (503)."""
    await plane.stop_agi()
    endpoint = agi_testbed.endpoints[0]
    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await phone.register()
    await phone.call("0712345678")
    assert (await ended(phone)).code == 503
    emergency = await phone.call("112")
    incoming = await carrier.wait_incoming()
    await carrier.answer(incoming)
    await phone.wait_state("CONFIRMED", call=emergency)
    await phone.hangup(emergency)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_ari_reconciliation_keeps_live_fastagi_calls_and_finishes_those_whose_channel_is_gone(
    agi_testbed, plane, sip_phone, carrier
):
    """Issue 10 defect 5: after an ARI (re)connect, reconciliation checks
    admission's live calls against every channel Asterisk has: a FastAGI
    call still up (its channel is never in the Stasis application) stays
    live; one whose hangup never reached the control plane is finished."""
    endpoint = agi_testbed.endpoints[0]
    await account_for(plane.engine, endpoint, balance_micro=5 * EUR)
    phone = await sip_phone(endpoint, registrar_port=agi_testbed.sip_port)
    await dial(phone, "0712345678")
    uniqueid, variables = await admitted(plane)
    assert variables["CP_ADMIT"] == "yes"
    await carrier.answer(await carrier.wait_incoming())
    await phone.wait_state("CONFIRMED")
    settings = agi_testbed.settings
    lost = await plane.admission.decide(CallRequest(
        f"{settings.asterisk_system_name}-1700000000.999", endpoint.username, PHONE_ADDRESS, "0712345678"))
    assert lost.allowed and uniqueid.startswith(f"{settings.asterisk_system_name}-")

    client = AriClient(agi_testbed.testbed.ari_url, settings.ari_username, settings.ari_password, settings.ari_app)
    controller = CallController(client, plane.admission, plane.engine)
    try:
        await controller.reconcile([])  # what a RESYNC with no channel in the application does
        assert await plane.admission.live_call_refs() == [uniqueid]
    finally:
        await controller.stop(hang_up=False)
        await client.close()
        await phone.hangup()
        await ended(phone)
