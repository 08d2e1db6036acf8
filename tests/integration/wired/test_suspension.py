"""Suspension through the wired control plane: the admin API's suspend
route, as `make run` serves it, ends the account's live paid calls through
the call controller it was given, and leaves its emergency call up.

Contract: a suspended account may call only 112, 116xxx and 0800
(invariant 3: they are always connected); its paid calls end at once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from billing import reservations
from tests.integration.calls.support import wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]

PAID_NUMBER = "0712345678"  # a Romanian mobile: charged
# The suspension's HTTP answer comes once the controller has ended the call;
# the phone hears the BYE within a second or two. Without the wiring the
# paid call would run to the end of its first chunk (300 s).
PAID_CALL_ENDS_S = 5.0
# the emergency call is watched this long after the suspension: past the
# moment the paid call ended, so a wrong hang-up of both would show
EMERGENCY_HELD_S = 3.0


async def test_suspending_through_the_admin_api_ends_the_live_paid_call_at_once_and_112_stays_up(
    wired, carrier, sip_phone
):
    """A subscriber with credit has a paid call to a mobile and a 112 call
    up, both through the real Asterisk to the carrier. POST
    /admin/accounts/{id}/suspend with the admin token answers that one call
    was ended; the paid call is hung up on the phone within seconds, while
    the 112 call stays connected (and the controller still holds it, free)
    until the caller hangs it up."""
    carrier_phone, answering = carrier
    account_id, endpoint = await wired.new_subscriber("ana", "ana.pop@example.ro")
    await wired.new_top_up(account_id, "5.00")
    phone = await wired.registered_phone(sip_phone, endpoint)

    emergency = await phone.call("112")
    await phone.wait_state("CONFIRMED", emergency)
    paid = await phone.call(PAID_NUMBER)
    await phone.wait_state("CONFIRMED", paid)
    controller = wired.plane.calls
    await wait_until(lambda: sorted(c.free for c in controller.live() if c.connected) == [False, True])
    assert len(await reservations.live_reservations(wired.plane.engine, account_id)) == 1  # the paid call's

    suspended_at = time.monotonic()
    answer = await wired.admin_post(f"/admin/accounts/{account_id}/suspend", {"cause": "non_payment"}, status=200)
    assert (answer["status"], answer["calls_ended"]) == ("suspended", 1)
    await phone.wait_state("DISCONNECTED", paid, timeout=PAID_CALL_ENDS_S)
    assert time.monotonic() - suspended_at < PAID_CALL_ENDS_S

    await asyncio.sleep(EMERGENCY_HELD_S)
    assert phone.state(emergency) == "CONFIRMED"
    (still_up,) = controller.live()
    assert still_up.free and still_up.connected and still_up.account_id == account_id
    await phone.hangup(emergency)
    await phone.wait_state("DISCONNECTED", emergency)
    await wait_until(lambda: controller.live() == [])
    assert len(answering.answered) == 2  # the carrier had both calls
