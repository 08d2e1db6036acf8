"""Accounts' subscriptions to service plans, on SQLite and PostgreSQL: the
history of plans, changes from the next month or at once, and what each
month owes, pro-rated by days of service (exact micro-euros, one rounding)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, service_plan_store, subscriptions, tariff_store
from billing.errors import InvalidSubscriptionError, UnknownAccountError
from billing.service_plans import SERVICE_PLAN_COLUMNS

HEADER = ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\n"
PLANS = [
    HEADER,
    "home5,2025.1,2025-01-01,,5.00,,national,100,5 EUR with 100 national minutes\n",
    "big10,2025.1,2025-01-01,,10.00,,national,200,\n",
    "bare1,2025.1,2025-01-01,2025-10-16,1.00,,,,\n",
    "bare1,2025.2,2025-10-16,,2.00,,,,price rise from the 16th\n",
    "onnet,2025.1,2025-01-01,,3.00,,on_net,500,\n",
]


async def account_on_plans(engine: AsyncEngine, code: str = "acct-1") -> int:
    """Store the plans above and open an account; return its id."""
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    return (await ledger.open_account(engine, code=code)).id


async def terms(engine: AsyncEngine, account_id: int, month: str) -> tuple[int, int, int] | None:
    """(fee, included seconds, days of service) of the month, or None."""
    async with engine.connect() as conn:
        found = await subscriptions.month_terms(conn, account_id, month)
    return None if found is None else (found.fee_micro, found.included_seconds, found.service_days)


async def test_joining_on_the_4th_pro_rates_the_first_month_and_not_the_next(engine: AsyncEngine) -> None:
    """Joining on 4 October: October owes 28/31 of 5 EUR (4.516129 EUR,
    half-up once) and of 100 minutes (168,000 s / 31 = 5,419.35 → 5,419 s); November
    all of both; September nothing (no terms)."""
    account_id = await account_on_plans(engine)

    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 10, 4))

    assert await terms(engine, account_id, "2025-10") == (4_516_129, 5_419, 28)
    assert await terms(engine, account_id, "2025-11") == (5_000_000, 6_000, 30)
    assert await terms(engine, account_id, "2025-09") is None


async def test_a_change_takes_effect_on_the_first_of_next_month_and_keeps_the_history(
    engine: AsyncEngine,
) -> None:
    """Changing on 20 October without ``immediately``: October stays on the
    old plan, November is on the new one; the history has both stretches."""
    account_id = await account_on_plans(engine)
    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 10, 1))

    await subscriptions.change_plan(engine, account_id, "big10", today=date(2025, 10, 20))

    assert await terms(engine, account_id, "2025-10") == (5_000_000, 6_000, 31)
    assert await terms(engine, account_id, "2025-11") == (10_000_000, 12_000, 30)
    history = await subscriptions.plan_history(engine, account_id)
    assert [(s.plan, s.from_day, s.until_day) for s in history] == [
        ("home5", date(2025, 10, 1), date(2025, 11, 1)),
        ("big10", date(2025, 11, 1), None),
    ]


async def test_an_immediate_change_splits_the_month_between_both_plans(engine: AsyncEngine) -> None:
    """Immediately on 20 October: 19 days of home5 and 12 of big10 →
    (5 × 19 + 10 × 12) / 31 EUR = 6.935484 EUR and
    (6,000 × 19 + 12,000 × 12) / 31 s = 8,322.58 → 8,323 s."""
    account_id = await account_on_plans(engine)
    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 10, 1))

    await subscriptions.change_plan(engine, account_id, "big10", today=date(2025, 10, 20), immediately=True)

    assert await terms(engine, account_id, "2025-10") == (6_935_484, 8_323, 31)
    history = await subscriptions.plan_history(engine, account_id)
    assert [(s.plan, s.until_day) for s in history] == [("home5", date(2025, 10, 20)), ("big10", None)]


async def test_a_second_change_for_next_month_replaces_the_first(engine: AsyncEngine) -> None:
    """Two changes planned for November: the later one is the November plan;
    changing back to the current plan cancels the planned change."""
    account_id = await account_on_plans(engine)
    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 10, 1))
    await subscriptions.change_plan(engine, account_id, "big10", today=date(2025, 10, 5))

    await subscriptions.change_plan(engine, account_id, "bare1", today=date(2025, 10, 6))
    assert [s.plan for s in await subscriptions.plan_history(engine, account_id)] == ["home5", "bare1"]

    await subscriptions.change_plan(engine, account_id, "home5", today=date(2025, 10, 7))
    history = await subscriptions.plan_history(engine, account_id)
    assert [(s.plan, s.from_day, s.until_day) for s in history] == [
        ("home5", date(2025, 10, 1), date(2025, 11, 1)),
        ("home5", date(2025, 11, 1), None),
    ]
    assert await terms(engine, account_id, "2025-11") == (5_000_000, 6_000, 30)


async def test_a_new_version_of_the_plan_applies_from_its_first_day(engine: AsyncEngine) -> None:
    """bare1 costs 1 EUR until 15 October and 2 EUR from the 16th:
    (1 × 15 + 2 × 16) / 31 EUR = 1.516129 EUR; no minutes included."""
    account_id = await account_on_plans(engine)

    await subscriptions.subscribe(engine, account_id, "bare1", start_day=date(2025, 9, 1))

    assert await terms(engine, account_id, "2025-10") == (1_516_129, 0, 31)


async def test_ending_a_subscription_pro_rates_the_last_month(engine: AsyncEngine) -> None:
    """Ended from 16 November: November owes 15/30 of the fee and minutes,
    December nothing."""
    account_id = await account_on_plans(engine)
    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 10, 1))

    await subscriptions.end_subscription(engine, account_id, until_day=date(2025, 11, 16))

    assert await terms(engine, account_id, "2025-11") == (2_500_000, 3_000, 15)
    assert await terms(engine, account_id, "2025-12") is None


async def test_refusals_name_their_field(engine: AsyncEngine) -> None:
    """An unknown plan names the field ``plan`` and the stored plans; a plan
    without a version that day is refused; a second subscription names ``start_day``; an unknown account
    is UnknownAccountError. Nothing is stored by a refusal."""
    account_id = await account_on_plans(engine)

    with pytest.raises(InvalidSubscriptionError) as unknown:
        await subscriptions.subscribe(engine, account_id, "gold", start_day=date(2025, 10, 4))
    assert unknown.value.field == "plan"
    assert str(unknown.value) == "plan: no service plan 'gold'; stored plans: bare1, big10, home5, onnet"
    with pytest.raises(InvalidSubscriptionError) as too_early:
        await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2024, 12, 31))
    assert too_early.value.field == "plan" and "no version in force on 2024-12-31" in str(too_early.value)
    assert await subscriptions.plan_history(engine, account_id) == []

    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 10, 4))
    with pytest.raises(InvalidSubscriptionError) as twice:
        await subscriptions.subscribe(engine, account_id, "big10", start_day=date(2025, 12, 1))
    assert twice.value.field == "start_day"
    with pytest.raises(UnknownAccountError):
        await subscriptions.subscribe(engine, account_id + 1, "home5", start_day=date(2025, 10, 4))
    assert [s.plan for s in await subscriptions.plan_history(engine, account_id)] == ["home5"]



async def test_a_plan_rated_with_another_tariff_than_the_accounts_is_refused(engine: AsyncEngine) -> None:
    """A plan names the tariff its calls are rated with; an account on Annex
    B cannot subscribe to a plan rated with ``business`` (its calls would be
    rated otherwise than the plan says): refused, naming ``plan``."""
    await tariff_store.import_tariff_csv(engine, [
        "plan,version,effective_from,effective_to,service,destination,price_eur\n",
        "business,1,2025-01-01,,voice,ro_fixed,0.008\n",
    ])
    await service_plan_store.import_service_plan_csv(engine, [HEADER, "biz,1,2025-01-01,,20,business,national,500,\n"])
    account_id = (await ledger.open_account(engine, code="acct-1")).id

    with pytest.raises(InvalidSubscriptionError) as refused:
        await subscriptions.subscribe(engine, account_id, "biz", start_day=date(2025, 10, 4))

    assert refused.value.field == "plan"
    assert str(refused.value) == "plan: biz v1 rates calls with tariff business, the account with annex_b"
