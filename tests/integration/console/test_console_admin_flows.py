"""The console's user, token and invoice flows in a real browser (issue 13,
item 5): an operator creates a user who then logs in; a token issued on
"my tokens" is shown once, works on /api/v1, and is refused there once
revoked; an invoice is viewed (its document framed) and a payment recorded."""

from __future__ import annotations

from access.roles import AUDITOR
from tests.integration.api.test_api_invoices import july  # noqa: F401  (the fixture: two July invoices)

from .support import browser_login
from .support import logged_in as _logged_in




async def test_an_operator_creates_a_user_who_then_logs_in(engine, console, page) -> None:
    """The generated password is shown once; with it the new user logs in and sees their role."""
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/users")
    await page.fill("[data-testid=new-user] input[name=username]", "carmen")
    await page.select_option("[data-testid=new-user] select[name=role]", AUDITOR)
    await page.click("[data-testid=new-user] button")
    password = await page.get_by_test_id("secret").inner_text()
    assert len(password) >= 16
    await page.goto(f"{console}/console/users")
    assert "carmen" in await page.get_by_test_id("users").inner_text()
    assert password not in await page.content()
    await page.click("button.link")  # log out
    await browser_login(page, console, "carmen", password)
    await page.wait_for_url(f"{console}/console/")
    assert await page.get_by_test_id("user").inner_text() == f"carmen · {AUDITOR}"


async def test_a_token_from_my_tokens_is_shown_once_and_refused_once_revoked(engine, console, page) -> None:
    """Issued on "my tokens": its value once, accepted by /api/v1/me; revoked: /api/v1 answers 401."""
    name = await _logged_in(engine, console, page, AUDITOR)
    await page.goto(f"{console}/console/me/tokens")
    await page.fill("[data-testid=issue-token] input[name=name]", "laptop")
    await page.click("[data-testid=issue-token] button")
    value = await page.get_by_test_id("secret").inner_text()
    assert value.startswith("cpt_")
    bearer = {"Authorization": f"Bearer {value}"}
    me = await page.request.get(f"{console}/api/v1/me", headers=bearer)
    assert me.status == 200 and (await me.json())["name"] == name
    await page.get_by_test_id("back").click()
    await page.wait_for_url(f"{console}/console/me/tokens")
    assert "laptop" in await page.get_by_test_id("tokens").inner_text()
    assert value not in await page.content()
    await page.get_by_test_id("revoke").click()
    await page.wait_for_url(f"{console}/console/me/tokens")
    assert await page.get_by_test_id("revoke").count() == 0
    refused = await page.request.get(f"{console}/api/v1/me", headers=bearer)
    assert refused.status == 401


async def test_an_operator_views_an_invoice_and_records_its_payment(engine, console, page, july) -> None:  # noqa: F811
    """The list links the invoice; its page frames the document; 60.50 RON on time leaves it paid."""
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/invoices")
    await page.click("text=CP-000001")
    await page.wait_for_url(f"{console}/console/invoices/CP-000001")
    assert await page.get_by_test_id("state").inner_text() == "unpaid"
    frame = page.frame_locator("[data-testid=document]")
    assert "CP-000001" in await frame.locator("body").inner_text()
    await page.fill("[data-testid=record-payment] input[name=amount]", "60.50")
    await page.select_option("[data-testid=record-payment] select[name=currency]", "RON")
    await page.fill("[data-testid=record-payment] input[name=paid_on]", "2025-08-05")
    await page.fill("[data-testid=record-payment] input[name=reference]", "OP 7")
    await page.click("[data-testid=record-payment] button")
    await page.wait_for_url(f"{console}/console/invoices/CP-000001?recorded=1")
    assert await page.get_by_test_id("state").inner_text() == "paid"
    assert "60.50" in await page.get_by_test_id("payments").inner_text()
