"""The ARI event websocket drops while Asterisk and the control plane stay
up: after the client reconnects, the controller's reconciliation catches up
with what happened to its calls meanwhile (the events are lost).

The drop comes from a loopback relay between the control plane's ARI
client and Asterisk (tests/fixtures/tcp_proxy.py): while it is down, the
websocket and every REST request fail. Asterisk, the phones and the
database are real."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pytest

from admission.service import Admission
from ari_app.calls import CALL_VARIABLE, CallTiming
from ari_app.client import RESYNC
from ari_app.errors import AriError
from billing.authorisation import max_call_seconds
from billing.numbering import default_numbering_plan
from billing.tariff_store import load_tariff
from tests.fixtures.ari import channel_is_gone, new_client
from tests.fixtures.tcp_proxy import TcpProxy

from .support import (
    EUR,
    PER_SECOND_MICRO,
    AutoAnswer,
    ControlPlane,
    add_subscriber,
    cdr_records,
    connected_call,
    per_second_tariff,
    start_control_plane,
    synced,
    wait_until,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]

NUMBER = "0712345678"
RECOVERY_S = 3.0  # from the reconnection to the end of a call whose caller left meanwhile
CHUNK_S = 4
TIMING = CallTiming(extend_before=2.0, warn_before=1.0)


@pytest.fixture
async def relay(call_asterisk):
    """A relay to Asterisk's ARI that the test can take down and bring back."""
    target = urlsplit(call_asterisk.ari_url)
    proxy = TcpProxy(target.hostname, target.port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def observer(call_asterisk):
    """A REST-only client straight to Asterisk: the test's own eyes while the relay is down."""
    client = new_client(call_asterisk)
    try:
        yield client
    finally:
        await client.close()


async def take_websocket_down(plane: ControlPlane, relay: TcpProxy) -> None:
    """Cut the control plane's connections and refuse new ones; return once
    its client has noticed and one reconnection attempt has been refused."""
    assert relay.go_down() >= 1  # at least the websocket
    await wait_until(lambda: not plane.client.connected.is_set(), timeout=5)
    await wait_until(lambda: relay.refused >= 1, timeout=5)


async def bring_websocket_back(plane: ControlPlane, relay: TcpProxy) -> dict:
    """Relay again; return the RESYNC of the client's next connection."""
    connection = plane.client.connections + 1
    relay.come_back()
    return await plane.log.wait_for(RESYNC, lambda e: e["connection"] == connection, timeout=10)


async def fully_connected(observer, caller: str) -> None:
    """Wait until the call's connection is complete: its record (``CP_CALL``,
    written with the hard caps, the last step of connecting) is on the
    caller. A drop before that would end the call on a failed request."""

    async def recorded() -> bool:
        try:
            return bool(await observer.get_variable(caller, CALL_VARIABLE))
        except AriError as error:  # not set yet
            if error.status == 404:
                return False
            raise

    await wait_until(recorded)


async def no_live_calls(admission: Admission) -> bool:
    return not await admission.live_call_refs()


async def bridge_exists(client, bridge_id: str) -> bool:
    try:
        await client.request("GET", f"/bridges/{bridge_id}")
    except AriError as error:
        if error.status == 404:
            return False
        raise
    return True


async def test_a_caller_hanging_up_while_the_websocket_is_down_has_its_call_ended_on_reconnection(
    call_asterisk, db, carrier, sip_phone, relay, observer
):
    """The subscriber hangs up a connected carrier call while the event
    websocket is down, so the control plane never hears the caller's
    StasisEnd. Within 3 s of the reconnection, reconciliation ends the
    call as if it had: the carrier leg is hung up (not left talking to
    nobody, on the subscriber's money), the bridge is destroyed and
    admission's live call is finished (it would count against the
    account's concurrent-call limit)."""
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=300)
    plane = await start_control_plane(call_asterisk, db, admission=admission, ari_url=relay.url)
    answering = AutoAnswer(carrier)
    try:
        phone, caller_channel, _ = await connected_call(call_asterisk, sip_phone, plane, subscriber, NUMBER)
        caller = caller_channel["id"]
        (carrier_call,) = await wait_until(lambda: answering.answered)
        await fully_connected(observer, caller)
        (call,) = plane.controller.live()
        bridge = f"{caller}-bridge"
        assert await admission.live_call_refs() == [caller]

        await take_websocket_down(plane, relay)
        await phone.hangup()
        await phone.wait_state("DISCONNECTED")
        assert await channel_is_gone(observer, caller, timeout=5)
        # nobody told the control plane: the carrier leg talks on, the call is still live
        assert carrier.state(carrier_call) == "CONFIRMED"
        assert [c.call_ref for c in plane.controller.live()] == [caller]

        resync = await bring_websocket_back(plane, relay)
        back_at = plane.log.time_of(resync)
        assert caller not in resync["channel_ids"] and set(resync["channel_ids"]) == call.channels - {caller}

        await carrier.wait_state("DISCONNECTED", call=carrier_call, timeout=RECOVERY_S + 2)
        await wait_until(lambda: plane.controller.live() == [], timeout=RECOVERY_S + 2)
        assert await wait_until(lambda: no_live_calls(admission), timeout=RECOVERY_S + 2)
        recovered_s = time.monotonic() - back_at
        print(f"call ended {recovered_s:.3f} s after the reconnection")
        assert recovered_s < RECOVERY_S
        assert not await bridge_exists(observer, bridge)
        # the control plane's client really lost the caller's StasisEnd
        assert not any(e["type"] == "StasisEnd" and e["channel"]["id"] == caller for e in plane.log.events)
    finally:
        await answering.close()
        await plane.stop()


async def test_a_call_that_outlives_a_websocket_drop_is_kept_and_still_held_to_its_grant(
    call_asterisk, db, carrier, sip_phone, relay
):
    """A daily limit of 9 s at 0.01 EUR/s, 4 s chunks: the grant goes 4, 8,
    9 s. Between the first extension and the second, the websocket drops and
    comes back; both parties stay on. The call is kept (not hung up, not
    adopted anew), the second extension and the end-of-call warning still
    happen, and it ends at 9 s — past the 8 s cap of the grant it had
    during the drop — billed at most the 9 granted seconds."""
    plan = await per_second_tariff(db)
    daily_limit = 9 * PER_SECOND_MICRO
    rate = (await load_tariff(db, plan)).versions[0].voice_rate(default_numbering_plan().classify(NUMBER))
    expected = max_call_seconds(rate, daily_limit, 3600)
    assert expected == 9
    subscriber = await add_subscriber(db, balance=1 * EUR, daily_limit_micro=daily_limit, tariff=plan)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=CHUNK_S)
    plane = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING, ari_url=relay.url)
    answering = AutoAnswer(carrier)
    try:
        phone, caller_channel, answered_at = await connected_call(call_asterisk, sip_phone, plane, subscriber,
                                                                  NUMBER)
        caller = caller_channel["id"]
        (carrier_call,) = await wait_until(lambda: answering.answered)
        # extended once (to 8 s) before the drop; the next extension is due at 6 s
        await wait_until(lambda: [c for c in plane.controller.live() if c.granted_seconds == 2 * CHUNK_S],
                         timeout=CHUNK_S)

        await take_websocket_down(plane, relay)
        resync = await bring_websocket_back(plane, relay)
        back_after_s = plane.log.time_of(resync) - answered_at
        print(f"websocket back {back_after_s:.3f} s into the call")
        assert back_after_s < 2 * CHUNK_S - TIMING.extend_before  # the drop did not overlap an extension

        (kept,) = plane.controller.live()
        assert kept.call_ref == caller and kept.connected
        assert set(resync["channel_ids"]) == kept.channels
        assert phone.state() == "CONFIRMED" and carrier.state(carrier_call) == "CONFIRMED"

        await phone.wait_state("DISCONNECTED", timeout=20)
        lasted = time.monotonic() - answered_at
        print(f"call lasted {lasted:.3f} s of {expected} granted")
        assert abs(lasted - expected) < 1.5, lasted
        assert plane.daily_limit_hits == [subscriber.account_id]  # the extension after the drop
        warning = await plane.log.wait_for(
            "PlaybackStarted", lambda e: e["playback"]["target_uri"] == f"channel:{caller}")
        assert plane.log.time_of(warning) > plane.log.time_of(resync)
        await carrier.wait_state("DISCONNECTED", call=carrier_call, timeout=5)
        await wait_until(lambda: plane.controller.live() == [])
        assert await wait_until(lambda: no_live_calls(admission))
    finally:
        await answering.close()
        await plane.stop()
    _, (cdr,) = await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", caller)
    assert expected - 1 <= cdr.billsec <= expected


async def test_an_extended_hard_cap_that_could_not_reach_asterisk_is_sent_again(
    call_asterisk, db, carrier, sip_phone, relay
):
    """4 s chunks, the extension due at 2 s. ARI is unreachable from 1 s to
    3 s, so the extension's new hard cap (8 s) cannot be written: it is sent
    again until it lands, and the call outlives the first chunk's cap
    (4 s), which would otherwise end it in Asterisk."""
    plan = await per_second_tariff(db)
    subscriber = await add_subscriber(db, balance=1 * EUR, tariff=plan)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=CHUNK_S)
    plane = await start_control_plane(call_asterisk, db, admission=admission, timing=TIMING, ari_url=relay.url)
    answering = AutoAnswer(carrier)
    try:
        phone, caller_channel, answered_at = await connected_call(call_asterisk, sip_phone, plane, subscriber,
                                                                  NUMBER)
        caller = caller_channel["id"]
        (carrier_call,) = await wait_until(lambda: answering.answered)
        await wait_until(lambda: plane.controller.live() and plane.controller.live()[0].connected)
        await asyncio.sleep(max(1.0 - (time.monotonic() - answered_at), 0))

        await take_websocket_down(plane, relay)
        await wait_until(lambda: plane.controller.live()[0].granted_seconds == 2 * CHUNK_S, timeout=3)
        await asyncio.sleep(max(3.0 - (time.monotonic() - answered_at), 0))
        await bring_websocket_back(plane, relay)

        await asyncio.sleep(CHUNK_S + 1.5 - (time.monotonic() - answered_at))
        assert phone.state() == "CONFIRMED" and carrier.state(carrier_call) == "CONFIRMED"
        await phone.hangup()
        await carrier.wait_state("DISCONNECTED", call=carrier_call, timeout=5)
        await wait_until(lambda: plane.controller.live() == [])
    finally:
        await answering.close()
        await plane.stop()
    _, (cdr,) = await cdr_records(call_asterisk.testbed.cdr_dir / "clickphone.csv", caller)
    assert cdr.billsec > CHUNK_S
