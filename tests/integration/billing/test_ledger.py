"""Accounts and the ledger, on SQLite and PostgreSQL.

The ledger is the one source of truth for money: a balance is the SUM of the
account's entries (+ credits the account, − debits it).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.errors import (
    AccountCodeTakenError,
    IdempotencyKeyReusedError,
    InvalidAmountError,
    UnknownAccountError,
)
from billing.accounts import POSTPAID
from billing.tables import accounts, ledger_entries

T0 = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
EUR = 1_000_000


async def test_open_account_returns_it_with_its_terms(engine: AsyncEngine) -> None:
    account = await ledger.open_account(
        engine, code="acct-1", kind=POSTPAID, credit_limit_micro=50 * EUR, included_seconds=6000
    )

    assert await ledger.get_account(engine, account.id) == account
    assert await ledger.find_account(engine, "acct-1") == account
    assert (account.kind, account.status, account.tariff) == ("postpaid", "active", "annex_b")


async def test_open_account_with_a_taken_code_raises_account_code_taken(
    engine: AsyncEngine,
) -> None:
    await ledger.open_account(engine, code="acct-1")

    with pytest.raises(AccountCodeTakenError):
        await ledger.open_account(engine, code="acct-1")


async def test_a_prepaid_account_has_no_credit_limit(engine: AsyncEngine) -> None:
    with pytest.raises(InvalidAmountError):
        await ledger.open_account(engine, code="acct-1", credit_limit_micro=1)


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
async def test_top_up_refuses_what_is_not_a_positive_integer_of_micro_euros(
    engine: AsyncEngine, amount: object
) -> None:
    """Invariant 1: money is integer micro-euros, never float."""
    account = await ledger.open_account(engine, code="acct-1")

    with pytest.raises(InvalidAmountError):
        await ledger.top_up(engine, account.id, amount)  # type: ignore[arg-type]


async def test_unknown_account_raises_unknown_account(engine: AsyncEngine) -> None:
    with pytest.raises(UnknownAccountError):
        await ledger.top_up(engine, 404, EUR)
    with pytest.raises(UnknownAccountError):
        await ledger.get_account(engine, 404)


async def test_sign_convention_credits_are_positive_charges_negative(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")

    await ledger.top_up(engine, account.id, 10 * EUR)
    await ledger.charge(engine, account.id, 3 * EUR)
    await ledger.add_adjustment(engine, account.id, -EUR // 2)

    amounts = [e.amount_micro for e in await ledger.list_entries(engine, account.id)]
    assert amounts == [10 * EUR, -3 * EUR, -EUR // 2]
    assert await ledger.balance_micro(engine, account.id) == 6_500_000


async def test_postpaid_available_credit_is_limit_plus_balance(engine: AsyncEngine) -> None:
    """A postpaid balance is negative when the customer owes; the limit is how far it may go."""
    account = await ledger.open_account(
        engine, code="acct-1", kind=POSTPAID, credit_limit_micro=20 * EUR
    )
    await ledger.charge(engine, account.id, 5 * EUR)
    await ledger.add_payment(engine, account.id, 2 * EUR)

    assert await ledger.balance_micro(engine, account.id) == -3 * EUR
    assert await ledger.available_credit_micro(engine, account.id) == 17 * EUR


async def test_the_same_idempotency_key_writes_one_entry(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")

    first = await ledger.top_up(engine, account.id, EUR, idempotency_key="card-payment-42")
    again = await ledger.top_up(engine, account.id, EUR, idempotency_key="card-payment-42")

    assert again == first
    assert await ledger.balance_micro(engine, account.id) == EUR


async def test_an_idempotency_key_reused_for_another_amount_is_refused(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    await ledger.top_up(engine, account.id, EUR, idempotency_key="card-payment-42")

    async with engine.begin() as conn:
        with pytest.raises(IdempotencyKeyReusedError):
            await ledger.top_up(conn, account.id, 2 * EUR, idempotency_key="card-payment-42")
        await ledger.top_up(conn, account.id, 3 * EUR)  # the transaction is still usable

    assert await ledger.balance_micro(engine, account.id) == 4 * EUR


async def test_spent_today_counts_usage_since_midnight_in_bucharest(engine: AsyncEngine) -> None:
    """The daily limit's day starts at 00:00 Europe/Bucharest (21:00 UTC in summer)."""
    account = await ledger.open_account(engine, code="acct-1")
    await ledger.top_up(engine, account.id, 10 * EUR, now=T0)
    midnight_local = datetime(2025, 8, 1, 21, 0, tzinfo=timezone.utc)
    await ledger.charge(engine, account.id, EUR, now=midnight_local - timedelta(seconds=1))
    await ledger.charge(engine, account.id, 2 * EUR, now=midnight_local)
    await ledger.charge(engine, account.id, 4 * EUR, kind="recurring_fee", now=midnight_local)

    spent = await ledger.spent_today_micro(
        engine, account.id, now=midnight_local + timedelta(hours=2)
    )

    assert spent == 2 * EUR  # yesterday's call and the monthly fee are not today's usage


async def test_work_on_a_callers_connection_is_undone_by_its_rollback(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")

    async with engine.connect() as conn:
        await ledger.top_up(conn, account.id, EUR)
        await conn.rollback()

    assert await ledger.balance_micro(engine, account.id) == 0


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["top_up", "payment", "charge", "fee", "adjustment"]),
        st.integers(min_value=1, max_value=ledger.MAX_OPERATION_MICRO),  # 100,000 EUR
        st.booleans(),
    ),
    max_size=12,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
async def test_balance_is_always_the_sum_of_the_ledger(engine: AsyncEngine, operations) -> None:
    """Under any sequence of operations the balance is the SUM of the entries,
    and equals what the operations added up to (no stored balance to drift)."""
    account = await ledger.open_account(
        engine, code=f"acct-{await _count_accounts(engine)}", kind=POSTPAID, credit_limit_micro=EUR
    )
    expected = 0
    for op, amount, negative in operations:
        if op == "top_up":
            await ledger.top_up(engine, account.id, amount)
            expected += amount
        elif op == "payment":
            await ledger.add_payment(engine, account.id, amount)
            expected += amount
        elif op == "charge":
            await ledger.charge(engine, account.id, amount)
            expected -= amount
        elif op == "fee":
            await ledger.charge(engine, account.id, amount, kind="recurring_fee")
            expected -= amount
        else:
            await ledger.add_adjustment(engine, account.id, -amount if negative else amount)
            expected += -amount if negative else amount

    async with engine.connect() as conn:
        summed = await conn.scalar(
            select(func.coalesce(func.sum(ledger_entries.c.amount_micro), 0)).where(
                ledger_entries.c.account_id == account.id
            )
        )
    assert await ledger.balance_micro(engine, account.id) == int(summed) == expected
    assert await ledger.available_credit_micro(engine, account.id) == expected + EUR


async def _count_accounts(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(accounts)))
