"""Invoice records: what an issued invoice holds, its number and period, and
reading it back.

An invoice is stored once and never updated (see :mod:`billing.invoicing`);
these are its plain-data records, the gapless ``<series>-<number:06d>``
numbers, the ``'YYYY-MM'`` billing periods and the RON rounding its lines
were computed with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import money
from billing.invoicing.errors import InvalidPeriodError, UnknownInvoiceError
from billing.invoicing.recurring import BillingPeriod, month_period
from billing.invoicing.supplier import SUPPLIER_FIELDS, Supplier
from billing.invoicing.tables import invoice_calls, invoice_lines, invoice_payments, invoices
from billing.accounts import PREPAID
from sqlbase import Db, reading, transaction
from billing.tariffs import CONTRACT_TZ

DEFAULT_SERIES = "CP"
INVOICE_CURRENCY_RON = "RON"
RON_PER_BAN_MICRO = 10_000
"""micro-RON in one ban (0.01 RON): RON amounts on an invoice are whole bani."""
_NUMBER = re.compile(r"(?:(?P<series>[A-Za-z]{1,16})[- ]?)?(?P<number>\d{1,9})")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")

# line kinds
RECURRING, DOWNTIME_CREDIT, USAGE, SMS, RERATING, OTHER, EXCHANGE_DIFFERENCE = (
    "recurring_fee", "downtime_credit", "usage", "sms", "rerating", "adjustment", "exchange_difference",
)  # fmt: skip
SUSPENSION_CREDIT = "suspension_credit"  # days suspended not through the subscriber's fault (art. 9.2)

# invoice kinds: the month's invoice (once per account and month), an interim
# invoice of usage so far in a month, the one-off fees of a contract's start
MONTHLY, INTERIM, ONE_OFF = "monthly", "interim", "one_off"
INVOICE_KINDS = (MONTHLY, INTERIM, ONE_OFF)

# invoice states as of a day
UNPAID, PARTIALLY_PAID, PAID = "unpaid", "partially_paid", "paid"


@dataclass(frozen=True, slots=True)
class Customer:
    """Who an invoice is addressed to (provisioning's subscriber)."""

    name: str
    email: str | None = None
    language: str = "ro"


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: EUR amounts in micro-euros, RON in micro-RON (whole bani)."""

    position: int
    kind: str
    description: str
    number_class: str | None
    month: str | None
    quantity: int
    billable_seconds: int
    included_seconds: int
    charged_seconds: int
    net_micro: int
    vat_micro: int
    net_ron_micro: int
    vat_ron_micro: int

    @property
    def total_micro(self) -> int:
        return self.net_micro + self.vat_micro

    @property
    def total_ron_micro(self) -> int:
        return self.net_ron_micro + self.vat_ron_micro


@dataclass(frozen=True, slots=True)
class InvoicedCall:
    """One call of the itemised list, as rated when the invoice was issued."""

    cdr_id: int
    start: datetime
    dialled: str
    number_class: str
    destination: str
    billsec: int
    billable_seconds: int
    included_seconds: int
    charged_seconds: int
    cost_micro: int


@dataclass(frozen=True, slots=True)
class InvoicePayment:
    """A payment recorded against an invoice: ``amount_micro`` is the EUR
    share of the invoice it settles; ``currency`` and ``received_micro`` what
    the bank received; ``ron_micro`` its value in RON against the invoice
    (None when built without it: an EUR payment at the invoice's own rate)."""

    id: int
    ledger_entry_id: int
    paid_on: date
    amount_micro: int
    currency: str = "EUR"
    received_micro: int | None = None
    ron_micro: int | None = None


@dataclass(frozen=True)
class Invoice:
    """An issued invoice, as stored (see the module docstring)."""

    id: int
    series: str
    sequence: int
    account_id: int
    account_code: str
    account_kind: str
    customer_name: str
    customer_email: str | None
    language: str
    period: str
    period_first: date
    period_last: date
    issue_date: date
    due_date: date
    vat_rate: Decimal
    fx_rate: Decimal
    fx_date: date
    fx_source: str
    bundle_seconds: int
    bundle_used_seconds: int
    net_micro: int
    vat_micro: int
    total_micro: int
    net_ron_micro: int
    vat_ron_micro: int
    total_ron_micro: int
    created_at: datetime
    supplier: Supplier
    lines: tuple[InvoiceLine, ...] = ()
    calls: tuple[InvoicedCall, ...] = ()
    payments: tuple[InvoicePayment, ...] = ()
    kind: str = MONTHLY

    @property
    def number(self) -> str:
        """The invoice number as printed: ``CP-000001``."""
        return format_invoice_number(self.series, self.sequence)

    @property
    def prepaid(self) -> bool:
        """Whether the invoice is a prepaid account's statement, settled from
        the balance at issue. A one-off invoice is not: it is an invoice in
        advance (contract art. 7.1.1), payable whatever the account's kind."""
        return self.account_kind == PREPAID and self.kind != ONE_OFF

    @property
    def payable(self) -> bool:
        """Whether the invoice asks for payment (with a due date and penalties):
        a postpaid or one-off invoice of more than nothing. A prepaid statement
        was settled from the balance at issue; a total of nothing or less is
        owed by no one."""
        return not self.prepaid and self.total_micro > 0


def parse_period(text: str) -> BillingPeriod:
    """Return the calendar month ``'YYYY-MM'``; raise :class:`InvalidPeriodError`."""
    match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise InvalidPeriodError(f"a billing period is a month written YYYY-MM, not {text!r}")
    return month_period(int(match.group(1)), int(match.group(2)))


def period_label(period: BillingPeriod) -> str:
    """Return ``'YYYY-MM'`` of a monthly period."""
    return period.first.strftime("%Y-%m")


def period_bounds(period: BillingPeriod) -> tuple[datetime, datetime]:
    """Return the period as instants ``[start, end)``: midnights in Europe/Bucharest."""
    end = period.last + timedelta(days=1)
    return (
        datetime(period.first.year, period.first.month, period.first.day, tzinfo=CONTRACT_TZ),
        datetime(end.year, end.month, end.day, tzinfo=CONTRACT_TZ),
    )


def format_invoice_number(series: str, sequence: int) -> str:
    """Return ``<series>-<sequence:06d>``."""
    return f"{series}-{sequence:06d}"


def parse_invoice_number(text: str, default_series: str = DEFAULT_SERIES) -> tuple[str, int]:
    """Return ``(series, sequence)`` of ``'CP-000012'``, ``'CP12'`` or ``'12'`` (default series)."""
    match = _NUMBER.fullmatch(str(text).strip())
    if match is None:
        raise UnknownInvoiceError(str(text))
    return (match.group("series") or default_series).upper(), int(match.group("number"))


def ron_micro(eur_micro: int, rate: Decimal) -> int:
    """Return ``eur_micro`` in micro-RON at ``rate`` (RON per EUR), rounded half-up once to the ban."""
    # rate × 10⁻⁴ turns micro-euros into bani: money rounds once, to the ban
    return money.convert_micro(eur_micro, rate.scaleb(-4)) * RON_PER_BAN_MICRO


def eur_micro_from_ron(ron: int, rate: Decimal) -> int:
    """Return ``ron`` micro-RON in micro-euros at ``rate`` (RON per EUR), rounded half-up once."""
    numerator, denominator = money.decimal_ratio(rate)
    return money.round_half_up(ron * denominator, numerator)


LINE_FIELDS = tuple(f.name for f in fields(InvoiceLine))
CALL_FIELDS = tuple(f.name for f in fields(InvoicedCall))


# -- reading invoices --------------------------------------------------------------------


async def get_invoice(db: Db, number: str | int, *, default_series: str = DEFAULT_SERIES) -> Invoice:
    """Return the invoice ``number`` (``'CP-000012'``, or ``12`` in the default series)
    with its lines, calls and payments; raise :class:`UnknownInvoiceError`."""
    series, sequence = parse_invoice_number(str(number), default_series)
    async with transaction(db) as conn:
        try:
            return await load_invoice(conn, (invoices.c.series == series) & (invoices.c.number == sequence))
        except LookupError:
            raise UnknownInvoiceError(format_invoice_number(series, sequence)) from None


async def list_invoices(
    db: Db, *, period: str | None = None, account_id: int | None = None
) -> list[Invoice]:
    """Return invoices (without their calls), by series and number."""
    conditions = []
    if period is not None:
        conditions.append(invoices.c.period == period_label(parse_period(period)))
    if account_id is not None:
        conditions.append(invoices.c.account_id == account_id)
    async with transaction(db) as conn:
        ids = (
            await conn.scalars(select(invoices.c.id).where(*conditions).order_by(invoices.c.series, invoices.c.number))
        ).all()
        return [await load_invoice(conn, invoices.c.id == i, with_calls=False) for i in ids]


async def invoice_page(
    db: Db, *, account_id: int | None = None, period: str | None = None, kind: str | None = None,
    after_id: int = 0, limit: int = 50,
) -> list[Invoice]:
    """Up to ``limit`` invoices (without their calls) after the one with id
    ``after_id``, by id (the order they were issued in), filtered by account,
    month (``'YYYY-MM'``) and kind: a keyset page."""
    conditions = [invoices.c.id > after_id]
    if period is not None:
        conditions.append(invoices.c.period == period_label(parse_period(period)))
    if account_id is not None:
        conditions.append(invoices.c.account_id == account_id)
    if kind is not None:
        conditions.append(invoices.c.kind == kind)
    async with reading(db) as conn:
        ids = (await conn.scalars(select(invoices.c.id).where(*conditions).order_by(invoices.c.id).limit(limit))).all()
        return [await load_invoice(conn, invoices.c.id == i, with_calls=False) for i in ids]


async def load_invoice(conn: AsyncConnection, where: Any, *, with_calls: bool = True) -> Invoice:
    row = (await conn.execute(select(invoices).where(where))).first()
    if row is None:
        raise LookupError("no such invoice")
    line_rows = await conn.execute(
        select(*[invoice_lines.c[name] for name in LINE_FIELDS])
        .where(invoice_lines.c.invoice_id == row.id)
        .order_by(invoice_lines.c.position)
    )
    calls: tuple[InvoicedCall, ...] = ()
    if with_calls:
        call_rows = await conn.execute(
            select(*[invoice_calls.c[name] for name in CALL_FIELDS])
            .where(invoice_calls.c.invoice_id == row.id)
            .order_by(invoice_calls.c.start, invoice_calls.c.cdr_id)
        )
        calls = tuple(InvoicedCall(*r) for r in call_rows)
    payment_rows = await conn.execute(
        select(
            invoice_payments.c.id, invoice_payments.c.ledger_entry_id,
            invoice_payments.c.paid_on, invoice_payments.c.amount_micro, invoice_payments.c.currency,
            invoice_payments.c.received_micro, invoice_payments.c.ron_micro,
        )  # fmt: skip
        .where(invoice_payments.c.invoice_id == row.id)
        .order_by(invoice_payments.c.paid_on, invoice_payments.c.id)
    )
    values = dict(row._mapping)
    return Invoice(
        id=values["id"],
        series=values["series"],
        sequence=values["number"],
        account_id=values["account_id"],
        account_code=values["account_code"],
        account_kind=values["account_kind"],
        customer_name=values["customer_name"],
        customer_email=values["customer_email"],
        language=values["language"],
        period=values["period"],
        period_first=values["period_first"],
        period_last=values["period_last"],
        issue_date=values["issue_date"],
        due_date=values["due_date"],
        vat_rate=Decimal(values["vat_rate"]),
        fx_rate=Decimal(values["fx_rate"]),
        fx_date=values["fx_date"],
        fx_source=values["fx_source"],
        bundle_seconds=values["bundle_seconds"],
        bundle_used_seconds=values["bundle_used_seconds"],
        net_micro=values["net_micro"],
        vat_micro=values["vat_micro"],
        total_micro=values["total_micro"],
        net_ron_micro=values["net_ron_micro"],
        vat_ron_micro=values["vat_ron_micro"],
        total_ron_micro=values["total_ron_micro"],
        created_at=values["created_at"],
        supplier=Supplier(**{name: values[f"supplier_{name}"] for name in SUPPLIER_FIELDS}),
        lines=tuple(InvoiceLine(*r) for r in line_rows),
        calls=calls,
        payments=tuple(InvoicePayment(*r) for r in payment_rows),
        kind=values["kind"],
    )


async def monthly_invoice_months(conn: AsyncConnection, account_id: int) -> dict[str, str]:
    """Return the months (``'YYYY-MM'``) account ``account_id``'s monthly
    invoice is issued for, each with that invoice's number: their terms are
    final (:mod:`billing.subscriptions` refuses plan changes into them)."""
    rows = await conn.execute(
        select(invoices.c.period, invoices.c.series, invoices.c.number)
        .where(invoices.c.account_id == account_id, invoices.c.kind == MONTHLY)
    )
    return {row.period: format_invoice_number(row.series, row.number) for row in rows}
