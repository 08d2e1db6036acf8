"""Hanging up one live call from the admin console's account page (issue 13,
item 5): a real pjsua2 phone on a call through the real Asterisk, the
console in the system's Chromium, the call controller ending that call."""

from __future__ import annotations

import pytest

from access import audit

from .console_call import console_on_a_live_call

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


async def test_the_hang_up_button_ends_the_phones_call_and_is_audited(
    call_asterisk, db, carrier, sip_phone, page, tmp_path
):
    """The account page lists the live call; its "Hang up" ends it on the phone, audited once."""
    async with console_on_a_live_call(call_asterisk, db, carrier, sip_phone, page, tmp_path) as live:
        [call_ref] = [call.call_ref for call in live.plane.controller.live()]
        await page.goto(live.account_page)
        row = page.locator(f"[data-testid=live-calls] tr[data-call='{call_ref}']")
        assert "0212345678" in await row.inner_text()
        await row.get_by_test_id("hang-up").click()
        await page.wait_for_url(f"{live.account_page}?hung_up=1")
        await live.phone.wait_state("DISCONNECTED", timeout=5)
        assert await page.get_by_test_id("hung-up").is_visible()
        assert await page.get_by_test_id("status").inner_text() == "active"  # the account is not suspended
        [entry] = [e for e in (await audit.list_entries(db)).entries if e.action == "hang_up"]
        assert (entry.resource, entry.resource_id) == ("call", call_ref)
