"""A real pjsua2 phone on a call through the real Asterisk, the control
plane's call controller owning it, and the admin console served with that
controller and an operator logged in through Chromium: the setup of the
console's call-ending tests."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from access.roles import OPERATOR
from admission.service import Admission
from ari_app.calls import CallTiming
from controlplane.settings import Settings
from tests.fixtures.browser import served
from tests.integration.admin.test_http_admin import TOKEN, Plane
from tests.integration.console.support import browser_login, new_user
from web.app import build_admin_app

from .support import EUR, AutoAnswer, ControlPlane, Subscriber, add_subscriber, registered_phone, start_control_plane
from .support import synced


@dataclass(frozen=True)
class ConsoleCall:
    """The console's base URL, the subscriber, its phone on a confirmed call, the control plane."""

    console: str
    subscriber: Subscriber
    phone: Any
    plane: ControlPlane

    @property
    def account_page(self) -> str:
        return f"{self.console}/console/accounts/{self.subscriber.account_id}"


@contextlib.asynccontextmanager
async def console_on_a_live_call(call_asterisk, db, carrier, sip_phone, page, tmp_path) -> AsyncIterator[ConsoleCall]:
    """A subscriber's phone on a confirmed call to 0212345678 (the carrier
    answers), and an operator logged into the console whose services end
    calls with the real call controller."""
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=30)
    plane = await start_control_plane(call_asterisk, db, admission=admission,
                                      timing=CallTiming(extend_before=2.0, warn_before=1.0, orphan_grace=0.5))
    answering = AutoAnswer(carrier)
    services = dataclasses.replace(Plane(db, Settings(state_dir=tmp_path, admin_token=TOKEN)).services(),
                                   end_calls=plane.controller.end_calls, end_call=plane.controller.end_call)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call("0212345678")
        await phone.wait_state("CONFIRMED")
        async with served(build_admin_app(services)) as console:
            await browser_login(page, console, await new_user(db, OPERATOR))
            await page.wait_for_url(f"{console}/console/")
            yield ConsoleCall(console, subscriber, phone, plane)
    finally:
        await answering.close()
        await plane.stop()
