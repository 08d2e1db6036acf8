"""Suspending an account in the admin console ends its live call (issue 13,
item 5; invariant 3's suspension order): a real pjsua2 phone on a call
through the real Asterisk, the console in the system's Chromium."""

from __future__ import annotations

import dataclasses

import pytest

from access.roles import OPERATOR
from admission.service import Admission
from ari_app.calls import CallTiming
from controlplane.settings import Settings
from tests.fixtures.browser import served
from tests.integration.admin.test_http_admin import TOKEN, Plane
from tests.integration.console.support import browser_login, new_user
from web.app import build_admin_app

from .support import EUR, AutoAnswer, add_subscriber, registered_phone, start_control_plane, synced

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


async def test_suspending_in_the_console_ends_the_accounts_live_call(
    call_asterisk, db, carrier, sip_phone, page, tmp_path
):
    """The account page shows the live call; "Suspend" ends it on the phone."""
    subscriber = await add_subscriber(db, balance=5 * EUR)
    await synced(db, call_asterisk)
    admission = Admission(db, chunk_seconds=30)
    plane = await start_control_plane(call_asterisk, db, admission=admission,
                                      timing=CallTiming(extend_before=2.0, warn_before=1.0, orphan_grace=0.5))
    answering = AutoAnswer(carrier)
    services = dataclasses.replace(Plane(db, Settings(state_dir=tmp_path, admin_token=TOKEN)).services(),
                                   end_calls=plane.controller.end_calls)
    try:
        phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
        await phone.call("0212345678")
        await phone.wait_state("CONFIRMED")
        async with served(build_admin_app(services)) as console:
            await browser_login(page, console, await new_user(db, OPERATOR))
            await page.wait_for_url(f"{console}/console/")
            await page.goto(f"{console}/console/accounts/{subscriber.account_id}")
            assert "Live calls: 1" in await page.locator("h2").all_inner_texts()
            await page.select_option("[data-testid=suspend] select[name=cause]", "breach")
            await page.click("[data-testid=suspend] button")
            await page.wait_for_url(f"{console}/console/accounts/{subscriber.account_id}?ended=1")
            await phone.wait_state("DISCONNECTED", timeout=5)
            assert await page.get_by_test_id("status").inner_text() == "suspended"
    finally:
        await answering.close()
        await plane.stop()
