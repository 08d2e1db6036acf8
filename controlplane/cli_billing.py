"""``clickphone`` commands for money besides invoices and payments
(:mod:`controlplane.cli_invoices`): BNR rates, downtime days, tariffs and
CDR ingestion.

Each command opens the configured database (migrating it first, like the
control plane does), works in its own transactions and disposes the engine.
Refusals are ``click.ClickException``: one line on stderr, exit status 1.

::

    clickphone fx fetch [--url URL]
    clickphone fx set --date 2025-07-31 --eur 5.0720
    clickphone downtime add --date 2025-07-10 --reason "carrier outage"
    clickphone tariffs import FILE
    clickphone tariffs export [--plan annex_b]
    clickphone cdr ingest FILE [--system-name pbx1]

``cdr ingest`` rates a call to one of our DIDs as on-net, like the running
control plane: both take our numbers from :func:`provisioning.services.our_numbers`.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import fx_store, money
from billing.invoicing import records
from billing.invoicing.downtime import downtime_days, record_downtime
from billing.cdr_format import AUTO, CLICKPHONE, MASTER
from billing.fx_bnr import FxError
from billing.fx_fetch import DEFAULT_BNR_URL, DEFAULT_TIMEOUT, fetch_bnr_rates
from billing.ingest import ingest_file
from billing.tariff_store import export_tariff_csv, import_tariff_file
from provisioning.services import our_numbers
from web.audited import Change

from .cli_invoices import invoice_group, payments_group
from .cli_params import DAY, PERIOD, import_counts, run_billing_work
from .settings import Settings

# -- fx ----------------------------------------------------------------------------------


@click.group("fx")
def fx_group() -> None:
    """BNR exchange rates (EUR → RON for invoices)."""


@fx_group.command("fetch")
@click.option("--url", default=DEFAULT_BNR_URL, show_default=True,
              help="A BNR rates file: daily, 10 days (nbrfxrates10days.xml) or a year.")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, help="Seconds.")
def fx_fetch(url: str, timeout: float) -> None:
    """Fetch BNR's rates and store them."""

    async def work(engine: AsyncEngine, settings: Settings) -> Any:
        return await fetch_bnr_rates(engine, url, timeout=timeout)

    report = run_billing_work(work)
    for day, rate in report.eur.items():
        click.echo(f"{day.isoformat()}\tEUR\t{rate}")
    click.echo(f"stored {report.rates} rates of {len(report.days)} day(s) from {url}", err=True)


@fx_group.command("set")
@click.option("--date", "day", type=DAY, required=True, help="The publication day it stands for.")
@click.option("--eur", "rate", required=True, help="RON per 1 EUR, e.g. 5.0720.")
def fx_set(day: date, rate: str) -> None:
    """Set the EUR rate of a day by hand (it wins over BNR's for that day)."""
    try:
        value = fx_store.parse_rate(rate)
    except FxError as exc:
        raise click.BadParameter(str(exc), param_hint="--eur") from None

    async def work(conn: Any, settings: Settings, change: Change) -> fx_store.StoredRate:
        stored = await fx_store.set_manual_rate(conn, day, value)
        change.fields(None, {"day": day.isoformat(), "eur": str(stored.rate), "source": stored.source})
        return stored

    stored = run_billing_work(work, audited={"action": "set", "resource": "fx_rate", "resource_id": day.isoformat()})
    click.echo(f"{stored.day.isoformat()}\tEUR\t{stored.rate}\t{stored.source}")


# -- downtime -------------------------------------------------------------------------------


@click.group("downtime")
def downtime_group() -> None:
    """Days the service was down through the provider's fault (they reduce the monthly fee)."""


@downtime_group.command("add")
@click.option("--date", "day", type=DAY, required=True)
@click.option("--reason", required=True)
def downtime_add(day: date, reason: str) -> None:
    """Record a downtime day (service-wide)."""

    async def work(conn: Any, settings: Settings, change: Change) -> None:
        await record_downtime(conn, day, reason)
        change.fields(None, {"day": day.isoformat(), "reason": reason})

    run_billing_work(work, audited={"action": "create", "resource": "downtime", "resource_id": day.isoformat()})
    click.echo(f"{day.isoformat()} recorded as down")


@downtime_group.command("list")
@click.option("--period", type=PERIOD, required=True)
def downtime_list(period: str) -> None:
    """List the downtime days of a month."""

    async def work(engine: AsyncEngine, settings: Settings) -> list[tuple[date, str]]:
        return await downtime_days(engine, records.parse_period(period))

    for day, reason in run_billing_work(work):
        click.echo(f"{day.isoformat()}\t{reason}")


# -- tariffs ---------------------------------------------------------------------------------


@click.group("tariffs")
def tariffs_group() -> None:
    """Tariff plans stored in the database (versioned)."""


@tariffs_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def tariffs_import(file: Path) -> None:
    """Import a tariff CSV (every problem is reported with its line number)."""

    async def work(conn: Any, settings: Settings, change: Change) -> Any:
        report = await import_tariff_file(conn, file)
        change.fields(None, import_counts(report))
        return report

    report = run_billing_work(work, audited={"action": "import", "resource": "tariff"})
    for what, pairs in (("added", report.added), ("unchanged", report.unchanged), ("superseded", report.superseded)):
        for plan, version in pairs:
            click.echo(f"{what}\t{plan}\t{version}")


@tariffs_group.command("export")
@click.option("--plan", help="Only this plan (default: every stored plan).")
def tariffs_export(plan: str | None) -> None:
    """Write the stored tariff versions in force as CSV on stdout."""

    async def work(engine: AsyncEngine, settings: Settings) -> None:
        await export_tariff_csv(engine, sys.stdout, plan)

    run_billing_work(work)


# -- cdr -------------------------------------------------------------------------------------


@click.group("cdr")
def cdr_group() -> None:
    """CDR ingestion into the ledger."""


@cdr_group.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--system-name", help="Asterisk's systemname for Master.csv lines (default: the setting).")
@click.option("--format", "fmt", type=click.Choice([AUTO, MASTER, CLICKPHONE]), default=AUTO, show_default=True)
def cdr_ingest(file: Path, system_name: str | None, fmt: str) -> None:
    """Rate and charge the CDRs of FILE (idempotent; bad lines are quarantined).

    Calls to our own DIDs are on-net, as when the control plane ingests them."""

    async def work(engine: AsyncEngine, settings: Settings) -> Any:
        return await ingest_file(
            engine, file, system_name=system_name or settings.asterisk_system_name, fmt=fmt,
            on_net=await our_numbers(engine),
        )  # fmt: skip

    report = run_billing_work(work)
    click.echo(
        f"{report.lines} lines: {report.charged} charged, {report.duplicates} already ingested, "
        f"{report.quarantined} quarantined, {report.settled} reservations settled; "
        f"{money.format_micro(report.cost_micro)} EUR"
    )


GROUPS = (invoice_group, payments_group, fx_group, downtime_group, tariffs_group, cdr_group)


def register(main: click.Group) -> None:
    """Add the billing command groups to ``clickphone``."""
    for group in GROUPS:
        main.add_command(group)
