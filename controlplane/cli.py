"""The ``clickphone`` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

import click

from asterisk_conf.render import AsteriskConfig, render_config, write_config
from billing import money
from billing._datafile import DataFileError
from billing.batch import FORMATS, rate_cdr_file
from billing.cdr_format import read_cdr_lines
from billing.numbering import InvalidNumber, default_numbering_plan
from billing.tariffs import default_tariff, load_tariff
from asterisk_conf.testbed import TestbedError, stop_everything_in
from provisioning import services as provisioning

from . import migrate
from .asterisk_setup import external_asterisk_config, testbed_for
from .cli_access import register as register_access_commands
from .cli_admin import admin_group
from .asterisk_sync import provisioned, provisioned_config
from .cli_support import run_on_database, settings_or_fail
from .cli_billing import register as register_billing_commands
from .cli_plans import plans_group
from .demo import ensure_demo_subscriber
from .logs import configure_logging
from .runtime import ControlPlane
from .settings import Settings

log = logging.getLogger("clickphone")


@click.group()
def main() -> None:
    """ClickPhone control plane."""


# -- run ---------------------------------------------------------------------
@main.command()
def run() -> None:
    """Start the whole control plane (and the testbed Asterisk) until Ctrl-C."""
    settings = settings_or_fail()
    configure_logging(settings.log_level)
    try:
        asyncio.run(_run(settings))
    except (TestbedError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


async def _run(settings: Settings) -> None:
    """Start the control plane, print the banner and run until SIGINT or
    SIGTERM; then stop every part, whatever happened."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plane = ControlPlane(settings)
    await plane.start()
    try:
        click.echo(_banner(plane), err=True)
        await stop.wait()
        log.info("stopping")
    finally:
        await plane.stop()
        log.info("stopped")


def _banner(plane: ControlPlane) -> str:
    """The lines printed at start: where each part listens, where emails
    go, and the demo phone (its password only on the start that made it)."""
    s = plane.settings
    demo = plane.demo_endpoint
    lines = [
        "ClickPhone control plane is running (Ctrl-C stops everything).",
        f"  admin API   {plane.admin_url}  (GET /health; API scripts send Authorization: Bearer <admin_token>)",
        f"  console     {plane.admin_url}/console/",
        f"  ARI         {s.effective_ari_url}  app={s.ari_app}",
        f"  FastAGI     agi://{s.agi_host}:{s.agi_port}/",
        f"  SIP         {s.sip_bind_address}:{s.sip_port} (UDP and TCP)",
        f"  database    {s.effective_database_url}",
    ]
    if plane.testbed is not None:
        lines.append(f"  Asterisk    testbed in {plane.testbed.root}, logs {plane.testbed.log_file.parent}")
    if plane.catcher is not None:
        lines.append(f"  email       caught on 127.0.0.1:{plane.catcher.port}, read them in {s.maildir}")
    elif s.smtp_host:
        lines.append(f"  email       relayed through {s.smtp_host}:{s.smtp_port}")
    lines.extend(_first_login_lines(plane))
    if demo is not None and demo.password is not None:  # created by this start
        lines.append(
            f"  demo phone  user={demo.username} password={demo.password} "
            f"server={s.sip_bind_address}:{s.sip_port}  (shown this once: it is not stored)"
        )
    elif demo is not None:
        lines.append(
            f"  demo phone  user={demo.username} server={s.sip_bind_address}:{s.sip_port}  (password shown "
            f"on the first run; `clickphone admin endpoint reset-password {demo.username}` gives a new one)"
        )
    return "\n".join(lines)


def _first_login_lines(plane: ControlPlane) -> list[str]:
    """The console's first login: its password on the start that created it,
    afterwards where it is kept."""
    login = plane.first_login
    if login is None:
        return []
    if login.password is not None:
        return [f"  first login user={login.username} password={login.password}  (shown this once; "
                f"also kept in {login.secrets_file})"]
    return [f"  first login user={login.username}, its password is operator_password in {login.secrets_file}"]


# -- db ----------------------------------------------------------------------
@main.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the database schema to REVISION (default: head)."""
    url = settings_or_fail().effective_database_url
    asyncio.run(migrate.upgrade(url, revision))
    click.echo(f"database at {asyncio.run(migrate.current(url))}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Downgrade the database schema to REVISION (`base` removes everything)."""
    url = settings_or_fail().effective_database_url
    asyncio.run(migrate.downgrade(url, revision))
    click.echo(f"database at {asyncio.run(migrate.current(url))}")


@db_group.command("current")
def db_current() -> None:
    """Print the schema revision."""
    click.echo(asyncio.run(migrate.current(settings_or_fail().effective_database_url)) or "empty")


# -- asterisk ----------------------------------------------------------------
@main.group("asterisk")
def asterisk_group() -> None:
    """The local Asterisk testbed (Debian sid root with Asterisk 22)."""


def _provisioned_config(settings: Settings, base: AsteriskConfig) -> AsteriskConfig:
    """``base`` with the database's endpoints, DIDs and allowlists — the same
    config the running control plane gives Asterisk."""

    async def read(engine, settings: Settings) -> AsteriskConfig:
        """The demo subscriber ensured, then ``base`` with what is provisioned."""
        demo = await ensure_demo_subscriber(engine, settings.sip_realm)
        if demo.password is not None:  # created now: its password exists only here
            click.echo(f"demo phone created: user={demo.username} password={demo.password} "
                       "(shown this once: it is not stored)", err=True)
        return provisioned_config(base, await provisioned(engine))

    return run_on_database(read)


@asterisk_group.command("up")
def asterisk_up() -> None:
    """Build the root once, mount, start Asterisk and wait for ARI."""
    settings = settings_or_fail()
    testbed = testbed_for(settings, [])
    testbed.config = _provisioned_config(settings, testbed.config)
    try:
        testbed.start(owned=False)  # detached: `clickphone run` will not take it over
    except TestbedError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk is up: ARI {testbed.ari_url}, SIP {settings.sip_bind_address}:{settings.sip_port}, pid {testbed.pid()}")


@asterisk_group.command("down")
def asterisk_down() -> None:
    """Stop the testbed Asterisk and unmount its root."""
    settings = settings_or_fail()
    testbed = testbed_for(settings, [])
    testbed.stop()
    root = settings.effective_asterisk_root.resolve()
    if root.exists():
        stop_everything_in(root)
    click.echo("Asterisk is down")


@asterisk_group.command("status")
def asterisk_status() -> None:
    """Say whether the testbed Asterisk runs and ARI answers."""
    settings = settings_or_fail()
    testbed = testbed_for(settings, [])
    pid = testbed.pid()
    status = {
        "running": pid is not None,
        "pid": pid,
        "ari_url": testbed.ari_url,
        "ari_answers": bool(pid and testbed.ari_ping()),
        "root": str(testbed.root),
        "root_built": (testbed.root / "usr/sbin/asterisk").exists(),
    }
    click.echo(json.dumps(status, indent=2))
    if not status["running"]:
        sys.exit(3)


@asterisk_group.command("render")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder to write the config files into.")
def asterisk_render(out_dir: Path) -> None:
    """Render the config set for a production Asterisk (Debian's paths)."""
    settings = settings_or_fail()
    config = _provisioned_config(settings, external_asterisk_config(settings))
    write_config(render_config(config), out_dir)
    click.echo(f"wrote the Asterisk config to {out_dir}")


# -- rating ------------------------------------------------------------------
@main.command("rate")
@click.option("--cdr", "cdr_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Master.csv (cdr_csv) or clickphone.csv (cdr_custom) file.")
@click.option("--tariff", "tariff_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tariff CSV (default: the shipped Annex B plan).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--on-net", "on_net", multiple=True, metavar="NUMBER",
              help="A number of our own subscribers (repeatable): rated as on-net. "
                   "Default: the DIDs in the database, as the control plane rates them.")
def rate(cdr_path: Path, tariff_path: Path | None, fmt: str, on_net: tuple[str, ...]) -> None:
    """Rate a CDR file: one row per CDR on stdout, columns
    uniqueid,account,dialled,normalised,class,billsec,billable_seconds,cost_eur,error.

    Calls to our numbers are on-net: the DIDs in the configured database
    (:func:`provisioning.services.our_numbers`, what ingestion uses), or the
    ``--on-net`` numbers when given."""
    try:
        tariff = load_tariff(tariff_path) if tariff_path else default_tariff()
    except DataFileError as exc:
        raise click.ClickException(str(exc)) from exc
    numbering = default_numbering_plan()
    try:
        our_numbers = (
            frozenset(numbering.normalise(n) for n in on_net)
            if on_net
            else run_on_database(lambda engine, settings: provisioning.our_numbers(engine))
        )
    except InvalidNumber as exc:
        raise click.BadParameter(str(exc), param_hint="--on-net") from None
    with open(cdr_path, "rb") as fh:
        summary = rate_cdr_file(
            read_cdr_lines(fh), tariff, sys.stdout, fmt, on_net=our_numbers, numbering=numbering
        )
    click.echo(
        f"{summary.lines} CDRs, {summary.rated} rated, {summary.errors} with errors, "
        f"total {money.format_micro(summary.cost_micro)} EUR",
        err=True,
    )


# -- groups kept in their own modules ------------------------------------------
main.add_command(admin_group)  # admin subscriber|did|account …
register_billing_commands(main)  # invoice, payments, fx, downtime, tariffs, cdr
main.add_command(plans_group)  # plans import|export|list|show
register_access_commands(main, admin_group)  # admin user|token …, audit list


if __name__ == "__main__":  # pragma: no cover
    main()
