"""The included-seconds counter (``bundle_usage``) is a cached sum: it must
always equal the CDRs' current included seconds, whatever the order and
batching of arrivals, repeats and re-ratings — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.ingest import CdrSource, contract_month, ingest_lines
from billing.rerating import rerate_period
from billing.tables import bundle_usage, cdr_adjustments, cdrs, ledger_entries

from .cdrs import FIXED, GERMANY, MOBILE, master_line

START = datetime(2025, 8, 28, 12, 0, tzinfo=timezone.utc)  # the calls straddle August/September
INCLUDED = 600
_accounts = count()

CALLS = st.lists(
    st.tuples(
        st.sampled_from([FIXED, MOBILE, GERMANY]),
        st.integers(min_value=0, max_value=400),  # billsec
        st.integers(min_value=0, max_value=8 * 24 * 60),  # minutes after START
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    calls=CALLS,
    batch=st.integers(min_value=1, max_value=5),
    order=st.randoms(use_true_random=False),
)
async def test_the_bundle_counter_is_the_sum_of_the_current_included_seconds(
    engine: AsyncEngine, calls, batch: int, order
) -> None:
    code = f"acct-{next(_accounts)}"
    account = await ledger.open_account(engine, code=code, included_seconds=INCLUDED)
    lines = [
        master_line(
            f"{code}-{i}",
            account=code,
            dialled=dialled,
            billsec=billsec,
            start=START + timedelta(minutes=minutes),
        )
        for i, (dialled, billsec, minutes) in enumerate(calls)
    ]
    order.shuffle(lines)  # CDRs are written at hangup, and nodes deliver late
    source = CdrSource("Master.csv", "pbx1")

    await ingest_lines(engine, lines, source, batch_lines=batch)
    await ingest_lines(engine, lines[: len(lines) // 2], source)  # a repeat
    await assert_counter_is_the_sum(engine, account.id)

    await rerate_period(engine, START - timedelta(days=30), START + timedelta(days=30))
    await assert_counter_is_the_sum(engine, account.id)


async def assert_counter_is_the_sum(engine: AsyncEngine, account_id: int) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(cdrs.c.id, cdrs.c.start, cdrs.c.included_seconds, cdrs.c.cost_micro).where(
                    cdrs.c.account_id == account_id
                )
            )
        ).all()
        adjustments = (
            await conn.execute(select(cdr_adjustments).order_by(cdr_adjustments.c.id))
        ).all()
        counters = dict(
            (
                await conn.execute(
                    select(bundle_usage.c.month, bundle_usage.c.used_seconds).where(
                        bundle_usage.c.account_id == account_id
                    )
                )
            ).all()
        )
        entries = (
            (
                await conn.execute(
                    select(ledger_entries.c.amount_micro).where(
                        ledger_entries.c.account_id == account_id
                    )
                )
            )
            .scalars()
            .all()
        )
    latest = {a.cdr_id: a for a in adjustments}  # ordered by id: the last one wins
    used: dict[str, int] = {}
    cost = 0
    for row in rows:
        current = latest.get(row.id, row)
        month = contract_month(row.start)
        used[month] = used.get(month, 0) + current.included_seconds
        cost += current.cost_micro
    assert {m: s for m, s in counters.items() if s} == {m: s for m, s in used.items() if s}
    assert all(seconds <= INCLUDED for seconds in used.values())
    assert sum(entries) == -cost  # the ledger follows the current costs
