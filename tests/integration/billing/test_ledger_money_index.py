"""An account's money (the account page's balance and today's usage, read
by billing.ledger.account_money) is summed from the ledger's covering
index alone, not by reading each of a busy account's ~10,000 entries
(bench_admin_http times the account page with and without it:
bench/results/admin_http.json, "baseline")."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from billing.ledger import _money_query
from controlplane import migrate
from controlplane.db import create_engine


async def test_an_accounts_balance_and_todays_usage_are_read_from_the_covering_index(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        query = _money_query(7, datetime(2025, 9, 2, 9, 0, tzinfo=timezone.utc)).compile(
            engine.sync_engine, compile_kwargs={"literal_binds": True})
        async with engine.connect() as conn:
            plan = [row[-1] for row in await conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))]
        ledger_reads = [step for step in plan if "ledger_entries" in step]
        assert len(ledger_reads) == 2, plan  # the balance, today's usage
        for step in ledger_reads:
            assert "USING COVERING INDEX ix_ledger_entries_account_id_created_at_kind_amount_micro" in step, plan
    finally:
        await engine.dispose()
