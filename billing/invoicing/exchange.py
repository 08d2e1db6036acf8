"""Exchange differences on the account's next invoice (contract art. 7.7 ii).

A payment in lei made after its invoice's due date leaves an
``exchange_differences`` row (:mod:`billing.invoicing.payments`): the
payment's EUR share at the BNR rate of its day less at that of the due date,
in lei. The account's next invoice carries each one still on no invoice as a
line of its own, with exactly those lei (its euros are the lei at that
invoice's rate), and marks it with the invoice: once, ever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.invoicing.records import EXCHANGE_DIFFERENCE, eur_micro_from_ron, format_invoice_number
from billing.invoicing.tables import exchange_differences, invoice_payments, invoices
from billing.invoicing.usage import Draft
from sqlbase import Db, reading


@dataclass(frozen=True, slots=True)
class PendingDifference:
    """An exchange difference on no invoice yet."""

    id: int
    invoice_number: str  # the invoice the late payment paid
    paid_on: date
    due_rate: Decimal
    paid_rate: Decimal
    amount_ron_micro: int


async def pending_differences(conn: AsyncConnection, account_id: int, last_day: date) -> list[PendingDifference]:
    """The account's exchange differences on no invoice, of payments made by ``last_day``, oldest first."""
    rows = await conn.execute(
        select(
            exchange_differences.c.id, invoices.c.series, invoices.c.number, invoice_payments.c.paid_on,
            exchange_differences.c.due_rate, exchange_differences.c.paid_rate,
            exchange_differences.c.amount_ron_micro,
        )  # fmt: skip
        .join(invoice_payments, invoice_payments.c.id == exchange_differences.c.invoice_payment_id)
        .join(invoices, invoices.c.id == invoice_payments.c.invoice_id)
        .where(
            exchange_differences.c.account_id == account_id,
            exchange_differences.c.invoice_id.is_(None),
            invoice_payments.c.paid_on <= last_day,
        )
        .order_by(invoice_payments.c.paid_on, exchange_differences.c.id)
    )
    return [
        PendingDifference(r.id, format_invoice_number(r.series, r.number), r.paid_on,
                          Decimal(r.due_rate), Decimal(r.paid_rate), r.amount_ron_micro)
        for r in rows
    ]  # fmt: skip


def difference_draft(difference: PendingDifference, rate: Decimal) -> Draft:
    """The invoice line of ``difference``: its lei exactly, its euros at the invoice's ``rate``."""
    return Draft(
        EXCHANGE_DIFFERENCE,
        f"Diferență de curs valutar: factura {difference.invoice_number} plătită la "
        f"{difference.paid_on.isoformat()} (curs BNR {difference.paid_rate} față de {difference.due_rate} "
        "la scadență)",
        eur_micro_from_ron(difference.amount_ron_micro, rate),
        net_ron_micro=difference.amount_ron_micro,
    )


async def mark_invoiced(conn: AsyncConnection, ids: list[int], invoice_id: int) -> None:
    """Put the exchange differences ``ids`` on invoice ``invoice_id`` (only those on none yet)."""
    if ids:
        await conn.execute(
            update(exchange_differences)
            .where(exchange_differences.c.id.in_(ids), exchange_differences.c.invoice_id.is_(None))
            .values(invoice_id=invoice_id)
        )


@dataclass(frozen=True, slots=True)
class PaymentDifference:
    """The exchange difference a late payment in lei left (art. 7.7 ii)."""

    payment_id: int
    due_rate: Decimal
    paid_rate: Decimal
    amount_ron_micro: int


async def differences_of_payments(db: Db, payment_ids: Iterable[int]) -> list[PaymentDifference]:
    """Return the exchange differences the payments ``payment_ids`` left, by payment."""
    ids = sorted(set(payment_ids))
    if not ids:
        return []
    async with reading(db) as conn:
        rows = await conn.execute(
            select(exchange_differences.c.invoice_payment_id, exchange_differences.c.due_rate,
                   exchange_differences.c.paid_rate, exchange_differences.c.amount_ron_micro)
            .where(exchange_differences.c.invoice_payment_id.in_(ids))
            .order_by(exchange_differences.c.invoice_payment_id)
        )
        return [PaymentDifference(r[0], Decimal(r[1]), Decimal(r[2]), r[3]) for r in rows]
