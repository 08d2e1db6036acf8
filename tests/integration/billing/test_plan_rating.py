"""Rating with a service plan's included minutes, on SQLite and PostgreSQL:
ingestion and re-rating take a month's bundle from the account's plans,
pro-rated by days of service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import subscriptions
from billing.ingest import CdrSource, ingest_lines
from billing.rerating import rerate_period
from billing.tables import bundle_usage, cdrs

from .cdrs import FIXED, MOBILE, master_line
from .test_subscriptions import account_on_plans


async def test_ingest_uses_the_plans_pro_rated_bundle_and_re_rating_keeps_its_split(engine: AsyncEngine) -> None:
    """On home5 from 16 August (16/31 of 6,000 s = 3,096.77 → 3,097 s), with
    no included seconds of its own: a 3,000 s fixed call is included, a
    200 s mobile call after it gets the last 97 s and pays 103 s; a July
    call (before the plan) has no bundle. Re-rating August with the same
    tariff finds the same split: nothing to adjust."""
    account_id = await account_on_plans(engine)
    await subscriptions.subscribe(engine, account_id, "home5", start_day=date(2025, 8, 16))
    august = datetime(2025, 8, 20, 9, tzinfo=UTC)

    await ingest_lines(engine, [
        master_line("jul", dialled=FIXED, billsec=60, start=datetime(2025, 7, 20, 9, tzinfo=UTC)),
        master_line("aug-1", dialled=FIXED, billsec=3000, start=august),
        master_line("aug-2", dialled=MOBILE, billsec=200, start=august + timedelta(hours=1)),
    ], CdrSource("Master.csv", "pbx1"))

    async with engine.connect() as conn:
        split = (await conn.execute(
            select(cdrs.c.uniqueid, cdrs.c.included_seconds, cdrs.c.charged_seconds).order_by(cdrs.c.start))).all()
        used = (await conn.execute(select(bundle_usage.c.month, bundle_usage.c.used_seconds))).all()
    assert [tuple(row) for row in split] == [("jul", 0, 60), ("aug-1", 3000, 0), ("aug-2", 97, 103)]
    assert [tuple(row) for row in used] == [("2025-08", 3097)]

    report = await rerate_period(engine, datetime(2025, 7, 31, 21, tzinfo=UTC), datetime(2025, 8, 31, 21, tzinfo=UTC))
    assert (report.cdrs, report.adjusted) == (2, 0)
