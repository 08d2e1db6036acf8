"""Tariffs stored in the database, versioned, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import tariff_store
from billing._datafile import DataFileError, packaged_lines
from billing.errors import UnknownTariffError
from billing.numbering import default_numbering_plan
from billing.tables import tariff_versions
from billing.tariffs import TARIFF_COLUMNS, default_tariff, read_tariff_csv

HEADER = ",".join(TARIFF_COLUMNS) + "\n"
AUGUST = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
NEXT_YEAR = datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)


def plan_rows(version: str, start: str, fixed: str = "0.01", plan: str = "home") -> list[str]:
    return [
        HEADER,
        f"{plan},{version},{start},,voice,ro_fixed,{fixed},60,1,0,Fixed\n",
        f"{plan},{version},{start},,voice,ro_mobile,0.025,60,1,0,Mobile\n",
    ]


def fixed_rate_at(tariff, instant: datetime) -> Decimal:
    classification = default_numbering_plan().classify("0212345678")
    return tariff.plan_in_effect(instant).voice_rate(classification).price_eur


async def test_annex_b_is_stored_on_first_use(engine: AsyncEngine) -> None:
    tariff = await tariff_store.load_tariff(engine)

    assert tariff.versions == default_tariff().versions
    assert await tariff_store.stored_plan_names(engine) == ["annex_b"]


async def test_import_then_export_gives_back_the_same_plans(engine: AsyncEngine) -> None:
    lines = packaged_lines("annex_b.csv")

    report = await tariff_store.import_tariff_csv(engine, lines, "annex_b.csv")
    out = io.StringIO()
    await tariff_store.export_tariff_csv(engine, out)

    assert report.added == [("annex_b", "2025.1")]
    exported = read_tariff_csv(out.getvalue().splitlines(keepends=True))
    assert exported["annex_b"].versions == read_tariff_csv(lines)["annex_b"].versions


async def test_importing_a_file_twice_changes_nothing(engine: AsyncEngine) -> None:
    await tariff_store.import_tariff_csv(engine, plan_rows("1", "2025-01-01"))

    report = await tariff_store.import_tariff_csv(engine, plan_rows("1", "2025-01-01"))

    assert (report.added, report.unchanged) == ([], [("home", "1")])
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(tariff_versions)) == 1


async def test_rating_uses_the_version_in_effect_at_the_call_start(engine: AsyncEngine) -> None:
    await tariff_store.import_tariff_csv(engine, plan_rows("2025", "2025-01-01"))
    await tariff_store.import_tariff_csv(engine, plan_rows("2026", "2026-01-01", fixed="0.012"))

    tariff = await tariff_store.load_tariff(engine, "home")

    assert fixed_rate_at(tariff, AUGUST) == Decimal("0.01")
    assert fixed_rate_at(tariff, NEXT_YEAR) == Decimal("0.012")


async def test_a_version_starting_with_a_stored_one_is_a_correction(engine: AsyncEngine) -> None:
    """The stored version is kept (CDRs point at it) but superseded."""
    await tariff_store.import_tariff_csv(engine, plan_rows("2025", "2025-01-01"))

    report = await tariff_store.import_tariff_csv(
        engine, plan_rows("2025-fix", "2025-01-01", "0.008")
    )

    assert report.superseded == [("home", "2025")]
    stored = await tariff_store.load_stored_tariff(engine, "home")
    assert [p.version for p in stored.tariff.versions] == ["2025-fix"]
    assert fixed_rate_at(stored.tariff, AUGUST) == Decimal("0.008")


async def test_a_stored_label_with_other_rates_is_refused_with_its_line(
    engine: AsyncEngine,
) -> None:
    await tariff_store.import_tariff_csv(engine, plan_rows("2025", "2025-01-01"))

    with pytest.raises(DataFileError) as refused:
        await tariff_store.import_tariff_csv(
            engine, plan_rows("2025", "2025-01-01", "0.02"), "fix.csv"
        )

    assert refused.value.errors[0][0] == 2
    assert "new version label" in refused.value.errors[0][1]


async def test_a_malformed_file_is_refused_with_every_error_and_its_line(
    engine: AsyncEngine,
) -> None:
    lines = [
        HEADER,
        "home,1,2025-01-01,,voice,ro_fixed,0.01,60,1,0,ok\n",
        "home,1,2025-01-01,,voice,ro_mobile,cheap,60,1,0,bad price\n",
        "home,1,2025-13-01,,fax,ro_mobile,0.01,60,1,0,bad date and service\n",
    ]

    with pytest.raises(DataFileError) as refused:
        await tariff_store.import_tariff_csv(engine, lines, "home.csv")

    assert sorted({line for line, _ in refused.value.errors}) == [3, 4]
    assert "home.csv" in str(refused.value)
    with pytest.raises(UnknownTariffError):
        await tariff_store.load_tariff(engine, "home")  # nothing was stored


async def test_an_overlapping_version_is_refused(engine: AsyncEngine) -> None:
    await tariff_store.import_tariff_csv(
        engine, [HEADER, "home,1,2025-01-01,2026-01-01,voice,ro_fixed,0.01,60,1,0,\n"]
    )

    with pytest.raises(DataFileError, match="overlaps"):
        await tariff_store.import_tariff_csv(
            engine, [HEADER, "home,2,2025-06-01,,voice,ro_fixed,0.01,60,1,0,\n"]
        )


async def test_an_unknown_plan_raises_unknown_tariff(engine: AsyncEngine) -> None:
    with pytest.raises(UnknownTariffError):
        await tariff_store.load_tariff(engine, "gold")


async def test_import_and_export_files(engine: AsyncEngine, tmp_path) -> None:
    source = tmp_path / "home.csv"
    source.write_text("".join(plan_rows("1", "2025-01-01")), encoding="utf-8")
    exported = tmp_path / "out.csv"

    await tariff_store.import_tariff_file(engine, source)
    await tariff_store.export_tariff_file(engine, exported, "home")

    assert read_tariff_csv(exported.read_text().splitlines(True))["home"].versions == (
        read_tariff_csv(plan_rows("1", "2025-01-01"))["home"].versions
    )
