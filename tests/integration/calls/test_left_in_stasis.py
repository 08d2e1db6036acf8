"""A caller is never left in the Stasis application because one hangup
request did not reach ARI.

When a call ends, the controller's teardown hangs up what is left of it.
If that request is lost (a connection reset while Asterisk restarts its
HTTP server, a dropped keep-alive connection), the caller would wait in
the application with nobody to end it — and a refused call has no hard
cap to end it either. The teardown sends the hangup again after a short
backoff; these tests hold that against a real Asterisk and a real phone.

The one stand-in is the ARI client's failure: the real client, whose
first hangup raises the connection error the client raises when ARI
cannot be reached — a fault a real Asterisk does not produce on demand.
"""

from __future__ import annotations

import pytest

from admission.service import Admission
from ari_app.client import ANY_EVENT, AriClient
from ari_app.controller import CallController
from ari_app.errors import AriConnectionError
from ari_app.stasis import StasisApp
from tests.fixtures.ari import EventLog, hang_up_quietly

from .support import (
    EUR,
    AutoAnswer,
    add_subscriber,
    connected_call,
    registered_phone,
    stasis_channel_of,
    synced,
    wait_until,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]

# The teardown's retries end within 0.2 + 1 + 3 s: the channel must be gone by then.
GONE_WITHIN_S = 6.0


class FirstHangupLost(AriClient):
    """The real ARI client, except that its first hangup request does not
    reach ARI: it raises AriConnectionError, as the client does when the
    connection is refused or reset. Every other request is the real one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lost_hangups: list[str] = []

    async def hangup(self, channel_id: str, reason: str | None = None, *, reason_code: str | None = None) -> None:
        if not self.lost_hangups:
            self.lost_hangups.append(channel_id)
            raise AriConnectionError(f"cannot reach ARI at {self.base_url} (DELETE /channels/{channel_id}): "
                                     "connection reset by peer")
        await super().hangup(channel_id, reason, reason_code=reason_code)


class Plane:
    """A controller and its StasisApp on a FirstHangupLost client."""

    def __init__(self, asterisk, engine) -> None:
        self.client = FirstHangupLost(asterisk.ari_url, asterisk.ari_username, asterisk.ari_password,
                                      asterisk.app)
        self.admission = Admission(engine, chunk_seconds=300)
        self.log = EventLog()
        self.client.on(ANY_EVENT, self.log)
        self.controller = CallController(self.client, self.admission, engine)

    async def start(self) -> None:
        self.controller.start()
        StasisApp(self.client, self.controller.flows())
        self.client.start()
        await self.client.wait_connected(10)

    async def stop(self) -> None:
        await self.controller.stop()
        self.admission.close()
        await self.client.close()

    async def channel_ids(self) -> set[str]:
        """The ids of every channel Asterisk has (ARI ``GET /channels``)."""
        return {channel["id"] for channel in await self.client.list_channels()}


@pytest.fixture
async def plane(call_asterisk, db):
    plane = Plane(call_asterisk, db)
    await plane.start()
    try:
        yield plane
    finally:
        await plane.stop()


async def test_a_refused_caller_whose_first_hangup_is_lost_is_hung_up_all_the_same(
    call_asterisk, db, plane: Plane, carrier, sip_phone
):
    """A zero-balance call is refused; the teardown's hangup of the caller
    does not reach ARI. The caller's channel is gone from Asterisk all the
    same (ARI's GET /channels no longer lists it), the phone gets the
    refusal's 403, and no call is left in the controller."""
    subscriber = await add_subscriber(db, balance=0)
    await synced(db, call_asterisk)
    phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
    call = await phone.call("0712345678")
    caller = await stasis_channel_of(plane, subscriber.endpoint)
    try:
        record = await phone.wait_state("DISCONNECTED", call, timeout=20)
        assert plane.client.lost_hangups == [caller["id"]]  # the fault happened, on the caller
        await wait_until(lambda: plane.controller.live() == [], timeout=GONE_WITHIN_S)
        await wait_until(lambda: _is_gone(plane, caller["id"]), timeout=GONE_WITHIN_S)
        assert record.code == 403
    finally:
        await hang_up_quietly(plane.client, caller["id"])


async def test_a_connected_callers_lost_hangup_after_the_far_end_hangs_up_is_sent_again(
    call_asterisk, db, plane: Plane, carrier, sip_phone
):
    """A call to a mobile is answered by the carrier, which then hangs up;
    the teardown's hangup of the subscriber's channel does not reach ARI.
    The channel is gone from Asterisk all the same and the subscriber's
    phone is disconnected long before the call's hard cap (its 300 s
    chunk)."""
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    answering = AutoAnswer(carrier)
    try:
        phone, caller, _answered_at = await connected_call(call_asterisk, sip_phone, plane, subscriber)
        await carrier.hangup()
        await phone.wait_state("DISCONNECTED", timeout=GONE_WITHIN_S)
        assert plane.client.lost_hangups == [caller["id"]]
        await wait_until(lambda: _is_gone(plane, caller["id"]), timeout=GONE_WITHIN_S)
        await wait_until(lambda: plane.controller.live() == [], timeout=GONE_WITHIN_S)
    finally:
        await answering.close()
        await hang_up_quietly(plane.client, caller["id"])


async def _is_gone(plane: Plane, channel_id: str) -> bool:
    return channel_id not in await plane.channel_ids()
