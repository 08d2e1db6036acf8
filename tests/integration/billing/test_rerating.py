"""Re-rating after a tariff correction, on SQLite and PostgreSQL: adjustments
in the ledger, history never edited, idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, tariff_store
from billing._datafile import packaged_lines
from billing.ingest import CdrSource, ingest_lines
from billing.rerating import rerate_period
from billing.tables import bundle_usage, cdr_adjustments, cdrs

from .cdrs import FIXED, MOBILE, T0, master_line

SOURCE = CdrSource("Master.csv", "pbx1")
AUGUST = (
    datetime(2025, 7, 31, 21, 0, tzinfo=timezone.utc),
    datetime(2025, 8, 31, 21, 0, tzinfo=timezone.utc),
)


def corrected_annex_b(fixed_price: str, version: str = "2025.1-fix") -> list[str]:
    """Annex B with the Romanian fixed price corrected, as a new version from the same day."""
    lines = []
    for line in packaged_lines("annex_b.csv"):
        if line.startswith("annex_b,2025.1,"):
            line = line.replace("annex_b,2025.1,", f"annex_b,{version},", 1)
            if ",voice,ro_fixed,0.01," in line:
                line = line.replace(",voice,ro_fixed,0.01,", f",voice,ro_fixed,{fixed_price},")
        lines.append(line)
    return lines


async def original_costs(engine: AsyncEngine) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(cdrs.c.uniqueid, cdrs.c.cost_micro).order_by(cdrs.c.start))
        return [tuple(r) for r in rows]


async def adjustment_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(cdr_adjustments))


async def test_a_correction_is_charged_as_adjustments_and_history_kept(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    await ingest_lines(
        engine,
        [
            master_line("u1", dialled=FIXED, billsec=90),
            master_line("u2", dialled=MOBILE, billsec=90),
        ],
        SOURCE,
    )
    before = await original_costs(engine)
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.02"))

    report = await rerate_period(engine, *AUGUST)

    assert (report.cdrs, report.adjusted, report.delta_micro) == (2, 1, 15_000)
    assert await original_costs(engine) == before == [("u1", 15_000), ("u2", 37_500)]
    entries = await ledger.list_entries(engine, account.id)
    assert [(e.kind, e.amount_micro) for e in entries] == [
        ("call_charge", -15_000), ("call_charge", -37_500), ("adjustment", -15_000),
    ]  # fmt: skip
    async with engine.connect() as conn:
        adjusted = (
            await conn.execute(select(cdr_adjustments.c.cost_micro, cdr_adjustments.c.delta_micro))
        ).one()
    assert tuple(adjusted) == (30_000, 15_000)


async def test_re_rating_again_changes_nothing(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    await ingest_lines(engine, [master_line("u1", dialled=FIXED, billsec=90)], SOURCE)
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.005"))
    await rerate_period(engine, *AUGUST)
    balance = await ledger.balance_micro(engine, account.id)

    again = await rerate_period(engine, *AUGUST)

    assert (again.cdrs, again.adjusted) == (1, 0)
    assert balance == -7_500
    assert await ledger.balance_micro(engine, account.id) == balance
    assert await adjustment_count(engine) == 1


async def test_a_second_correction_adjusts_from_the_first_one(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    await ingest_lines(engine, [master_line("u1", dialled=FIXED, billsec=90)], SOURCE)
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.02"))
    await rerate_period(engine, *AUGUST)
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.03", "2025.1-fix2"))

    report = await rerate_period(engine, *AUGUST)

    assert report.delta_micro == 15_000
    assert await ledger.balance_micro(engine, account.id) == -45_000  # 0.03 €/min × 90 s


async def test_only_the_periods_cdrs_are_re_rated(engine: AsyncEngine) -> None:
    await ledger.open_account(engine, code="acct-1")
    september = datetime(2025, 9, 2, 9, 0, tzinfo=timezone.utc)
    await ingest_lines(
        engine,
        [master_line("aug", dialled=FIXED), master_line("sep", dialled=FIXED, start=september)],
        SOURCE,
    )
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.02"))

    report = await rerate_period(engine, *AUGUST)

    assert (report.cdrs, report.adjusted) == (1, 1)


async def test_re_rating_the_month_restores_the_call_start_order_of_the_bundle(
    engine: AsyncEngine,
) -> None:
    """A CDR arriving after a later-starting call took the bundle: ingestion
    gives it what is left; re-rating the month splits it in call-start order."""
    account = await ledger.open_account(engine, code="acct-1", included_seconds=100)
    await ingest_lines(
        engine,
        [master_line("late", dialled=FIXED, billsec=100, start=T0 + timedelta(minutes=10))],
        SOURCE,
    )
    await ingest_lines(
        engine, [master_line("early", dialled=MOBILE, billsec=100, start=T0)], SOURCE
    )
    assert (
        await ledger.balance_micro(engine, account.id) == -41_667
    )  # the mobile call, fully charged

    report = await rerate_period(engine, *AUGUST)

    assert report.adjusted == 2
    assert (
        await ledger.balance_micro(engine, account.id) == -16_667
    )  # now the fixed call is charged
    async with engine.connect() as conn:
        assert await conn.scalar(select(bundle_usage.c.used_seconds)) == 100
