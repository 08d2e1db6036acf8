"""``clickphone plans``: the service plans customers subscribe to (monthly
fee, included minutes, tariff), stored versioned in the database.

::

    clickphone plans import FILE      # a service plan CSV (format in billing.service_plans)
    clickphone plans export [FILE]    # the versions in force as CSV, on stdout or into FILE
    clickphone plans list             # one line per version in force
    clickphone plans show NAME        # one plan as JSON (the admin API's shape)

An import is all or nothing: every problem is printed with its line and
field (``Error: FILE: line 3: monthly_fee_eur: ...``), exit status 1, and
nothing is stored. An export imports back as the same versions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import service_plan_store
from billing.money import format_micro
from billing.service_plans import ServicePlanVersions
from web.audited import Change
from web.schemas import service_plan_json

from .cli_params import import_counts, run_billing_work
from .settings import Settings


@click.group("plans")
def plans_group() -> None:
    """Service plans: monthly fee, included minutes, tariff (versioned)."""


@plans_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def plans_import(file: Path) -> None:
    """Import a service plan CSV; print each version as added, unchanged or superseded."""

    async def work(conn: Any, settings: Settings, change: Change) -> service_plan_store.ImportReport:
        report = await service_plan_store.import_service_plan_file(conn, file)
        change.fields(None, import_counts(report))
        return report

    report = run_billing_work(work, audited={"action": "import", "resource": "service_plan"})
    for what, pairs in (("added", report.added), ("unchanged", report.unchanged),
                        ("superseded", report.superseded)):
        for plan, version in pairs:
            click.echo(f"{what}\t{plan}\t{version}")


@plans_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--plan", "name", help="Only this plan (default: every stored plan).")
def plans_export(file: Path | None, name: str | None) -> None:
    """Write the service plan versions in force as CSV, on stdout or into FILE."""

    async def work(engine: AsyncEngine, settings: Settings) -> str:
        return await service_plan_store.export_service_plan_text(engine, name)

    exported = run_billing_work(work)
    if file is None:
        sys.stdout.write(exported)
    else:
        file.write_text(exported, encoding="utf-8")


@plans_group.command("list")
def plans_list() -> None:
    """List the versions in force: plan, version, from, to, monthly fee EUR, tariff, included minutes."""

    async def work(engine: AsyncEngine, settings: Settings) -> list[ServicePlanVersions]:
        return await service_plan_store.list_service_plans(engine)

    for plan in run_billing_work(work):
        for v in plan.versions:
            minutes = ",".join(f"{a.group}={a.minutes}" for a in v.allowances) or "-"
            click.echo(
                f"{v.name}\t{v.version}\t{v.effective_from.isoformat()}\t"
                f"{v.effective_to.isoformat() if v.effective_to else '-'}\t{format_micro(v.monthly_fee_micro)} EUR\t"
                f"{v.tariff}\t{minutes}"
            )


@plans_group.command("show")
@click.argument("name")
def plans_show(name: str) -> None:
    """Print plan NAME's versions in force as JSON."""

    async def work(engine: AsyncEngine, settings: Settings) -> ServicePlanVersions:
        return await service_plan_store.load_service_plan(engine, name)

    click.echo(json.dumps(service_plan_json(run_billing_work(work)), indent=2, ensure_ascii=False))
