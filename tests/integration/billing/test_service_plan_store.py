"""Service plans stored in the database, versioned like tariffs, on SQLite
and PostgreSQL: import all or nothing, corrections, export that re-imports
identically."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import service_plan_store, tariff_store
from billing.errors import UnknownServicePlanError
from billing.service_plans import SERVICE_PLAN_COLUMNS, Allowance, ServicePlanFileError
from billing.tables import service_plan_allowances, service_plan_versions
from controlplane import migrate
from controlplane.db import create_engine

HEADER = ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\n"


def home5(version: str = "2025.1", start: str = "2025-01-01", fee: str = "5.00", minutes: int = 100) -> list[str]:
    """The 5 EUR plan with ``minutes`` national minutes and 1,000 on-net."""
    return [
        HEADER,
        f"home5,{version},{start},,{fee},,national,{minutes},Home\n",
        f"home5,{version},{start},,{fee},,on_net,1000,Home\n",
    ]


async def stored_rows(engine: AsyncEngine) -> tuple[int, int]:
    """How many versions and allowances are stored."""
    async with engine.connect() as conn:
        versions = await conn.scalar(select(func.count()).select_from(service_plan_versions))
        allowances = await conn.scalar(select(func.count()).select_from(service_plan_allowances))
    return versions, allowances


async def test_an_imported_plan_loads_with_its_fee_minutes_and_tariff(engine: AsyncEngine) -> None:
    """The fee is exact micro-euros, minutes are per group, the tariff defaults to Annex B."""
    report = await service_plan_store.import_service_plan_csv(engine, home5())

    plan = await service_plan_store.load_service_plan(engine, "home5")
    assert report.added == [("home5", "2025.1")]
    [version] = plan.versions
    assert (version.monthly_fee_micro, version.tariff, version.effective_from) == (5_000_000, "annex_b",
                                                                                   date(2025, 1, 1))
    assert version.allowances == (Allowance("national", 100), Allowance("on_net", 1000))


async def test_export_re_imports_identically(engine: AsyncEngine, tmp_path) -> None:
    """The export of one database, imported into another, exports the same
    text; imported back into the first, it changes nothing."""
    await service_plan_store.import_service_plan_csv(engine, home5(start="2025-01-01"))
    await service_plan_store.import_service_plan_csv(
        engine, [HEADER, "basic,1,2025-01-01,2026-01-01,0.5,,,,\"no minutes, \"\"basic\"\"\"\n"])
    exported = await service_plan_store.export_service_plan_text(engine)

    again = await service_plan_store.import_service_plan_csv(engine, exported.splitlines(keepends=True))
    assert again.added == [] and sorted(again.unchanged) == [("basic", "1"), ("home5", "2025.1")]

    other_url = f"sqlite+aiosqlite:///{tmp_path}/other.db"
    await migrate.upgrade(other_url)
    other = create_engine(other_url)
    try:
        await service_plan_store.import_service_plan_csv(other, exported.splitlines(keepends=True))
        assert await service_plan_store.export_service_plan_text(other) == exported
    finally:
        await other.dispose()


async def test_a_failed_import_stores_nothing(engine: AsyncEngine) -> None:
    """One bad row in a file of good ones: the whole import is refused, its
    problems name line and field, and no version is stored."""
    lines = home5() + ["basic,1,2025-01-01,,-1,,,,\n"]

    with pytest.raises(ServicePlanFileError) as refused:
        await service_plan_store.import_service_plan_csv(engine, lines)

    assert [(p.position, p.field) for p in refused.value.problems] == [(4, "monthly_fee_eur")]
    assert "line 4: monthly_fee_eur:" in str(refused.value)
    assert await stored_rows(engine) == (0, 0)


async def test_a_plan_rated_with_a_tariff_not_stored_is_refused(engine: AsyncEngine) -> None:
    """The tariff must be stored first (``clickphone tariffs import``);
    once it is, the same file imports."""
    lines = [HEADER, "biz,1,2025-01-01,,20,business,national,500,\n"]
    tariff = ["plan,version,effective_from,effective_to,service,destination,price_eur\n",
              "business,1,2025-01-01,,voice,ro_fixed,0.008\n"]

    with pytest.raises(ServicePlanFileError) as refused:
        await service_plan_store.import_service_plan_csv(engine, lines)
    assert [(p.position, p.field) for p in refused.value.problems] == [(2, "tariff")]
    assert await stored_rows(engine) == (0, 0)

    await tariff_store.import_tariff_csv(engine, tariff)
    report = await service_plan_store.import_service_plan_csv(engine, lines)
    assert report.added == [("biz", "1")]


async def test_importing_twice_changes_nothing(engine: AsyncEngine) -> None:
    """The same versions again are reported unchanged and stored once."""
    await service_plan_store.import_service_plan_csv(engine, home5())

    report = await service_plan_store.import_service_plan_csv(engine, home5())

    assert (report.added, report.unchanged) == ([], [("home5", "2025.1")])
    assert await stored_rows(engine) == (1, 2)


async def test_a_version_starting_on_the_same_day_is_a_correction(engine: AsyncEngine) -> None:
    """The corrected version is kept (accounts' history will point at it)
    but superseded; the correction is the one in force."""
    await service_plan_store.import_service_plan_csv(engine, home5("2025.1"))
    first_id = (await service_plan_store.load_stored_service_plan(engine, "home5")).version_ids["2025.1"]

    report = await service_plan_store.import_service_plan_csv(engine, home5("2025.1b", minutes=150))

    assert (report.added, report.superseded) == ([("home5", "2025.1b")], [("home5", "2025.1")])
    stored = await service_plan_store.load_stored_service_plan(engine, "home5")
    assert [v.version for v in stored.versions.versions] == ["2025.1b"]
    assert stored.versions.versions[0].allowance_for("ro_fixed") == Allowance("national", 150)
    assert stored.version_ids["2025.1b"] != first_id
    assert await stored_rows(engine) == (2, 4)


async def test_a_stored_label_with_other_fields_is_refused(engine: AsyncEngine) -> None:
    """Labels are immutable: a new fee under the same label names the version field."""
    await service_plan_store.import_service_plan_csv(engine, home5())

    with pytest.raises(ServicePlanFileError) as refused:
        await service_plan_store.import_service_plan_csv(engine, home5(fee="6.00"))

    assert [(p.position, p.field) for p in refused.value.problems] == [(2, "version")]
    [version] = (await service_plan_store.load_service_plan(engine, "home5")).versions
    assert version.monthly_fee_micro == 5_000_000


async def test_a_later_version_must_not_overlap_the_one_in_force(engine: AsyncEngine) -> None:
    """An open-ended version in force and a new one from June overlap: refused;
    after the first is closed by a correction ending in June, June's imports."""
    await service_plan_store.import_service_plan_csv(engine, home5("1"))

    with pytest.raises(ServicePlanFileError) as refused:
        await service_plan_store.import_service_plan_csv(engine, home5("2", start="2025-06-01", fee="6"))
    assert [(p.position, p.field) for p in refused.value.problems] == [(2, "effective_from")]

    closing = [HEADER, "home5,1b,2025-01-01,2025-06-01,5.00,,national,100,Home\n",
               "home5,1b,2025-01-01,2025-06-01,5.00,,on_net,1000,Home\n"]
    await service_plan_store.import_service_plan_csv(engine, closing + home5("2", start="2025-06-01", fee="6")[1:])
    plan = await service_plan_store.load_service_plan(engine, "home5")
    assert plan.version_on(date(2025, 5, 31)).version == "1b"
    assert plan.version_on(date(2025, 6, 1)).monthly_fee_micro == 6_000_000


async def test_an_unknown_plan_is_refused_by_name(engine: AsyncEngine) -> None:
    """Loading a plan never stored raises UnknownServicePlanError naming it."""
    with pytest.raises(UnknownServicePlanError, match="'gold'"):
        await service_plan_store.load_service_plan(engine, "gold")


async def test_a_file_over_one_mebibyte_is_refused_unread(engine: AsyncEngine, tmp_path) -> None:
    """``plans import`` reads at most 1 MiB: a larger file is refused as a whole."""
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "#" * (1024 * 1024) + "\n", encoding="utf-8")

    with pytest.raises(ServicePlanFileError, match="file: is larger than 1048576 bytes"):
        await service_plan_store.import_service_plan_file(engine, big)
