"""Accounts on service plans through the admin surfaces (SQLite and
PostgreSQL): ``admin subscriber create --plan`` and the API's ``plan``
field, ``admin account plan`` and ``PUT /admin/accounts/{id}/plan``, and
the account summary showing the plan today and the history."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing import service_plan_store
from billing.service_plans import SERVICE_PLAN_COLUMNS

from .test_cli_admin import clickphone  # noqa: F401  (fixture)
from .test_http_admin import AUTH, SUBSCRIBER, client, plane, post  # noqa: F401  (fixtures)

PLANS = [
    ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\n",
    "home5,2025.1,2025-01-01,,5.00,,national,100,5 EUR with 100 national minutes\n",
    "big10,2025.1,2025-01-01,,10.00,,national,200,\n",
]
CREATE = ("subscriber", "create", "--name", "Ion Popescu", "--email", "ion@example.com", "--username", "ep-ion",
          "--caller-id", "0212345678", "--account-code", "ION1")


def bucharest_today() -> date:
    """Today in Europe/Bucharest, the contract's calendar."""
    return datetime.now(ZoneInfo("Europe/Bucharest")).date()


def first_of_next_month() -> date:
    """The 1st of the month after today's (Europe/Bucharest)."""
    today = bucharest_today()
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


async def test_cli_creates_a_subscriber_on_a_plan_and_changes_it_from_next_month(clickphone, engine):
    """``subscriber create --plan home5 --plan-start 2025-10-04`` puts the
    account on home5 from that day; ``account plan ID big10`` moves it from
    the 1st of next month; ``account show`` prints the plan today and both
    stretches."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)

    created = await clickphone(*CREATE, "--plan", "home5", "--plan-start", "2025-10-04")
    assert created.exit_code == 0, created.output
    account_id = json.loads(created.output)["account"]["id"]
    changed = await clickphone("account", "plan", str(account_id), "big10")
    shown = await clickphone("account", "show", str(account_id))

    assert changed.exit_code == 0, changed.output
    next_month = first_of_next_month().isoformat()
    assert json.loads(changed.output)["from_day"] == next_month
    summary = json.loads(shown.output)
    assert summary["plan"] == "home5"
    assert summary["plan_history"] == [
        {"plan": "home5", "from_day": "2025-10-04", "until_day": next_month},
        {"plan": "big10", "from_day": next_month, "until_day": None},
    ]


async def test_cli_changes_a_plan_immediately(clickphone, engine):
    """``account plan ID big10 --immediately``: from today, the old plan ends yesterday."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    created = await clickphone(*CREATE, "--plan", "home5", "--plan-start", "2025-10-04")
    account_id = json.loads(created.output)["account"]["id"]

    changed = await clickphone("account", "plan", str(account_id), "big10", "--immediately")

    assert changed.exit_code == 0, changed.output
    today = bucharest_today().isoformat()
    shown = json.loads(changed.output)
    assert shown["plan"] == "big10" and shown["from_day"] == today
    assert [(s["plan"], s["until_day"]) for s in shown["plan_history"]] == [("home5", today), ("big10", None)]


async def test_cli_refuses_an_unknown_plan_naming_the_field_and_creates_nothing(clickphone, engine):
    """An unknown plan: exit 1, ``Error: plan: ...`` listing the stored
    plans, and no subscriber (the same command with a known plan then
    succeeds: username and account code were not taken)."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)

    refused = await clickphone(*CREATE, "--plan", "gold")
    created = await clickphone(*CREATE, "--plan", "home5")

    assert refused.exit_code == 1
    assert "Error: plan: no service plan 'gold'; stored plans: big10, home5" in refused.output
    assert created.exit_code == 0, created.output
    account_id = json.loads(created.output)["account"]["id"]
    shown = json.loads((await clickphone("account", "show", str(account_id))).output)
    assert shown["plan_history"] == [{"plan": "home5", "from_day": bucharest_today().isoformat(),
                                      "until_day": None}]


async def test_api_creates_on_a_plan_and_puts_another_plan(client, engine):
    """POST /admin/subscribers with ``plan`` and ``plan_start``; GET the
    account shows it; PUT .../plan ``immediately`` moves it from today."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    response = await post(client, "/admin/subscribers", {**SUBSCRIBER, "plan": "home5", "plan_start": "2025-10-04"})
    assert response.status == 201, await response.text()
    account_id = (await response.json())["account"]["id"]

    shown = await (await client.get(f"/admin/accounts/{account_id}", headers=AUTH)).json()
    changed = await client.put(f"/admin/accounts/{account_id}/plan", json={"plan": "big10", "immediately": True},
                               headers=AUTH)

    assert shown["plan"] == "home5"
    assert shown["plan_history"] == [{"plan": "home5", "from_day": "2025-10-04", "until_day": None}]
    assert changed.status == 200, await changed.text()
    today = bucharest_today().isoformat()
    body = await changed.json()
    assert body["plan"] == "big10" and body["from_day"] == today
    assert body["plan_history"][0] == {"plan": "home5", "from_day": "2025-10-04", "until_day": today}


async def test_api_refusals_name_the_field(client, engine):
    """An unknown plan at creation or change is 400 with field ``plan``; a
    plan_start that is not a day is 400 with field ``plan_start``; an
    unknown account is 404; nothing was created by the refused creations."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)

    unknown = await post(client, "/admin/subscribers", {**SUBSCRIBER, "plan": "gold"})
    bad_day = await post(client, "/admin/subscribers", {**SUBSCRIBER, "plan": "home5", "plan_start": "4.10.2025"})
    created = await post(client, "/admin/subscribers", SUBSCRIBER)
    account_id = (await created.json())["account"]["id"]
    change = await client.put(f"/admin/accounts/{account_id}/plan", json={"plan": "gold"}, headers=AUTH)
    nobody = await client.put(f"/admin/accounts/{account_id + 1}/plan", json={"plan": "home5"}, headers=AUTH)

    assert unknown.status == 400 and (await unknown.json())["field"] == "plan"
    assert "no service plan 'gold'" in (await unknown.json())["error"]
    assert bad_day.status == 400 and (await bad_day.json())["field"] == "plan_start"
    assert created.status == 201
    assert change.status == 400 and (await change.json())["field"] == "plan"
    assert nobody.status == 404

