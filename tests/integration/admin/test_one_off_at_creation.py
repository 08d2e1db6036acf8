"""A contract's start with one-off fees (contract art. 7.1.1), through the
CLI and the admin API, on SQLite and PostgreSQL:

"A set-up fee is invoiced on the first day; with 'inactive until paid',
calls are refused (112 still connects) until the payment is registered."
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from admission.service import Admission, CallRequest
from billing import fx_store, ledger, service_plan_store
from billing.accounts import ACTIVE, INACTIVE
from billing.invoicing import payments, records
from billing.service_plans import SERVICE_PLAN_COLUMNS
from billing.working_days import add_working_days
from controlplane.cli import main
from controlplane.invoicing_wiring import invoicing_service
from notify.notifier import Notifier
from notify.render import Renderer
from web.admin_operations import OneOffInvoicing
from web.app import build_admin_app

from .test_http_admin import AUTH, SUBSCRIBER, plane, post  # noqa: F401  (fixtures)
from .test_plan_subscriptions import bucharest_today
from ..invoicing.support import SUPPLIER

PLANS = [
    ",".join(SERVICE_PLAN_COLUMNS) + "\n",
    "home5,2025.1,2025-01-01,,5.00,,national,100,Home,50.00\n",
]
CREATE = ("admin", "subscriber", "create", "--name", "Ion Popescu", "--email", "ion@example.com",
          "--username", "ep-ion", "--caller-id", "0212345678", "--account-code", "ION1",
          "--kind", "postpaid", "--credit-limit", "50")
_refs = itertools.count(1)


def call(dialled: str, endpoint: str = "ep-ion") -> CallRequest:
    return CallRequest(call_ref=f"1765000000.{next(_refs)}", endpoint=endpoint, source_address="192.0.2.10",
                       dialled=dialled)


@pytest.fixture
async def ready(engine):
    """The home5 plan (5 EUR a month, a 50 EUR set-up fee) and yesterday's BNR rate."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    await fx_store.store_rates(engine, {bucharest_today() - timedelta(days=1): {"EUR": Decimal("5.0000")}})


@pytest.fixture
def cli(db_url, tmp_path):
    """Run ``clickphone ARGS...`` (in a thread: the CLI runs its own event loop)."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path)}

    async def run(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)

    return run


async def assert_inactive_until_paid(engine, account_id: int) -> None:
    """Paid calls refused as account_inactive; 112 connects, free."""
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    paid = await admission.decide(call("0212345679"))
    emergency = await admission.decide(call("112"))
    assert (await ledger.get_account(engine, account_id)).status == INACTIVE
    assert not paid.allowed and paid.reason.code == "account_inactive"
    assert emergency.allowed and emergency.free


async def assert_active_and_calling(engine, account_id: int) -> None:
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    assert (await ledger.get_account(engine, account_id)).status == ACTIVE
    assert (await admission.decide(call("0212345679"))).allowed


async def test_cli_invoices_the_set_up_fee_on_the_first_day_and_calls_wait_for_the_payment(
        cli, engine, ready) -> None:
    """``subscriber create --plan home5 --charge "Telefon IP=40.00"
    --inactive-until-paid``: a one-off invoice of the 50 EUR set-up fee and
    the phone, issued today and due in 5 working days; paid calls refused,
    112 free, until ``payments add`` registers the payment — then active."""
    created = await cli(*CREATE, "--plan", "home5", "--charge", "Telefon IP=40.00", "--inactive-until-paid")
    assert created.exit_code == 0, created.output
    shown = json.loads(created.output)
    account_id, invoice = shown["account"]["id"], shown["invoice"]
    today = bucharest_today()
    assert shown["account"]["status"] == INACTIVE
    assert (invoice["kind"], invoice["issue_date"], invoice["due_date"]) == (
        "one_off", today.isoformat(), add_working_days(today, 5).isoformat())
    stored = await records.get_invoice(engine, invoice["number"])
    assert [(line.description, line.net_micro) for line in stored.lines] == [
        ("Taxă de instalare — home5", 50_000_000), ("Telefon IP", 40_000_000)]
    await assert_inactive_until_paid(engine, account_id)

    paid = await cli("payments", "add", "--invoice", invoice["number"], "--amount", invoice["total_ron"])

    assert paid.exit_code == 0, paid.output
    await assert_active_and_calling(engine, account_id)


async def test_cli_active_at_once_issues_the_invoice_and_leaves_the_account_active(cli, engine, ready) -> None:
    """``--active-at-once`` (the setting's default too): the invoice is issued, the account active."""
    created = await cli(*CREATE, "--plan", "home5", "--active-at-once")
    assert created.exit_code == 0, created.output
    shown = json.loads(created.output)
    assert shown["account"]["status"] == ACTIVE and shown["invoice"]["kind"] == "one_off"


async def test_cli_charges_added_later_are_invoiced_by_invoice_one_off(cli, engine, ready) -> None:
    """``admin account charge`` adds equipment later; ``invoice one-off`` invoices it."""
    created = json.loads((await cli(*CREATE)).output)
    assert created["invoice"] is None
    account_id = str(created["account"]["id"])

    charge = await cli("admin", "account", "charge", account_id, "--description", "Router", "--amount", "60",
                       "--quantity", "2")
    issued = await cli("invoice", "one-off", account_id)
    again = await cli("invoice", "one-off", account_id)

    assert charge.exit_code == 0, charge.output
    assert json.loads(charge.output)["net"] == "120.000000"
    assert issued.exit_code == 0, issued.output
    assert issued.output.startswith("CP-000001\tION1\t")
    assert again.exit_code == 1 and "no one-off charge waiting" in again.output


@pytest.mark.parametrize("args,named", [
    (("--description", "", "--amount", "10"), "description"),
    (("--description", "Router", "--amount", "0"), "--amount"),
    (("--description", "Router", "--amount", "100000.01"), "--amount"),
    (("--description", "Router", "--amount", "10", "--quantity", "1001"), "--quantity"),
])
async def test_cli_refuses_a_charge_out_of_bounds_naming_it(cli, engine, ready, args, named) -> None:
    """Bounds of a one-off charge on the CLI: an error naming the value, no traceback."""
    account_id = str(json.loads((await cli(*CREATE)).output)["account"]["id"])
    result = await cli("admin", "account", "charge", account_id, *args)
    assert result.exit_code in (1, 2) and named in result.output and "Traceback" not in result.output


@pytest.fixture
async def client(plane, ready):  # noqa: F811
    """The admin API issuing one-off invoices (with the invoicing service and supplier)."""
    how = OneOffInvoicing(invoicing_service(plane.engine, Notifier(Renderer())), SUPPLIER)
    services = dataclasses.replace(plane.services(), one_off_invoicing=how)
    async with TestClient(TestServer(build_admin_app(services))) as client:
        yield client


async def test_api_invoices_the_set_up_fee_on_the_first_day_and_calls_wait_for_the_payment(client, engine) -> None:
    """``POST /admin/subscribers`` with ``plan``, ``charges`` and
    ``inactive_until_paid``: 201 with the one-off invoice; paid calls
    refused, 112 free, until the payment is registered — then active."""
    body = {**SUBSCRIBER, "kind": "postpaid", "credit_limit": "50", "plan": "home5",
            "charges": [{"description": "Telefon IP", "amount": "40.00", "quantity": 1}],
            "inactive_until_paid": True}
    response = await post(client, "/admin/subscribers", body)
    assert response.status == 201, await response.text()
    shown = await response.json()
    account_id, invoice = shown["account"]["id"], shown["invoice"]
    assert shown["account"]["status"] == INACTIVE and invoice["total"] == "108.900000"  # 90 EUR + 21 % VAT
    await assert_inactive_until_paid(engine, account_id)

    await payments.add_account_payment(engine, account_id, int(Decimal(invoice["total_ron"]) * 1_000_000),
                                       paid_on=bucharest_today())

    await assert_active_and_calling(engine, account_id)


async def test_api_adds_a_charge_and_invoices_it(client, engine) -> None:
    """``POST /admin/accounts/{id}/charges`` then ``/invoices/one-off``: 201
    each; invoicing again with nothing waiting is 409."""
    account_id = (await (await post(client, "/admin/subscribers", SUBSCRIBER)).json())["account"]["id"]

    charge = await post(client, f"/admin/accounts/{account_id}/charges",
                        {"description": "Router", "amount": "60.00", "quantity": 2})
    issued = await post(client, f"/admin/accounts/{account_id}/invoices/one-off", {})
    again = await post(client, f"/admin/accounts/{account_id}/invoices/one-off", {})

    assert charge.status == 201 and (await charge.json())["net"] == "120.000000"
    assert issued.status == 201 and (await issued.json())["kind"] == "one_off"
    assert again.status == 409


@pytest.mark.parametrize("path,body,field", [
    ("charges", {"description": "", "amount": "10"}, "description"),
    ("charges", {"description": "x" * 201, "amount": "10"}, "description"),
    ("charges", {"description": "Router", "amount": "0"}, "amount"),
    ("charges", {"description": "Router", "amount": "100000.01"}, "amount"),
    ("charges", {"description": "Router", "amount": "10", "quantity": 1001}, "quantity"),
    ("subscribers", {"charges": [{"description": "Router", "amount": "-1"}]}, "charges[0].amount"),
    ("subscribers", {"charges": [{"description": "Router", "amount": "1"}] * 21}, "charges"),
    ("subscribers", {"inactive_until_paid": "yes"}, "inactive_until_paid"),
])
async def test_api_refuses_charges_out_of_bounds_naming_the_field(client, engine, path, body, field) -> None:
    """Bounds of one-off charges on the API: 400 naming the field, nothing created."""
    if path == "charges":
        account_id = (await (await post(client, "/admin/subscribers", SUBSCRIBER)).json())["account"]["id"]
        response = await post(client, f"/admin/accounts/{account_id}/charges", body)
    else:
        response = await post(client, "/admin/subscribers", {**SUBSCRIBER, **body})
        assert await ledger.find_account(engine, SUBSCRIBER["account_code"]) is None
    assert response.status == 400, await response.text()
    assert (await response.json())["field"] == field
