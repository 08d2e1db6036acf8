"""An account's calls, newest first (the API's call list and its CSV
export), are read through the (account_id, id) index of the migrated
schema, not by walking every CDR: bench_admin_http measured 160 ms for an
account without calls among a million CDRs before the index."""

from __future__ import annotations

from sqlalchemy import text

from billing.call_records import CallFilter, _query
from controlplane import migrate
from controlplane.db import create_engine


async def test_an_accounts_calls_are_found_through_the_account_index(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.sqlite3'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        for which, before_id in ((CallFilter(account_id=7), None), (CallFilter(account_id=7), 1000)):
            query = _query(which, before_id, 50).compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            async with engine.connect() as conn:
                plan = " | ".join(row[-1] for row in await conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
            assert "USING INDEX ix_cdrs_account_id_id (account_id=?" in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # the index gives the order too
    finally:
        await engine.dispose()
