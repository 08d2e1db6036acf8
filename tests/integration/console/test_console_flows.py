"""The console's main flows in a real browser (issue 13, item 5): create a
subscriber (its SIP password shown once), top up and see the balance
change, suspend, a form without its CSRF token refused, and an account
admin kept to its own account (invariant 8)."""

from __future__ import annotations

from access import audit
from access.roles import ACCOUNT_ADMIN
from billing import ledger
from tests.integration.admin.support import new_subscriber

from .support import logged_in as _logged_in




async def test_an_operator_creates_a_subscriber_and_sees_its_sip_password_once(engine, console, page) -> None:
    """The form creates subscriber, endpoint and account; the password is on that page only."""
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/subscribers/new")
    for field, value in {"name": "Maria Ionescu", "email": "maria@example.com", "username": "ep-maria",
                         "caller_id_number": "0212345678", "account_code": "MARIA1"}.items():
        await page.fill(f"input[name={field}]", value)
    await page.click("button[type=submit].primary")
    password = await page.get_by_test_id("sip-password").inner_text()
    assert len(password) >= 24
    account = await ledger.find_account(engine, "MARIA1")
    assert account is not None
    await page.goto(f"{console}/console/subscribers?search=maria")
    assert "Maria Ionescu" in await page.get_by_test_id("subscribers").inner_text()
    assert password not in await page.content()


async def test_a_top_up_changes_the_balance_on_the_account_page(engine, console, page) -> None:
    """Topping up 12.50 EUR shows the new balance and a ledger line."""
    created = await new_subscriber(engine, code="TOP1")
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/accounts/{created.account.id}")
    assert await page.get_by_test_id("balance").inner_text() == "0.00 EUR"
    await page.fill("[data-testid=top-up] input[name=amount]", "12.50")
    await page.fill("[data-testid=top-up] input[name=reference]", "cash desk")
    await page.click("[data-testid=top-up] button")
    await page.wait_for_url(f"{console}/console/accounts/{created.account.id}")
    assert await page.get_by_test_id("balance").inner_text() == "12.50 EUR"
    assert "cash desk" in await page.get_by_test_id("ledger").inner_text()
    assert await ledger.balance_micro(engine, created.account.id) == 12_500_000


async def test_suspending_an_account_marks_it_and_ends_its_calls(engine, console, page, plane) -> None:
    """Suspend with a cause: the account is suspended and its live calls are ended."""
    created = await new_subscriber(engine, code="SUS1")
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/accounts/{created.account.id}")
    await page.select_option("[data-testid=suspend] select[name=cause]", "breach")
    await page.click("[data-testid=suspend] button")
    await page.wait_for_url(f"{console}/console/accounts/{created.account.id}?ended=2")
    assert await page.get_by_test_id("status").inner_text() == "suspended"
    assert await page.get_by_test_id("calls-ended").inner_text() == "2 calls ended."
    assert plane.ended_for == [created.account.id]
    assert (await ledger.get_account(engine, created.account.id)).status == "suspended"


async def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(engine, console, page) -> None:
    """A top-up form whose CSRF field was removed answers 403 and credits nothing."""
    created = await new_subscriber(engine, code="CSRF1")
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/accounts/{created.account.id}")
    await page.eval_on_selector("[data-testid=top-up] input[name=csrf]", "input => input.remove()")
    await page.fill("[data-testid=top-up] input[name=amount]", "5")
    async with page.expect_response(lambda r: r.url.endswith("/top-up")) as answer:
        await page.click("[data-testid=top-up] button")
    assert (await answer.value).status == 403
    assert "did not come from this console" in await page.get_by_test_id("refusal").inner_text()
    assert await ledger.balance_micro(engine, created.account.id) == 0
    assert (await audit.list_entries(engine, audit.AuditFilter(resource="account"))).entries == []


async def test_an_account_admin_cannot_open_another_accounts_page(engine, console, page) -> None:
    """Invariant 8: its own account opens; another's is 403 with none of its data in the HTML."""
    own = await new_subscriber(engine, code="MINE1")
    other = await new_subscriber(engine, code="THEIRS1")
    await _logged_in(engine, console, page, ACCOUNT_ADMIN, own.account.id)
    await page.goto(f"{console}/console/accounts/{own.account.id}")
    assert "MINE1" in await page.locator("h1").inner_text()
    response = await page.goto(f"{console}/console/accounts/{other.account.id}")
    assert response.status == 403
    html = await page.content()
    assert "THEIRS1" not in html and "thei" not in html.lower()
    await page.goto(f"{console}/console/subscribers")
    listed = await page.get_by_test_id("subscribers").inner_text()
    assert "mine1@example.com" in listed and "theirs1@example.com" not in listed


async def test_the_subscriber_search_filters_as_one_types_with_htmx(engine, console, page) -> None:
    """The vendored htmx runs under the pages' CSP: typing filters the table without a page load."""
    await new_subscriber(engine, code="HTMXA")
    await new_subscriber(engine, code="HTMXB")
    await _logged_in(engine, console, page)
    await page.goto(f"{console}/console/subscribers")
    await page.evaluate("window.notReloaded = true")
    await page.fill("input[name=search]", "htmxb")
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=subscribers]').innerText.includes('htmxa@')")
    assert "htmxb@example.com" in await page.get_by_test_id("subscribers").inner_text()
    assert await page.evaluate("window.notReloaded") is True
