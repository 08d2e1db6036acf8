"""Reservations of credit for live calls, on SQLite and PostgreSQL.

Invariant 2: the sum of live reservations never exceeds the available
credit or the daily limit — with many tasks, connections and processes
competing for the last credit.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, reservations
from billing.errors import (
    AccountSuspendedError,
    DailyLimitReachedError,
    InsufficientCreditError,
    ReservationClosedError,
)
from billing.accounts import POSTPAID
from billing.tables import ledger_entries

T0 = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
EUR = 1_000_000
TTL = timedelta(minutes=5)
REPO_ROOT = Path(__file__).resolve().parents[3]


async def prepaid(engine: AsyncEngine, balance: int, **terms) -> ledger.Account:
    account = await ledger.open_account(engine, code="acct-1", **terms)
    await ledger.top_up(engine, account.id, balance, now=T0)
    return account


async def live_total(engine: AsyncEngine, account_id: int) -> int:
    return sum(r.amount_micro for r in await reservations.live_reservations(engine, account_id))


async def charge_entries(engine: AsyncEngine, account_id: int) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(
                ledger_entries.c.account_id == account_id, ledger_entries.c.kind == "call_charge"
            )
        )


async def test_reserve_holds_credit_until_released(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 5 * EUR)

    held = await reservations.reserve(
        engine, account.id, 2 * EUR, ttl=TTL, reference="call-1", now=T0
    )
    assert await ledger.available_credit_micro(engine, account.id, now=T0) == 3 * EUR

    await reservations.release(engine, held.id, now=T0)
    assert await ledger.available_credit_micro(engine, account.id, now=T0) == 5 * EUR


async def test_reserve_beyond_available_credit_raises_insufficient_credit(
    engine: AsyncEngine,
) -> None:
    account = await prepaid(engine, 5 * EUR)
    await reservations.reserve(engine, account.id, 4 * EUR, ttl=TTL, reference="call-1", now=T0)

    with pytest.raises(InsufficientCreditError) as refused:
        await reservations.reserve(engine, account.id, 2 * EUR, ttl=TTL, reference="call-2", now=T0)

    assert refused.value.available_micro == EUR
    assert await live_total(engine, account.id) == 4 * EUR


async def test_postpaid_reserves_up_to_its_credit_limit(engine: AsyncEngine) -> None:
    account = await ledger.open_account(
        engine, code="acct-1", kind=POSTPAID, credit_limit_micro=3 * EUR
    )

    await reservations.reserve(engine, account.id, 3 * EUR, ttl=TTL, reference="call-1", now=T0)
    with pytest.raises(InsufficientCreditError):
        await reservations.reserve(engine, account.id, 1, ttl=TTL, reference="call-2", now=T0)


async def test_a_suspended_account_cannot_reserve(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 5 * EUR)
    await ledger.set_account_status(engine, account.id, "suspended")

    with pytest.raises(AccountSuspendedError):
        await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="call-1", now=T0)


async def test_daily_limit_counts_todays_spend_and_live_reservations(engine: AsyncEngine) -> None:
    """Limit − today's spend − live reservations is what may still be reserved today."""
    account = await prepaid(engine, 10 * EUR, daily_limit_micro=2 * EUR)
    first = await reservations.reserve(
        engine, account.id, 1_500_000, ttl=TTL, reference="c1", now=T0
    )
    with pytest.raises(DailyLimitReachedError):
        await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c2", now=T0)

    await reservations.settle(engine, first.id, 1_200_000, now=T0)

    await reservations.reserve(engine, account.id, 800_000, ttl=TTL, reference="c3", now=T0)
    with pytest.raises(DailyLimitReachedError) as refused:
        await reservations.reserve(engine, account.id, 1, ttl=TTL, reference="c4", now=T0)
    assert refused.value.left_micro == 0


async def test_the_daily_limit_resets_at_midnight_in_bucharest(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 10 * EUR, daily_limit_micro=EUR)
    held = await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c1", now=T0)
    await reservations.settle(engine, held.id, EUR, now=T0)

    next_day = datetime(2025, 8, 1, 21, 0, tzinfo=timezone.utc)  # 00:00 in Bucharest
    await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c2", now=next_day)


async def test_extend_adds_to_a_live_reservation_under_the_same_checks(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 3 * EUR)
    held = await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c1", now=T0)

    extended = await reservations.extend(
        engine, held.id, EUR, ttl=TTL, now=T0 + timedelta(minutes=1)
    )

    assert extended.amount_micro == 2 * EUR
    assert extended.expires_at == T0 + timedelta(minutes=1) + TTL
    with pytest.raises(InsufficientCreditError):
        await reservations.extend(engine, held.id, 2 * EUR, now=T0 + timedelta(minutes=1))


async def test_an_expired_reservation_cannot_be_extended(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 3 * EUR)
    held = await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c1", now=T0)

    with pytest.raises(ReservationClosedError):
        await reservations.extend(engine, held.id, EUR, now=T0 + TTL)


async def test_settle_writes_exactly_one_charge(engine: AsyncEngine) -> None:
    """Settling again (a retry) with the same cost changes nothing."""
    account = await prepaid(engine, 5 * EUR)
    held = await reservations.reserve(engine, account.id, 2 * EUR, ttl=TTL, reference="c1", now=T0)

    settled = await reservations.settle(engine, held.id, 1_234_567, now=T0)
    again = await reservations.settle(engine, held.id, 1_234_567, now=T0)

    assert again == settled
    assert (settled.state, settled.settled_micro) == ("settled", 1_234_567)
    assert await charge_entries(engine, account.id) == 1
    assert await ledger.balance_micro(engine, account.id) == 5 * EUR - 1_234_567
    with pytest.raises(ReservationClosedError):
        await reservations.settle(engine, held.id, 1, now=T0)


async def test_settling_at_zero_cost_writes_no_entry(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 5 * EUR)
    held = await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c1", now=T0)

    settled = await reservations.settle(engine, held.id, 0, now=T0)

    assert settled.state == "settled" and settled.settled_by is None
    assert await charge_entries(engine, account.id) == 0


async def test_a_settled_reservation_cannot_be_released(engine: AsyncEngine) -> None:
    account = await prepaid(engine, 5 * EUR)
    held = await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference="c1", now=T0)
    await reservations.settle(engine, held.id, EUR, now=T0)

    with pytest.raises(ReservationClosedError):
        await reservations.release(engine, held.id, now=T0)


async def test_an_expired_reservation_stops_holding_credit_and_sweep_releases_it(
    engine: AsyncEngine,
) -> None:
    account = await prepaid(engine, 5 * EUR)
    expiring = await reservations.reserve(
        engine, account.id, 2 * EUR, ttl=TTL, reference="c1", now=T0
    )
    lasting = await reservations.reserve(
        engine, account.id, EUR, ttl=timedelta(hours=1), reference="c2", now=T0
    )
    later = T0 + TTL

    assert await ledger.available_credit_micro(engine, account.id, now=later) == 4 * EUR
    assert await reservations.sweep_expired(engine, now=later) == 1
    assert await reservations.sweep_expired(engine, now=later) == 0

    assert (await reservations.get_reservation(engine, expiring.id)).state == "released"
    assert (await reservations.get_reservation(engine, lasting.id)).state == "live"


async def test_tasks_competing_for_the_last_credit_never_overspend(engine: AsyncEngine) -> None:
    """30 reservations of 1 EUR race for 7 EUR over the engine's pool (several
    connections at once): exactly 7 win, the others are refused."""
    account = await prepaid(engine, 7 * EUR)

    async def attempt(n: int) -> bool:
        try:
            await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference=f"c{n}")
        except InsufficientCreditError:
            return False
        return True

    won = await asyncio.gather(*(attempt(n) for n in range(30)))

    assert sum(won) == 7
    assert await live_total(engine, account.id) == 7 * EUR
    assert await ledger.available_credit_micro(engine, account.id) == 0


async def test_extensions_competing_for_the_last_credit_never_overspend(
    engine: AsyncEngine,
) -> None:
    account = await prepaid(engine, 10 * EUR)
    held = [
        await reservations.reserve(engine, account.id, EUR, ttl=TTL, reference=f"c{n}")
        for n in range(4)
    ]

    async def attempt(reservation_id: int) -> bool:
        try:
            await reservations.extend(engine, reservation_id, EUR)
        except InsufficientCreditError:
            return False
        return True

    won = await asyncio.gather(*(attempt(r.id) for r in held for _ in range(4)))

    assert sum(won) == 6
    assert await live_total(engine, account.id) == 10 * EUR


COMPETING_PROCESS = """
import asyncio, sys
from datetime import timedelta
from billing import reservations
from billing.errors import InsufficientCreditError, DailyLimitReachedError
from controlplane.db import create_engine

async def attempt(engine, account_id, reference):
    try:
        await reservations.reserve(
            engine, account_id, 1_000_000, ttl=timedelta(minutes=5), reference=reference
        )
    except (InsufficientCreditError, DailyLimitReachedError):
        return 0
    return 1

async def main(url, account_id, tag):
    engine = create_engine(url)
    try:
        won = await asyncio.gather(*(attempt(engine, account_id, f"{tag}-{n}") for n in range(12)))
    finally:
        await engine.dispose()
    print(sum(won))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""


async def test_processes_competing_for_the_last_credit_never_overspend(
    db_url: str, engine: AsyncEngine
) -> None:
    """Three control-plane processes on one database, each with several
    connections: 36 attempts, 9 EUR, a daily limit of 8 EUR; 8 reservations
    in all, whoever wins them."""
    account = await prepaid(engine, 9 * EUR, daily_limit_micro=8 * EUR)

    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            COMPETING_PROCESS,
            db_url,
            str(account.id),
            f"p{n}",
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(3)
    ]
    outputs = [await process.communicate() for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0]
    assert sum(int(out) for out, _ in outputs) == 8
    assert await live_total(engine, account.id) == 8 * EUR
