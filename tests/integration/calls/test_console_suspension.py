"""Suspending an account in the admin console ends its live call (issue 13,
item 5; invariant 3's suspension order): a real pjsua2 phone on a call
through the real Asterisk, the console in the system's Chromium."""

from __future__ import annotations

import pytest

from .console_call import console_on_a_live_call

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


async def test_suspending_in_the_console_ends_the_accounts_live_call(
    call_asterisk, db, carrier, sip_phone, page, tmp_path
):
    """The account page shows the live call; "Suspend" ends it on the phone."""
    async with console_on_a_live_call(call_asterisk, db, carrier, sip_phone, page, tmp_path) as live:
        await page.goto(live.account_page)
        assert "Live calls: 1" in await page.locator("h2").all_inner_texts()
        await page.select_option("[data-testid=suspend] select[name=cause]", "breach")
        await page.click("[data-testid=suspend] button")
        await page.wait_for_url(f"{live.account_page}?ended=1")
        await live.phone.wait_state("DISCONNECTED", timeout=5)
        assert await page.get_by_test_id("status").inner_text() == "suspended"
