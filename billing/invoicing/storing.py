"""Storing one invoice: price its lines, take the next gapless number, write
the ledger entries it brings, check it against the ledger, store it.

Every kind of invoice (the monthly one, an interim one, the one-off fees of
a contract's start) gathers its own lines and the ledger entries they
account for, then comes here, in the transaction that holds the account's
lock. An :class:`IssueTerms` says how invoices are issued on one day
(series, due date, VAT and BNR rates, supplier, hooks); :func:`issue_terms`
checks them before anything is issued.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger, money, vat
from billing.fx_store import DEFAULT_MAX_AGE_DAYS, StoredRate, rate_for_invoice
from billing.invoicing.errors import InvalidSeriesError, InvoiceChronologyError, InvoiceConsistencyError
from billing.invoicing.records import (
    CALL_FIELDS,
    LINE_FIELDS,
    RON_PER_BAN_MICRO,
    Customer,
    Invoice,
    InvoicedCall,
    InvoiceLine,
    format_invoice_number,
    load_invoice,
    ron_micro,
)
from billing.invoicing.supplier import SUPPLIER_FIELDS, Supplier, checked_supplier
from billing.invoicing.tables import invoice_calls, invoice_counters, invoice_entries, invoice_lines, invoices
from billing.invoicing.usage import Draft
from billing.tables import ADJUSTMENT
from sqlbase import Db, transaction
from sqlbase.bulk import insert_or_skip

_SERIES = re.compile(r"[A-Z]{1,16}")

CustomerLookup = Callable[[AsyncConnection, ledger.Account], Awaitable[Customer | None]]
"""``lookup(conn, account)`` → the account's customer, in the issuing transaction."""

IssuedHook = Callable[[AsyncConnection, Invoice], Awaitable[None]]
"""``hook(conn, invoice)``, called in the transaction that issues the invoice."""

NewEntries = Callable[[AsyncConnection, str, Sequence[InvoiceLine]], Awaitable[list[Any]]]
"""``write(conn, number, lines)`` → the ledger entries an invoice writes as it
is issued (its fee, its one-off charges...), once its number is known."""

Linked = Callable[[AsyncConnection, int], Awaitable[None]]
"""``link(conn, invoice_id)``: records pointing at the invoice, written before its hook runs."""


@dataclass(frozen=True)
class IssueTerms:
    """How invoices are issued on one day: series, dates, rates, supplier, hooks."""

    series: str
    issue_date: date
    due_date: date
    fx: StoredRate
    vat_rate: Decimal
    supplier: Supplier
    now: datetime
    customers: CustomerLookup | None = None
    on_issued: IssuedHook | None = None


@dataclass
class InvoiceContent:
    """What one invoice holds before it is priced and numbered.

    ``accounted`` are the ledger entries already written that its lines
    account for; ``new_entries`` writes the ones it brings itself. Together,
    VAT aside, they must sum to minus the lines' net total.
    """

    kind: str
    period: str
    period_first: date
    period_last: date
    drafts: list[Draft]
    accounted: list[Any] = field(default_factory=list)
    calls: Sequence[InvoicedCall] = ()
    bundle_seconds: int = 0
    bundle_used_seconds: int = 0
    new_entries: NewEntries | None = None
    linked: Linked | None = None


async def issue_terms(
    db: Db,
    issue_date: date,
    due_date: date,
    *,
    supplier: Supplier,
    series: str,
    now: datetime,
    max_fx_age_days: int = DEFAULT_MAX_AGE_DAYS,
    customers: CustomerLookup | None = None,
    on_issued: IssuedHook | None = None,
) -> IssueTerms:
    """Return the checked :class:`IssueTerms` of ``issue_date``.

    Raise :class:`InvalidSeriesError` for a bad series,
    :class:`InvoiceChronologyError` when the series already has a later
    invoice, :class:`~billing.invoicing.supplier.InvalidSupplierError`, or
    :class:`~billing.fx_bnr.MissingRateError` /
    :class:`~billing.fx_bnr.StaleRateError` without a valid BNR rate.
    """
    if not isinstance(series, str) or not _SERIES.fullmatch(series):
        raise InvalidSeriesError(f"series: 1 to 16 capital letters, not {series!r:.40}")
    supplier = checked_supplier(supplier)
    async with transaction(db) as conn:
        last = await conn.scalar(
            select(invoice_counters.c.last_issue_date).where(invoice_counters.c.series == series)
        )
    _refuse_earlier(series, issue_date, last)
    fx = await rate_for_invoice(db, issue_date, max_age_days=max_fx_age_days)
    return IssueTerms(
        series=series, issue_date=issue_date, due_date=due_date, fx=fx, vat_rate=vat.vat_rate_on(issue_date),
        supplier=supplier, now=now, customers=customers, on_issued=on_issued,
    )  # fmt: skip


def _refuse_earlier(series: str, issue: date, last: date | None) -> None:
    if last is not None and issue < last:
        raise InvoiceChronologyError(
            f"series {series} already has an invoice issued on {last.isoformat()}: "
            f"numbers follow issue dates, so {issue.isoformat()} cannot be used"
        )


async def store_invoice(
    conn: AsyncConnection, terms: IssueTerms, account: ledger.Account, content: InvoiceContent
) -> Invoice:
    """Price, number and store ``content`` as an invoice of ``account``; return it.

    In the caller's transaction, which holds the account's lock. Raise
    :class:`InvoiceConsistencyError` (the transaction must roll back: the
    number is not consumed) when the ledger entries do not match the lines.
    """
    lines = priced_lines(content.drafts, terms)
    net = sum(line.net_micro for line in lines)
    vat_total = sum(line.vat_micro for line in lines)
    sequence = await _next_number(conn, terms.series, terms.issue_date)
    number = format_invoice_number(terms.series, sequence)
    accounted = list(content.accounted)
    if content.new_entries is not None:
        accounted.extend(await content.new_entries(conn, number, lines))
    if sum(entry.amount_micro for entry in accounted) != -net:
        raise InvoiceConsistencyError(
            f"account {account.code}, {content.period}: the lines total {money.format_micro(net)} EUR but "
            f"the ledger entries they account for total {money.format_micro(-sum(e.amount_micro for e in accounted))}"
        )
    if vat_total:
        accounted.append(
            await ledger.append_entry(
                conn, account.id, ADJUSTMENT, -vat_total,
                reference=f"TVA factura {number}", idempotency_key=f"invoice_vat:{number}", now=terms.now,
            )  # fmt: skip
        )
    customer = await terms.customers(conn, account) if terms.customers is not None else None
    if customer is None:
        customer = Customer(account.code, None, account.language or "ro")
    invoice_id = await conn.scalar(
        insert(invoices)
        .values(
            series=terms.series,
            number=sequence,
            kind=content.kind,
            account_id=account.id,
            account_code=account.code,
            account_kind=account.kind,
            customer_name=customer.name,
            customer_email=customer.email,
            language=customer.language,
            period=content.period,
            period_first=content.period_first,
            period_last=content.period_last,
            issue_date=terms.issue_date,
            due_date=terms.due_date,
            vat_rate=format(terms.vat_rate, "f"),
            fx_rate=format(terms.fx.rate, "f"),
            fx_date=terms.fx.day,
            fx_source=terms.fx.source,
            bundle_seconds=content.bundle_seconds,
            bundle_used_seconds=content.bundle_used_seconds,
            net_micro=net,
            vat_micro=vat_total,
            total_micro=net + vat_total,
            net_ron_micro=sum(line.net_ron_micro for line in lines),
            vat_ron_micro=sum(line.vat_ron_micro for line in lines),
            total_ron_micro=sum(line.total_ron_micro for line in lines),
            created_at=terms.now,
            **_supplier_values(terms.supplier),
        )
        .returning(invoices.c.id)
    )
    if lines:
        await conn.execute(
            insert(invoice_lines), [{"invoice_id": invoice_id, **_line_values(line)} for line in lines]
        )
    if content.calls:
        await conn.execute(
            insert(invoice_calls), [{"invoice_id": invoice_id, **_call_values(call)} for call in content.calls]
        )
    if accounted:  # calls all within the bundle charge nothing: no entries
        await conn.execute(
            insert(invoice_entries),
            [{"ledger_entry_id": entry.id, "invoice_id": invoice_id} for entry in accounted],
        )
    if content.linked is not None:
        await content.linked(conn, invoice_id)
    invoice = await load_invoice(conn, invoices.c.id == invoice_id)
    if terms.on_issued is not None:
        await terms.on_issued(conn, invoice)
    return invoice


async def _next_number(conn: AsyncConnection, series: str, issue: date) -> int:
    """Lock the series' counter (creating it at 0), bump it, return the new number."""
    await conn.execute(
        insert_or_skip(conn, invoice_counters, invoice_counters.c.series).values(
            series=series, last_number=0, last_issue_date=None
        )
    )
    row = (
        await conn.execute(
            select(invoice_counters.c.last_number, invoice_counters.c.last_issue_date)
            .where(invoice_counters.c.series == series)
            .with_for_update()
        )
    ).one()
    _refuse_earlier(series, issue, row.last_issue_date)
    number = row.last_number + 1
    await conn.execute(
        update(invoice_counters)
        .where(invoice_counters.c.series == series)
        .values(last_number=number, last_issue_date=max(issue, row.last_issue_date or issue))
    )
    return number


def priced_lines(drafts: Sequence[Draft], terms: IssueTerms) -> list[InvoiceLine]:
    """Number the lines; add VAT (EUR per line) and RON (per line, whole bani)."""
    lines = []
    for position, d in enumerate(drafts, start=1):
        net_ron = ron_micro(d.net_micro, terms.fx.rate) if d.net_ron_micro is None else d.net_ron_micro
        lines.append(
            InvoiceLine(
                position, d.kind, d.description, d.number_class, d.month, d.quantity,
                d.billable_seconds, d.included_seconds, d.charged_seconds,
                d.net_micro, money.multiply_micro(d.net_micro, terms.vat_rate),
                net_ron, _ron_vat_micro(net_ron, terms.vat_rate),
            )  # fmt: skip
        )
    return lines


def _ron_vat_micro(net_ron_micro: int, rate: Decimal) -> int:
    # net is whole bani: VAT in bani, rounded half-up once
    return money.multiply_micro(net_ron_micro // RON_PER_BAN_MICRO, rate) * RON_PER_BAN_MICRO


def _line_values(line: InvoiceLine) -> dict[str, Any]:
    return {name: getattr(line, name) for name in LINE_FIELDS}


def _call_values(call: InvoicedCall) -> dict[str, Any]:
    return {name: getattr(call, name) for name in CALL_FIELDS}


def _supplier_values(supplier: Supplier) -> dict[str, str]:
    """The ``invoices.supplier_*`` columns."""
    return {f"supplier_{name}": getattr(supplier, name) for name in SUPPLIER_FIELDS}
