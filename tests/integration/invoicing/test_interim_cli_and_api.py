"""Interim invoices through ``clickphone invoice interim`` and
``POST /admin/accounts/{id}/invoices/interim``, on SQLite and PostgreSQL.

Contract art. 7.1.4: "An interim invoice plus the monthly invoice together
charge every call exactly once." The calls are of July 2025; the interim
invoice is up to 10 July, noon; both invoices are issued today (the
commands issue on the real day), at a BNR rate published yesterday.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing.records import INTERIM
from billing.tariffs import CONTRACT_TZ
from controlplane.cli import main
from controlplane.invoicing_wiring import invoicing_service
from controlplane.recipients import account_contact
from controlplane.settings import Settings
from notify.notifier import Notifier
from notify.render import Renderer
from notify.tables import outbox
from provisioning import services as provisioning
from web.app import AdminServices, build_admin_app

from .support import SUPPLIER, assert_charged_once, bnr_rate, july_in_two_halves, open_account, run

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UNTIL = "2025-07-10T12:00"


def today():
    return datetime.now(CONTRACT_TZ).date()


@pytest.fixture
async def account(engine: AsyncEngine) -> ledger.Account:
    """Five July calls (three before 10 July, two after), a subscriber with an
    email, and BNR's rate of yesterday."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    opened = await open_account(engine, included_seconds=120, subscriber_id=subscriber.id)
    await july_in_two_halves(engine)
    await bnr_rate(engine, today() - timedelta(days=1), "5.0720")
    return opened


async def clickphone(db_url: str, tmp_path, *args: str) -> Result:
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path / "state")}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


async def invoice_emails(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.scalars(select(outbox.c.dedup_key).where(outbox.c.kind == "invoice"))).all())


async def test_through_the_cli_an_interim_and_the_monthly_invoice_charge_every_call_once(
    engine: AsyncEngine, db_url: str, tmp_path, account: ledger.Account
) -> None:
    """Art. 7.1.4 through the CLI: ``invoice interim --until`` prints the
    interim invoice (the calls before 10 July noon, Bucharest time) and
    queues its email; ``invoice run`` then invoices only the rest."""
    done = await clickphone(db_url, tmp_path, "invoice", "interim", str(account.id), "--until", UNTIL)
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    assert (printed["kind"], printed["number"], len(printed["calls"])) == (INTERIM, "CP-000001", 3)
    assert (printed["period_first"], printed["period_last"]) == ("2025-07-01", "2025-07-10")
    assert await invoice_emails(engine) == ["invoice:CP-000001"]

    monthly = await clickphone(db_url, tmp_path, "invoice", "run", "--period", "2025-07",
                               "--issue-date", today().isoformat())
    assert monthly.exit_code == 0, monthly.output
    await assert_charged_once(engine)


async def test_the_cli_refuses_a_future_until_and_a_bad_one_naming_the_option(
    db_url: str, tmp_path, account: ledger.Account
) -> None:
    """Bad input is one line naming what is wrong, exit status not 0, no traceback."""
    later = (datetime.now(CONTRACT_TZ) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    future = await clickphone(db_url, tmp_path, "invoice", "interim", str(account.id), "--until", later)
    garbled = await clickphone(db_url, tmp_path, "invoice", "interim", str(account.id), "--until", "yesterday")

    assert future.exit_code == 1 and "until:" in future.output and "in the future" in future.output
    assert garbled.exit_code == 2 and "--until" in garbled.output
    assert "Traceback" not in future.output + garbled.output


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path):
    settings = Settings(state_dir=tmp_path, admin_token=TOKEN)
    notifier = Notifier(Renderer(timezone=settings.timezone))

    async def nothing() -> None:
        return None

    async def no_calls(account_id: int) -> int:
        return 0

    async def healthy() -> dict[str, object]:
        return {"status": "ok"}

    services = AdminServices(
        engine=engine, admin_token=TOKEN, sip_realm=settings.sip_realm, notifier=notifier,
        account_contact=account_contact, end_calls=no_calls, provisioning_changed=nothing, health=healthy,
        invoicing=invoicing_service(engine, notifier), supplier=SUPPLIER,
    )  # fmt: skip
    async with TestClient(TestServer(build_admin_app(services))) as client:
        yield client


def interim_path(account_id: int) -> str:
    return f"/admin/accounts/{account_id}/invoices/interim"


async def test_through_the_api_an_interim_and_the_monthly_invoice_charge_every_call_once(
    engine: AsyncEngine, client, account: ledger.Account
) -> None:
    """Art. 7.1.4 through the API: 201 with the interim invoice's JSON and
    its email queued; the monthly invoice then holds only the rest."""
    response = await client.post(interim_path(account.id), json={"until": f"{UNTIL}:00+03:00"}, headers=AUTH)

    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["kind"], body["number"], len(body["calls"])) == (INTERIM, "CP-000001", 3)
    assert await invoice_emails(engine) == ["invoice:CP-000001"]
    [monthly] = (await run(engine, "2025-07", today())).issued
    assert len(monthly.calls) == 2
    await assert_charged_once(engine)


async def test_the_api_refuses_bad_input_unknown_accounts_and_what_cannot_be_invoiced(
    engine: AsyncEngine, client, account: ledger.Account
) -> None:
    """400 naming the field for a bad or future ``until`` or a bad series;
    404 for an unknown account; 409 for nothing to invoice and for a month
    already invoiced — each a JSON error, no number consumed."""
    path = interim_path(account.id)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    cases = [
        (path, {"until": "10 July"}, 400, "until"),
        (path, {"until": "2025-07-10T12:00"}, 400, "until"),  # no time zone
        (path, {"until": later}, 400, "until"),
        (path, {"until": 12}, 400, "until"),
        (path, {"series": "cp-1"}, 400, "series"),
        (path, {"colour": "red"}, 400, "colour"),
        (interim_path(999_999), {}, 404, None),
        (path, {"until": "2025-07-01T00:30:00+03:00"}, 409, None),  # before the first call: nothing
    ]
    for where, body, status, field in cases:
        response = await client.post(where, json=body, headers=AUTH)
        answer = await response.json()
        assert (response.status, answer.get("field")) == (status, field), (body, answer)
    await run(engine, "2025-07", today())
    already = await client.post(path, json={"until": "2025-07-31T12:00:00+03:00"}, headers=AUTH)
    assert already.status == 409 and "already has its monthly invoice" in (await already.json())["error"]
