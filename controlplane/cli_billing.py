"""``clickphone`` commands for money: invoices, payments, BNR rates, tariffs,
CDR ingestion and downtime days.

Each command opens the configured database (migrating it first, like the
control plane does), works in its own transactions and disposes the engine.
Refusals are ``click.ClickException``: one line on stderr, exit status 1.

::

    clickphone invoice run --period 2025-07 [--issue-date 2025-08-01] [--series CP] [--allow-uningested]
    clickphone invoice interim 7 [--until 2025-07-20T12:00] [--series CP] [--allow-uningested]
    clickphone invoice show CP-000001 [--format html|json] [--as-of 2025-08-20]
    clickphone invoice list [--period 2025-07]
    clickphone payments add --invoice CP-000001 --amount 61.20 [--currency RON|EUR] [--date 2025-08-05] [--reference TEXT]
    clickphone payments add --account 7 --amount 100 [--currency RON|EUR] [--date 2025-08-05] [--reference TEXT]

``payments add`` takes the amount received, in lei unless ``--currency EUR``
(ASCII digits with at most 6 decimals, more than 0; lei in whole bani,
settling the invoice's RON total; EUR at most 100,000, settling its EUR
total), and a reference of at most 200 characters; it queues the payment's
confirmation email in the transaction that records it. With ``--account``
instead of ``--invoice`` the payment goes to the account's oldest open
invoices first and what is left over is kept as its credit (a ledger
entry; lei converted at the BNR rate of the payment's day).
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

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import fx_store, ledger, money
from billing.invoicing import issuing, payments, presentation, records
from billing.invoicing.downtime import downtime_days, record_downtime
from billing.invoicing.errors import InvalidPeriodError
from billing.invoicing.service import InvoicingService
from billing._datafile import DataFileError
from billing.cdr_format import AUTO, CLICKPHONE, MASTER
from billing.errors import BillingError
from billing.fx_bnr import FxError
from billing.fx_fetch import DEFAULT_BNR_URL, DEFAULT_TIMEOUT, fetch_bnr_rates
from billing.ingest import ingest_file
from billing.tariff_store import export_tariff_csv, import_tariff_file
from billing.tariffs import CONTRACT_TZ
from notify.notifier import Notifier
from notify.render import Renderer
from provisioning.services import our_numbers

from .cli_support import run_on_database
from .invoicing_wiring import invoicing_service
from .settings import Settings

T = TypeVar("T")


def run_billing_work(work: Callable[[AsyncEngine, Settings], Awaitable[T]]) -> T:
    """Run ``work(engine, settings)`` on the migrated database; turn refusals into ClickException."""
    try:
        return run_on_database(work)
    except FxError as exc:
        raise click.ClickException(
            f"{exc}\n(fetch the rates with `clickphone fx fetch` or set one with "
            "`clickphone fx set --date D --eur RATE`)"
        ) from exc
    except (BillingError, DataFileError) as exc:
        raise click.ClickException(str(exc)) from exc


def _today() -> date:
    """Today in the contract's zone (Europe/Bucharest)."""
    return datetime.now(CONTRACT_TZ).date()


def _invoicing(engine: AsyncEngine, settings: Settings) -> InvoicingService:
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


# -- invoice -----------------------------------------------------------------------


@click.group("invoice")
def invoice_group() -> None:
    """Invoices: issue (monthly, interim, one-off), show, list."""


@invoice_group.command("run")
@click.option("--period", type=PERIOD, required=True, help="The month invoiced, YYYY-MM.")
@click.option("--issue-date", type=DAY, help="Default: the 1st of the month after the period.")
@click.option("--series", default=records.DEFAULT_SERIES, show_default=True)
@click.option("--allow-uningested", is_flag=True,
              help="Issue even while CDRs of PERIOD are not charged yet (they then go on the next invoice).")
def invoice_run(period: str, issue_date: date | None, series: str, allow_uningested: bool) -> None:
    """Issue the invoices of PERIOD for every account (idempotent) and queue their emails.

    The supplier's details (CLICKPHONE_SUPPLIER_*) are stored on each invoice as they are now.
    Usage is the calls that started in PERIOD: the run refuses while CDRs of PERIOD are still
    unread in the followed CDR file or calls of PERIOD are still live, and names the
    quarantined CDRs of PERIOD."""

    async def work(engine: AsyncEngine, settings: Settings) -> issuing.RunReport:
        return await _invoicing(engine, settings).issue_month(
            period, issue_date, supplier=settings.supplier, series=series, allow_uningested=allow_uningested,
        )  # fmt: skip

    report = run_billing_work(work)
    for invoice in report.issued:
        click.echo(
            f"{invoice.number}\t{invoice.account_code}\t{presentation.format_ron(invoice.total_ron_micro)} RON"
            f"\t{money.format_micro(invoice.total_micro)} EUR"
        )
    click.echo(
        f"{report.period}: {len(report.issued)} issued on {report.issue_date.isoformat()}, "
        f"{report.already_invoiced} already invoiced, {report.nothing_to_invoice} with nothing to invoice; "
        f"EUR = {report.fx.rate} RON (BNR {report.fx.day.isoformat()}, {report.fx.source}), "
        f"VAT {presentation.format_percent(report.vat_rate)}",
        err=True,
    )
    if report.uningested.describe():
        click.echo(f"not charged yet: {report.uningested.describe()}", err=True)


@invoice_group.command("interim")
@click.argument("account_id", type=click.IntRange(min=1))
@click.option("--until", type=INSTANT,
              help="Invoice the usage of calls started before this time (Bucharest time; default: now).")
@click.option("--series", default=records.DEFAULT_SERIES, show_default=True)
@click.option("--allow-uningested", is_flag=True,
              help="Issue even while the account's CDRs before --until are not charged yet (they then go on "
                   "the next invoice).")
def invoice_interim(account_id: int, until: datetime | None, series: str, allow_uningested: bool) -> None:
    """Issue ACCOUNT_ID's interim invoice of its usage so far in the month (art. 7.1.4),
    queue its email and print it as JSON.

    It holds the calls started in the month before --until and the SMS and adjustments of the month before it,
    not on an invoice yet; the monthly invoice then covers only the rest, with the fee.
    Refused when --until is in the future, the month already has its monthly invoice, the
    account's CDRs are still on their way, or there is nothing to invoice."""

    async def work(engine: AsyncEngine, settings: Settings) -> records.Invoice:
        return await _invoicing(engine, settings).issue_interim(
            account_id, supplier=settings.supplier, until=until, series=series, allow_uningested=allow_uningested,
        )  # fmt: skip

    invoice = run_billing_work(work)
    click.echo(json.dumps(presentation.invoice_json(invoice), indent=2, ensure_ascii=False))


@invoice_group.command("one-off")
@click.argument("account_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--series", default=records.DEFAULT_SERIES, show_default=True)
def invoice_one_off(account_id: int, series: str) -> None:
    """Issue today ACCOUNT_ID's one-off invoice of every one-off charge not
    invoiced yet (`clickphone admin account charge`), due in 5 working days,
    and queue its email; prints its number and totals."""

    async def work(engine: AsyncEngine, settings: Settings) -> records.Invoice:
        return await _invoicing(engine, settings).issue_one_off(
            account_id, supplier=settings.supplier, series=series)

    invoice = run_billing_work(work)
    click.echo(
        f"{invoice.number}\t{invoice.account_code}\t{presentation.format_ron(invoice.total_ron_micro)} RON"
        f"\t{money.format_micro(invoice.total_micro)} EUR\tdue {invoice.due_date.isoformat()}"
    )


@invoice_group.command("show")
@click.argument("number")
@click.option("--format", "fmt", type=click.Choice(["html", "json"]), default="html", show_default=True)
@click.option("--as-of", type=DAY, help="Show the payment status and penalty on this day.")
def invoice_show(number: str, fmt: str, as_of: date | None) -> None:
    """Print invoice NUMBER (e.g. CP-000001, or 1 in series CP)."""

    async def work(engine: AsyncEngine, settings: Settings) -> records.Invoice:
        return await records.get_invoice(engine, number)

    invoice = run_billing_work(work)
    if fmt == "json":
        click.echo(json.dumps(presentation.invoice_json(invoice, as_of=as_of), indent=2, ensure_ascii=False))
    else:
        click.echo(presentation.render_invoice_html(invoice, as_of=as_of), nl=False)


@invoice_group.command("list")
@click.option("--period", type=PERIOD, help="Only this month's invoices.")
@click.option("--as-of", type=DAY, help="Status on this day (default: today).")
def invoice_list(period: str | None, as_of: date | None) -> None:
    """List invoices: number, account, period, total RON, total EUR, status."""

    async def work(engine: AsyncEngine, settings: Settings) -> list[records.Invoice]:
        return await records.list_invoices(engine, period=period)

    day = as_of or _today()
    for invoice in run_billing_work(work):
        status = payments.status_as_of(invoice, day)
        click.echo(
            f"{invoice.number}\t{invoice.account_code}\t{invoice.period}\t"
            f"{presentation.format_ron(invoice.total_ron_micro)} RON\t{money.format_micro(invoice.total_micro)} EUR\t"
            f"{status.state}"
        )


# -- payments ------------------------------------------------------------------------


@click.group("payments")
def payments_group() -> None:
    """Payments against invoices."""


@payments_group.command("add")
@click.option("--invoice", "number", help="The invoice paid, e.g. CP-000001.")
@click.option("--account", "account_id", type=click.IntRange(min=1),
              help="The account paying (instead of --invoice): its oldest open invoices first, the rest its credit.")
@click.option("--amount", required=True, help="The amount received, in --currency (RON: whole bani; EUR: up to 6 decimals).")
@click.option("--currency", type=click.Choice(payments.PAYMENT_CURRENCIES, case_sensitive=False),
              default=payments.RON, show_default=True,
              help="The currency received: lei settle the invoice's RON total, euros its EUR total.")
@click.option("--date", "paid_on", type=DAY, help="The day it was paid (default: today).")
@click.option("--reference", default="",
              help=f"The bank's reference, for the ledger and the email (at most "
                   f"{payments.PAYMENT_REFERENCE_MAX_LENGTH} characters).")
def payments_add(
    number: str | None, account_id: int | None, amount: str, currency: str, paid_on: date | None, reference: str
) -> None:
    """Record a payment of AMOUNT (lei unless --currency EUR) against an invoice,
    or an account's oldest open invoices, and queue its confirmation emails."""
    if (number is None) == (account_id is None):
        raise click.UsageError("give either --invoice or --account")
    currency = currency.upper()
    amount_micro = _amount_micro(amount, currency)
    day = paid_on or _today()

    if account_id is not None:

        async def to_account(engine: AsyncEngine, settings: Settings) -> tuple[payments.AccountPayment, list[str]]:
            made = await _invoicing(engine, settings).record_account_payment(
                account_id, amount_micro, paid_on=day, currency=currency, reference=reference,
            )
            lines = [_payment_line(await records.get_invoice(engine, n), p) for n, p in made.settled]
            return made, lines

        made, lines = run_billing_work(to_account)
        for line in lines:
            click.echo(line)
        if made.credit_micro:
            at = f" at {made.credit_rate} RON/EUR" if made.credit_rate is not None else ""
            click.echo(
                f"account {account_id}: {money.format_micro(made.credit_micro)} {made.currency} kept as credit "
                f"({money.format_micro(made.credit_eur_micro)} EUR{at})"
            )
        return

    async def work(engine: AsyncEngine, settings: Settings) -> tuple[records.InvoicePayment, records.Invoice]:
        payment = await _invoicing(engine, settings).record_payment(
            number, amount_micro, paid_on=day, currency=currency, reference=reference,
        )
        return payment, await records.get_invoice(engine, number)

    payment, invoice = run_billing_work(work)
    click.echo(_payment_line(invoice, payment))


def _payment_line(invoice: records.Invoice, payment: records.InvoicePayment) -> str:
    """One line of what a payment did to its invoice: what was received, where
    the invoice then stands and what is left, in the currency received (lei: also in euros)."""
    status = payments.status_as_of(invoice, payment.paid_on)
    left = (
        f"{money.format_micro(status.unpaid_micro)} EUR unpaid" if payment.currency == payments.EUR
        else f"{money.format_micro(max(payments.unpaid_ron_micro(invoice), 0))} RON unpaid "
             f"({money.format_micro(status.unpaid_micro)} EUR)"
    )  # fmt: skip
    return (
        f"{invoice.number}: {money.format_micro(payment.received_micro or payment.amount_micro)} "
        f"{payment.currency} paid on {payment.paid_on.isoformat()}; {status.state}, {left}"
    )


def _amount_micro(text: str, currency: str) -> int:
    """Return a payment's amount in micro-units of ``currency``: billing's one
    reader of amounts (ASCII digits, at most 6 decimals), more than 0 and,
    in EUR, at most one operation's maximum (100,000 EUR)."""
    try:
        micro = money.micro_from_text(text)
    except money.MoneyError as exc:
        raise click.BadParameter(f"{exc}; write {currency} like 12.50", param_hint="--amount") from exc
    if micro <= 0 or (currency == payments.EUR and micro > ledger.MAX_OPERATION_MICRO):
        raise click.BadParameter(
            f"the amount must be more than 0 and at most {money.format_micro(ledger.MAX_OPERATION_MICRO)} EUR"
            if currency == payments.EUR else "the amount must be more than 0",
            param_hint="--amount",
        )
    return micro


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

    async def work(engine: AsyncEngine, settings: Settings) -> fx_store.StoredRate:
        return await fx_store.set_manual_rate(engine, day, value)

    stored = run_billing_work(work)
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

    async def work(engine: AsyncEngine, settings: Settings) -> None:
        await record_downtime(engine, day, reason)

    run_billing_work(work)
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

    async def work(engine: AsyncEngine, settings: Settings) -> Any:
        return await import_tariff_file(engine, file)

    report = run_billing_work(work)
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
