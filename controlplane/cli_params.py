"""What the money commands share: their option types (a day, an instant, a
billing period), running their work on the database with refusals as one
line, today in the contract's zone, and a command's invoicing service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, Optional, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.invoicing import records
from billing.invoicing.errors import InvalidPeriodError
from billing.invoicing.service import InvoicingService
from billing._datafile import DataFileError
from billing.errors import BillingError
from billing.fx_bnr import FxError
from billing.tariffs import CONTRACT_TZ
from notify.notifier import Notifier
from notify.render import Renderer

from .cli_support import run_audited, run_on_database
from .invoicing_wiring import invoicing_service
from .settings import Settings

T = TypeVar("T")


def run_billing_work(work: Callable[[AsyncEngine, Settings], Awaitable[T]], *,
                     audited: Optional[dict[str, Any]] = None) -> T:
    """Run ``work(engine, settings)`` on the migrated database; turn refusals
    into ClickException. With ``audited`` (``action``, ``resource``, maybe
    ``resource_id``), ``work(conn, settings, change)`` is one change audited
    under the ``cli`` actor in its transaction (:func:`run_audited`)."""
    try:
        if audited is not None:
            return run_audited(work, **audited)  # type: ignore[arg-type]
        return run_on_database(work)
    except FxError as exc:
        raise click.ClickException(
            f"{exc}\n(fetch the rates with `clickphone fx fetch` or set one with "
            "`clickphone fx set --date D --eur RATE`)"
        ) from exc
    except (BillingError, DataFileError) as exc:
        raise click.ClickException(str(exc)) from exc


def import_counts(report: Any) -> dict[str, int]:
    """What a tariff or service plan import did, as its audit entry says it: versions added, unchanged, superseded."""
    return {what: len(getattr(report, what)) for what in ("added", "unchanged", "superseded")}


def contract_today() -> date:
    """Today in the contract's zone (Europe/Bucharest)."""
    return datetime.now(CONTRACT_TZ).date()


def command_invoicing(engine: AsyncEngine, settings: Settings) -> InvoicingService:
    """The invoicing service of one command: its emails wait in the outbox
    for the running control plane's dispatcher (this process has none to wake)."""
    return invoicing_service(engine, Notifier(Renderer(timezone=settings.timezone)))


class _Day(click.ParamType):
    """An option's day, written YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        """Return the day; anything else fails the option, naming what was given."""
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date YYYY-MM-DD", param, ctx)


class _Instant(click.ParamType):
    """An option's instant, ``YYYY-MM-DDTHH:MM``: Europe/Bucharest time unless it names its offset."""

    name = "YYYY-MM-DDTHH:MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """Return the aware instant; anything else fails the option, naming what was given."""
        if isinstance(value, datetime):
            return value
        text = str(value)
        try:
            instant = datetime.fromisoformat(text) if "T" in text and len(text) <= 40 else None
        except ValueError:
            instant = None
        if instant is None:
            self.fail(f"{text[:40]!r} is not a time YYYY-MM-DDTHH:MM", param, ctx)
        return instant if instant.tzinfo is not None else instant.replace(tzinfo=CONTRACT_TZ)


class _Period(click.ParamType):
    """An option's billing period, a month written YYYY-MM (billing's reader)."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Return the period as billing labels it; an invalid one fails the option with billing's reason."""
        try:
            return records.period_label(records.parse_period(str(value)))
        except InvalidPeriodError as exc:
            self.fail(str(exc), param, ctx)


DAY = _Day()
INSTANT = _Instant()
PERIOD = _Period()
