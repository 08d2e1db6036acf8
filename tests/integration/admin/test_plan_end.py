"""Ending an account's service plan through the admin surfaces (``admin
account plan-end ID --last-day D`` and ``DELETE
/admin/accounts/{id}/plan?last_day=D``), its last month pro-rated by days
of service on the invoice; and no plan change into a month whose monthly
invoice is issued (an invoice is stored once and never updated). On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest

from billing import service_plan_store, subscriptions
from billing.invoicing import records
from tests.integration.invoicing.support import bnr_rate, open_account, run
from web.admin_input import ConflictError

from .support import as_admin, new_subscriber
from .test_cli_admin import clickphone  # noqa: F401  (fixture)
from .test_http_admin import AUTH, client, plane  # noqa: F401  (fixtures)
from .test_plan_subscriptions import PLANS


@pytest.fixture
async def account_id(engine) -> int:
    """A postpaid account on home5 (5 EUR a month, 100 national minutes) from 1 October 2025."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    created = await new_subscriber(engine, kind="postpaid", credit_limit_micro=100_000_000, plan="home5",
                                   plan_start=date(2025, 10, 1))
    for day in (date(2025, 10, 31), date(2025, 11, 30)):
        await bnr_rate(engine, day, "5.0000")
    return created.account.id


async def november_invoice(engine) -> records.Invoice:
    """November's invoice, issued on 1 December (October's before it)."""
    await run(engine, "2025-10", date(2025, 11, 1))
    [november] = (await run(engine, "2025-11", date(2025, 12, 1))).issued
    return november


def fee_and_bundle(invoice: records.Invoice) -> tuple[int, int]:
    """The invoice's monthly fee (EUR, VAT excluded) and its included seconds."""
    [fee] = [line for line in invoice.lines if line.kind == "recurring_fee"]
    return fee.net_micro, invoice.bundle_seconds


async def test_the_cli_ends_a_plan_and_its_last_month_is_pro_rated_on_the_invoice(clickphone, engine, account_id):
    """``account plan-end ID --last-day 2025-11-15``: home5 until the 15th
    (until_day the 16th); November's invoice charges 15 of 30 days: 2.50 of
    the 5 EUR fee and 50 of the 100 minutes (3,000 s)."""
    ended = await clickphone("account", "plan-end", str(account_id), "--last-day", "2025-11-15")

    assert ended.exit_code == 0, ended.output
    shown = json.loads(ended.output)
    assert shown["last_day"] == "2025-11-15"
    assert shown["plan_history"] == [{"plan": "home5", "from_day": "2025-10-01", "until_day": "2025-11-16"}]
    assert fee_and_bundle(await november_invoice(engine)) == (2_500_000, 3_000)


async def test_the_api_ends_a_plan_and_its_last_month_is_pro_rated_on_the_invoice(client, engine, account_id):
    """``DELETE /admin/accounts/ID/plan?last_day=2025-11-15`` → 200 with the
    history; the same pro-rated November as through the CLI."""
    response = await client.delete(f"/admin/accounts/{account_id}/plan?last_day=2025-11-15", headers=AUTH)

    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["plan"], body["last_day"]) == (None, "2025-11-15")
    assert body["plan_history"] == [{"plan": "home5", "from_day": "2025-10-01", "until_day": "2025-11-16"}]
    assert fee_and_bundle(await november_invoice(engine)) == (2_500_000, 3_000)


async def test_ending_a_plan_needs_a_last_day_on_a_plan(client, account_id):
    """No last_day, a malformed one, a day the account is on no plan, or the
    calendar's last day (none after it): 400 naming last_day, never a 500."""
    path = f"/admin/accounts/{account_id}/plan"
    missing = await client.delete(path, headers=AUTH)
    malformed = await client.delete(f"{path}?last_day=2025-11-31", headers=AUTH)
    before = await client.delete(f"{path}?last_day=2025-09-15", headers=AUTH)
    last_of_all = await client.delete(f"{path}?last_day=9999-12-31", headers=AUTH)  # no day after it

    for response in (missing, malformed, before, last_of_all):
        assert response.status == 400 and (await response.json())["field"] == "last_day"


async def test_ending_a_plan_inside_an_invoiced_month_is_refused_naming_the_day_and_invoice(
        clickphone, client, engine, account_id):
    """October's invoice CP-000001 is issued: ending the plan on 20 October
    (first day without it: the 21st) is refused — 409 through the API, an
    error through the CLI, both naming the day and the invoice — and the
    plan stays; ending it on 31 October (October unchanged) is allowed."""
    await run(engine, "2025-10", date(2025, 11, 1))

    api = await client.delete(f"/admin/accounts/{account_id}/plan?last_day=2025-10-20", headers=AUTH)
    cli = await clickphone("account", "plan-end", str(account_id), "--last-day", "2025-10-20")

    assert api.status == 409
    for message in ((await api.json())["error"], cli.stderr):
        assert "2025-10-21" in message and "CP-000001" in message and "2025-10" in message
    assert cli.exit_code == 1
    history = await subscriptions.plan_history(engine, account_id)
    assert [(s.plan, s.until_day) for s in history] == [("home5", None)]
    allowed = await client.delete(f"/admin/accounts/{account_id}/plan?last_day=2025-10-31", headers=AUTH)
    assert allowed.status == 200, await allowed.text()


async def test_a_plan_change_or_start_dated_into_an_invoiced_month_is_refused(engine, account_id):
    """A change of plan effective on 20 October, or a first plan from 15
    October for an account whose October is invoiced, is refused (409)
    naming the day and the invoice; from 1 November both are allowed."""
    other = await open_account(engine, "acct-2", fee_eur=10)
    await run(engine, "2025-10", date(2025, 11, 1))
    invoices = {i.account_id: i.number for i in await records.list_invoices(engine, period="2025-10")}

    with pytest.raises(ConflictError, match=f"2025-10-20.*{invoices[account_id]}"):
        await as_admin(subscriptions.change_plan(engine, account_id, "big10", today=date(2025, 10, 20),
                                                 immediately=True))
    with pytest.raises(ConflictError, match=f"2025-10-15.*{invoices[other.id]}"):
        await as_admin(subscriptions.subscribe(engine, other.id, "home5", start_day=date(2025, 10, 15)))

    changed = await subscriptions.change_plan(engine, account_id, "big10", today=date(2025, 10, 20))
    started = await subscriptions.subscribe(engine, other.id, "home5", start_day=date(2025, 11, 1))
    assert (changed.from_day, started.from_day) == (date(2025, 11, 1), date(2025, 11, 1))
