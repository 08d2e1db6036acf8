"""``clickphone`` commands for invoices and payments.

Each command opens the configured database (migrating it first, like the
control plane does), works in its own transactions and disposes the engine.
Refusals are ``click.ClickException``: one line on stderr, exit status 1.

::

    clickphone invoice run --period 2025-07 [--issue-date 2025-08-01] [--series CP] [--allow-uningested]
    clickphone invoice interim 7 [--until 2025-07-20T12:00] [--series CP] [--allow-uningested]
    clickphone invoice one-off 7 [--series CP]
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
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, money
from billing.invoicing import issuing, payments, presentation, records
from web.audited import Change

from .cli_params import DAY, INSTANT, PERIOD, command_invoicing, contract_today, run_billing_work
from .settings import Settings

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
        return await command_invoicing(engine, settings).issue_month(
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

    async def work(conn: Any, settings: Settings, change: Change) -> records.Invoice:
        invoice = await command_invoicing(conn.engine, settings).issue_interim(
            account_id, supplier=settings.supplier, until=until, series=series, allow_uningested=allow_uningested,
            db=conn,
        )  # fmt: skip
        issued(change, invoice)
        return invoice

    invoice = run_billing_work(work, audited={"action": "issue_interim", "resource": "invoice"})
    click.echo(json.dumps(presentation.invoice_json(invoice), indent=2, ensure_ascii=False))


@invoice_group.command("one-off")
@click.argument("account_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--series", default=records.DEFAULT_SERIES, show_default=True)
def invoice_one_off(account_id: int, series: str) -> None:
    """Issue today ACCOUNT_ID's one-off invoice of every one-off charge not
    invoiced yet (`clickphone admin account charge`), due in 5 working days,
    and queue its email; prints its number and totals."""

    async def work(conn: Any, settings: Settings, change: Change) -> records.Invoice:
        invoice = await command_invoicing(conn.engine, settings).issue_one_off(
            account_id, supplier=settings.supplier, series=series, db=conn)
        issued(change, invoice)
        return invoice

    invoice = run_billing_work(work, audited={"action": "issue_one_off", "resource": "invoice"})
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

    day = as_of or contract_today()
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
    day = paid_on or contract_today()
    received = {"amount": money.format_micro(amount_micro), "currency": currency, "paid_on": day.isoformat(),
                "reference": reference}

    if account_id is not None:

        async def to_account(conn: Any, settings: Settings, change: Change
                             ) -> tuple[payments.AccountPayment, list[str]]:
            made = await command_invoicing(conn.engine, settings).record_account_payment(
                account_id, amount_micro, paid_on=day, currency=currency, reference=reference, db=conn,
            )
            lines = [_payment_line(await records.get_invoice(conn, n), p) for n, p in made.settled]
            change.fields(None, {**received, "invoices": ", ".join(str(n) for n, _ in made.settled),
                                 "left_on_account": money.format_micro(made.credit_micro)})
            return made, lines

        made, lines = run_billing_work(to_account, audited={"action": "record_payment", "resource": "account",
                                                            "resource_id": account_id})
        for line in lines:
            click.echo(line)
        if made.credit_micro:
            at = f" at {made.credit_rate} RON/EUR" if made.credit_rate is not None else ""
            click.echo(
                f"account {account_id}: {money.format_micro(made.credit_micro)} {made.currency} kept as credit "
                f"({money.format_micro(made.credit_eur_micro)} EUR{at})"
            )
        return

    async def work(conn: Any, settings: Settings, change: Change) -> tuple[records.InvoicePayment, records.Invoice]:
        payment = await command_invoicing(conn.engine, settings).record_payment(
            number, amount_micro, paid_on=day, currency=currency, reference=reference, db=conn,
        )
        change.fields(None, {**received, "invoices": str(number)})
        return payment, await records.get_invoice(conn, number)

    payment, invoice = run_billing_work(work, audited={"action": "record_payment", "resource": "invoice",
                                                       "resource_id": number})
    click.echo(_payment_line(invoice, payment))


def issued(change: Change, invoice: records.Invoice) -> None:
    """Say on ``change`` which invoice was issued (its audit entry)."""
    change.resource_id = invoice.number
    change.fields(None, {"account_id": invoice.account_id, "number": invoice.number, "kind": invoice.kind,
                         "total_eur": money.format_micro(invoice.total_micro)})


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
