"""Rating with a service plan's included minutes, on SQLite and PostgreSQL:
ingestion and re-rating take a month's bundle from the account's plans,
pro-rated by days of service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import service_plan_store, subscriptions
from billing.ingest import CdrSource, ingest_lines
from billing.rerating import rerate_period
from billing.tables import bundle_usage, cdrs

from .cdrs import FIXED, GERMANY, MOBILE, master_line
from .test_subscriptions import HEADER, account_on_plans


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


GROUP_PLANS = [
    "mix,2025.1,2025-01-01,,6.00,,ro_mobile,2,mobile and international minutes apart\n",
    "mix,2025.1,2025-01-01,,6.00,,international,1,mobile and international minutes apart\n",
]


async def test_each_destination_groups_minutes_are_a_pool_of_its_own(engine: AsyncEngine) -> None:
    """Art. 7.4–7.5 with minutes per destination group: on ``mix`` (2 mobile
    and 1 international minute a month) a 150 s mobile call uses the 120
    mobile seconds and pays 30; a fixed call uses nothing (no fixed or
    national pool); a 90 s call to Germany uses the 60 international seconds
    and pays 30 — each pool apart, counted per group in ``bundle_usage``;
    re-rating the month finds the same split."""
    account_id = await account_on_plans(engine)
    await service_plan_store.import_service_plan_csv(engine, [HEADER, *GROUP_PLANS])
    await subscriptions.subscribe(engine, account_id, "mix", start_day=date(2025, 8, 1))
    august = datetime(2025, 8, 20, 9, tzinfo=UTC)

    await ingest_lines(engine, [
        master_line("mobile", dialled=MOBILE, billsec=150, start=august),
        master_line("fixed", dialled=FIXED, billsec=60, start=august + timedelta(minutes=10)),
        master_line("germany", dialled=GERMANY, billsec=90, start=august + timedelta(minutes=20)),
    ], CdrSource("Master.csv", "pbx1"))

    async with engine.connect() as conn:
        split = (await conn.execute(
            select(cdrs.c.uniqueid, cdrs.c.included_seconds, cdrs.c.charged_seconds).order_by(cdrs.c.start))).all()
        used = (await conn.execute(
            select(bundle_usage.c.destination_group, bundle_usage.c.used_seconds)
            .order_by(bundle_usage.c.destination_group))).all()
    assert [tuple(row) for row in split] == [("mobile", 120, 30), ("fixed", 0, 60), ("germany", 60, 30)]
    assert [tuple(row) for row in used] == [("international", 60), ("ro_mobile", 120)]

    report = await rerate_period(engine, datetime(2025, 7, 31, 21, tzinfo=UTC), datetime(2025, 8, 31, 21, tzinfo=UTC))
    assert (report.cdrs, report.adjusted) == (3, 0)


async def test_a_month_with_a_specific_and_a_national_pool_spends_the_specific_one_first(
    engine: AsyncEngine,
) -> None:
    """Changing at once on 16 August from ``mix`` (2 mobile minutes) to
    ``home5`` (100 national minutes) leaves August all three pools,
    pro-rated: ro_mobile 15/31 of 120 s = 58 s, international 15/31 of 60 s
    = 29 s, national 16/31 of 6,000 s = 3,097 s. A
    200 s mobile call takes the mobile pool's 58 s first, then pays 142 s —
    it does not reach into the national pool, which a fixed call then uses."""
    account_id = await account_on_plans(engine)
    await service_plan_store.import_service_plan_csv(engine, [HEADER, *GROUP_PLANS])
    await subscriptions.subscribe(engine, account_id, "mix", start_day=date(2025, 8, 1))
    await subscriptions.change_plan(engine, account_id, "home5", today=date(2025, 8, 16), immediately=True)
    august = datetime(2025, 8, 20, 9, tzinfo=UTC)

    await ingest_lines(engine, [
        master_line("mobile", dialled=MOBILE, billsec=200, start=august),
        master_line("fixed", dialled=FIXED, billsec=60, start=august + timedelta(minutes=10)),
    ], CdrSource("Master.csv", "pbx1"))

    async with engine.connect() as conn:
        found = await subscriptions.month_terms(conn, account_id, "2025-08")
        split = (await conn.execute(
            select(cdrs.c.uniqueid, cdrs.c.included_seconds, cdrs.c.charged_seconds).order_by(cdrs.c.start))).all()
    assert found is not None and found.included == {"ro_mobile": 58, "international": 29, "national": 3097}
    assert [tuple(row) for row in split] == [("mobile", 58, 142), ("fixed", 60, 0)]
