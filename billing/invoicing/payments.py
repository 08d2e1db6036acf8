"""Payments against invoices and where an invoice stands on a day: paid or
not, days late, the late-payment penalty (:mod:`billing.invoicing.penalty`).

A payment is a ledger ``payment`` entry linked to the invoice; one that
settles a one-off invoice in full makes an ``inactive`` account active in
its transaction (:func:`billing.invoicing.activation.activate_when_settled`). The
confirmation email is the composition root's, queued through the
``on_recorded`` hook in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import fx_store, ledger, money
from billing.invoicing import activation, penalty
from billing.invoicing.errors import InvoiceNotPayableError, InvoicePaymentError, UnknownInvoiceError
from billing.invoicing.records import (
    DEFAULT_SERIES,
    INVOICE_CURRENCY_RON,
    PAID,
    PARTIALLY_PAID,
    RON_PER_BAN_MICRO,
    eur_micro_from_ron,
    UNPAID,
    Invoice,
    InvoicePayment,
    format_invoice_number,
    invoice_page,
    load_invoice,
    parse_invoice_number,
    ron_micro,
)
from billing.invoicing.tables import exchange_differences, invoice_payments, invoices
from billing.tables import PAYMENT, ledger_entries
from sqlbase import Db, transaction, utc_now

RON, EUR = INVOICE_CURRENCY_RON, "EUR"
PAYMENT_CURRENCIES = (RON, EUR)
"""What a payment can be received in: lei (what invoices are payable in) or euros."""

PAYMENT_REFERENCE_MAX_LENGTH = 200
"""Characters of a payment's reference (free text, whitespace collapsed)."""


@dataclass(frozen=True)
class RecordedPayment:
    """A payment just recorded, as the ``on_recorded`` hook sees it."""

    invoice: Invoice  # as it was before this payment
    payment: InvoicePayment
    reference: str  # as given, whitespace collapsed ("" when none)
    recorded_at: datetime


PaymentHook = Callable[[AsyncConnection, RecordedPayment], Awaitable[None]]
"""``hook(conn, recorded)``, called in the transaction that records a payment."""


@dataclass(frozen=True, slots=True)
class InvoiceStatus:
    """Where an invoice stands on a day (EUR; the penalty also in RON)."""

    as_of: date
    state: str
    paid_micro: int
    unpaid_micro: int
    days_late: int
    penalty_micro: int
    penalty_ron_micro: int

    @property
    def overdue(self) -> bool:
        return self.days_late > 0 and self.unpaid_micro > 0


async def add_invoice_payment(
    db: Db,
    number: str | int,
    amount_micro: int,
    *,
    paid_on: date,
    currency: str = RON,
    reference: str = "",
    idempotency_key: str | None = None,
    default_series: str = DEFAULT_SERIES,
    on_recorded: PaymentHook | None = None,
    now: datetime | None = None,
) -> InvoicePayment:
    """Record a payment of ``amount_micro`` in ``currency`` (micro-units of
    RON, the default, or EUR) made on ``paid_on`` against invoice ``number``.

    The invoice is priced in euros and payable in lei at its own rate. A
    RON payment (whole bani) settles that many of the invoice's lei; its
    EUR share (the ledger's unit) is the unpaid EUR in proportion to the
    unpaid RON it pays, so that paying the RON left unpaid settles the EUR
    left exactly. An EUR payment settles that many of the invoice's euros,
    worth their lei at the invoice's rate. The payment keeps the currency
    and amount received, its EUR share and its RON value. A payment in lei
    made after the due date also keeps its exchange difference for the
    account's next invoice (art. 7.7 ii, :mod:`billing.invoicing.exchange`):
    it needs the BNR rates of the due date and of ``paid_on``, and raises
    :class:`~billing.fx_bnr.FxError` (nothing recorded) without them.

    Writes a ledger ``payment`` entry of that EUR share (reference
    ``factura <number>``, then ``reference``: free text of at most
    :data:`PAYMENT_REFERENCE_MAX_LENGTH` characters) linked to the invoice,
    and calls ``on_recorded`` in the same transaction (the composition root
    queues the confirmation email there: it exists if and only if the
    payment does). With an ``idempotency_key`` already used, return that
    payment (the hook is not called again). Raise
    :class:`UnknownInvoiceError`, or :class:`InvoicePaymentError` for an
    unknown currency, RON not in whole bani, a prepaid invoice (settled from
    the balance), a day before the issue date, more than is unpaid, or a
    reference too long or with control characters.
    """
    currency, reference = _checked_payment(amount_micro, currency, reference)
    series, sequence = parse_invoice_number(str(number), default_series)
    printed = format_invoice_number(series, sequence)
    async with transaction(db) as conn:
        account_id = await conn.scalar(
            select(invoices.c.account_id).where(invoices.c.series == series, invoices.c.number == sequence)
        )
        if account_id is None:
            raise UnknownInvoiceError(printed)
        await ledger.locked_account(conn, account_id)  # payments of one account, one at a time
        invoice = await load_invoice(conn, (invoices.c.series == series) & (invoices.c.number == sequence), with_calls=False)
        if idempotency_key is not None:
            existing = (
                await conn.execute(
                    select(*_PAYMENT_COLUMNS)
                    .join(ledger_entries, ledger_entries.c.id == invoice_payments.c.ledger_entry_id)
                    .where(ledger_entries.c.idempotency_key == idempotency_key)
                )
            ).first()
            if existing is not None:
                return InvoicePayment(*existing)
        payment = await _settle(
            conn, invoice, currency, amount_micro, paid_on=paid_on, reference=reference,
            idempotency_key=idempotency_key, on_recorded=on_recorded, now=now or utc_now(),
        )  # fmt: skip
    return payment


@dataclass(frozen=True)
class AccountPayment:
    """A payment to an account, as allocated: the invoice payments it made
    (oldest invoice first) and what was left over as the account's credit."""

    currency: str
    received_micro: int
    settled: tuple[tuple[str, InvoicePayment], ...]  # (invoice number, payment)
    credit_micro: int  # left over, in ``currency`` (0: none)
    credit_eur_micro: int  # the ledger credit it became (micro-euros)
    credit_rate: Decimal | None  # the BNR rate lei left over converted at


async def add_account_payment(
    db: Db,
    account_id: int,
    amount_micro: int,
    *,
    paid_on: date,
    currency: str = RON,
    reference: str = "",
    on_recorded: PaymentHook | None = None,
    now: datetime | None = None,
) -> AccountPayment:
    """Record a payment of ``amount_micro`` in ``currency`` received from
    account ``account_id`` on ``paid_on``, allocated to its open invoices
    oldest first (issue date, then number; each settled as
    :func:`add_invoice_payment` would, with its ``on_recorded``), in one
    transaction.

    What is left over stays the account's credit: a ledger ``payment``
    entry not linked to any invoice (reference ``avans``, then
    ``reference``). Euros left are credited as they are; lei left are
    converted at the BNR rate valid on ``paid_on`` (the latest published on
    or before it), rounded half-up once to the micro-euro, and a missing
    rate raises :class:`~billing.fx_bnr.FxError` (nothing is recorded).
    Raise :class:`~billing.errors.UnknownAccountError`, or
    :class:`InvoicePaymentError` as :func:`add_invoice_payment` does for the
    currency, the bani and the reference.
    """
    currency, reference = _checked_payment(amount_micro, currency, reference)
    now = now or utc_now()
    settled: list[tuple[str, InvoicePayment]] = []
    left = amount_micro
    async with transaction(db) as conn:
        await ledger.locked_account(conn, account_id)  # payments of one account, one at a time
        ids = (
            await conn.scalars(
                select(invoices.c.id)
                .where(invoices.c.account_id == account_id, invoices.c.issue_date <= paid_on)
                .order_by(invoices.c.issue_date, invoices.c.series, invoices.c.number)
            )
        ).all()
        for invoice_id in ids:
            if left == 0:
                break
            invoice = await load_invoice(conn, invoices.c.id == invoice_id, with_calls=False)
            if not invoice.payable:
                continue
            owed = unpaid_ron_micro(invoice) if currency == RON else _unpaid_micro(invoice)
            if owed <= 0:
                continue
            part = min(left, owed)
            payment = await _settle(
                conn, invoice, currency, part, paid_on=paid_on, reference=reference,
                idempotency_key=None, on_recorded=on_recorded, now=now,
            )  # fmt: skip
            settled.append((invoice.number, payment))
            left -= part
        credit_eur, rate = 0, None
        if left:
            if currency == RON:
                rate = (await fx_store.rate_for_invoice(conn, paid_on, same_day=True)).rate
                credit_eur = eur_micro_from_ron(left, rate)
            else:
                credit_eur = left
            text = "avans" + (f" — {reference}" if reference else "")
            await ledger.append_entry(conn, account_id, PAYMENT, credit_eur, reference=text, now=now)
    return AccountPayment(currency, amount_micro, tuple(settled), left, credit_eur, rate)


def _unpaid_micro(invoice: Invoice) -> int:
    """The EUR left unpaid on ``invoice``."""
    return invoice.total_micro - sum(p.amount_micro for p in invoice.payments)


async def _settle(
    conn: AsyncConnection,
    invoice: Invoice,
    currency: str,
    amount_micro: int,
    *,
    paid_on: date,
    reference: str,
    idempotency_key: str | None,
    on_recorded: PaymentHook | None,
    now: datetime,
) -> InvoicePayment:
    """Record ``amount_micro`` of ``currency`` against ``invoice`` in ``conn``'s
    transaction (the account locked): its ledger entry, its row, its hook."""
    printed = invoice.number
    if invoice.prepaid:
        raise InvoiceNotPayableError(f"{printed} is a prepaid statement, settled from the balance")
    if paid_on < invoice.issue_date:
        raise InvoicePaymentError(
            f"{printed} was issued on {invoice.issue_date.isoformat()}: a payment cannot be dated before",
            "paid_on",
        )
    unpaid = _unpaid_micro(invoice)
    unpaid_ron = unpaid_ron_micro(invoice)
    # nothing left in the currency received (lei: nor euros for them to settle)
    if unpaid <= 0 or (currency == RON and unpaid_ron <= 0):
        raise InvoiceNotPayableError(f"{printed} is paid: nothing is left unpaid on it in {currency}")
    if currency == EUR:
        # euros settle the invoice's euros as they are; their lei at the invoice's rate
        if amount_micro > unpaid:
            raise InvoicePaymentError(
                f"{money.format_micro(amount_micro)} EUR is more than the "
                f"{money.format_micro(max(unpaid, 0))} EUR left unpaid on {printed}", "amount"
            )
        share = amount_micro
        value_ron = unpaid_ron if share == unpaid else min(ron_micro(share, invoice.fx_rate), unpaid_ron)
    else:
        # lei settle the invoice's lei; their euros in proportion (all of them with the last ban)
        if amount_micro > unpaid_ron:
            raise InvoicePaymentError(
                f"{money.format_micro(amount_micro)} RON is more than the "
                f"{money.format_micro(unpaid_ron)} RON left unpaid on {printed}", "amount"
            )
        share = settled_share_micro(unpaid, unpaid_ron, amount_micro)
        value_ron = amount_micro
    text = f"factura {printed}" + (f" — {reference}" if reference else "")
    entry = await ledger.append_entry(
        conn, invoice.account_id, PAYMENT, share, reference=text, idempotency_key=idempotency_key, now=now
    )
    payment_id = await conn.scalar(
        insert(invoice_payments)
        .values(
            invoice_id=invoice.id,
            ledger_entry_id=entry.id,
            paid_on=paid_on,
            amount_micro=share,
            currency=currency,
            received_micro=amount_micro,
            ron_micro=value_ron,
            created_at=now,
        )
        .returning(invoice_payments.c.id)
    )
    payment = InvoicePayment(payment_id, entry.id, paid_on, share, currency, amount_micro, value_ron)
    if currency == RON and paid_on > invoice.due_date:
        await _record_exchange_difference(conn, invoice, payment)
    # paying a one-off invoice in full activates an account inactive until paid (art. 7.1.1)
    await activation.activate_when_settled(conn, invoice, unpaid - share)
    if on_recorded is not None:
        await on_recorded(conn, RecordedPayment(invoice, payment, reference, now))
    return payment


_PAYMENT_COLUMNS = (
    invoice_payments.c.id, invoice_payments.c.ledger_entry_id, invoice_payments.c.paid_on,
    invoice_payments.c.amount_micro, invoice_payments.c.currency, invoice_payments.c.received_micro,
    invoice_payments.c.ron_micro,
)  # fmt: skip


async def _record_exchange_difference(conn: AsyncConnection, invoice: Invoice, payment: InvoicePayment) -> None:
    """Keep, for the account's next invoice, the exchange difference of a
    payment in lei made after the due date (art. 7.7 ii): its EUR share at
    the BNR rate of the payment's day less at that of the due date (each the
    latest published on or before the day; a missing one raises
    :class:`~billing.fx_bnr.FxError`), each rounded to the ban. Nothing when
    the two come to the same lei."""
    due_rate = (await fx_store.rate_for_invoice(conn, invoice.due_date, same_day=True)).rate
    paid_rate = (await fx_store.rate_for_invoice(conn, payment.paid_on, same_day=True)).rate
    difference = ron_micro(payment.amount_micro, paid_rate) - ron_micro(payment.amount_micro, due_rate)
    if difference:
        await conn.execute(
            insert(exchange_differences).values(
                account_id=invoice.account_id, invoice_payment_id=payment.id, due_rate=str(due_rate),
                paid_rate=str(paid_rate), amount_ron_micro=difference, created_at=utc_now(),
            )  # fmt: skip
        )


def payment_currency(currency: str) -> str:
    """Return ``currency`` as stored (``RON`` or ``EUR``); raise :class:`InvoicePaymentError` otherwise."""
    code = str(currency).strip().upper()
    if code not in PAYMENT_CURRENCIES:
        raise InvoicePaymentError(f"currency: {' or '.join(PAYMENT_CURRENCIES)}, not {currency!r}", "currency")
    return code


def settled_share_micro(unpaid_micro: int, unpaid_ron_micro: int, paid_ron_micro: int) -> int:
    """Return the EUR share of an invoice settled by paying ``paid_ron_micro``
    of its ``unpaid_ron_micro``: all of ``unpaid_micro`` when it pays all
    the RON left, else the same fraction of it rounded half-up (at least one
    micro-euro, and short of all of it while RON stays unpaid)."""
    if paid_ron_micro >= unpaid_ron_micro:
        return unpaid_micro
    share = money.share_micro(unpaid_micro, paid_ron_micro, unpaid_ron_micro)
    return min(max(share, 1), unpaid_micro - 1)


def unpaid_ron_micro(invoice: Invoice) -> int:
    """Return the micro-RON left unpaid on ``invoice`` (its RON total less its payments' RON value)."""
    return invoice.total_ron_micro - sum(_value_ron(p, invoice) for p in invoice.payments)


def _value_ron(payment: InvoicePayment, invoice: Invoice) -> int:
    """A payment's value in RON: as stored, or (built without it) its EUR at the invoice's rate."""
    return payment.ron_micro if payment.ron_micro is not None else ron_micro(payment.amount_micro, invoice.fx_rate)


def _checked_payment(amount_micro: int, currency: str, reference: str) -> tuple[str, str]:
    """The currency and reference of a payment of ``amount_micro`` as stored;
    refused when the amount is not positive, the currency unknown, lei not
    whole bani, or the reference not acceptable."""
    ledger.require_micro("amount_micro", amount_micro, minimum=1)
    currency = payment_currency(currency)
    if currency == RON and amount_micro % RON_PER_BAN_MICRO:
        raise InvoicePaymentError(
            f"{money.format_micro(amount_micro)} RON: a payment in lei is in whole bani", "amount")
    return currency, _payment_reference(reference)


def _payment_reference(reference: str) -> str:
    """The reference with its whitespace collapsed; refused (naming it) when too long or with control characters."""
    text = " ".join(reference.split())
    if len(text) > PAYMENT_REFERENCE_MAX_LENGTH:
        raise InvoicePaymentError(
            f"reference: at most {PAYMENT_REFERENCE_MAX_LENGTH} characters, not {len(text)}", "reference"
        )
    if not text.isprintable():
        raise InvoicePaymentError("reference: printable text only, no control characters", "reference")
    return text


def status_as_of(invoice: Invoice, as_of: date) -> InvoiceStatus:
    """Return where ``invoice`` stands on ``as_of``: paid or not, days late, penalty.

    Payments count from the day they were made. Prepaid invoices are
    settled from the balance at issue: paid, no penalty.
    """
    if not invoice.payable:
        return InvoiceStatus(as_of, PAID, max(invoice.total_micro, 0), 0, 0, 0, 0)
    payments = [(p.paid_on, p.amount_micro) for p in invoice.payments if p.paid_on <= as_of]
    paid = sum(amount for _, amount in payments)
    unpaid = max(0, invoice.total_micro - paid)
    state = PAID if unpaid == 0 else PARTIALLY_PAID if paid else UNPAID
    due = invoice.due_date
    accrued = penalty.accrued_penalty_micro(invoice.total_micro, due, payments, as_of)
    cap = penalty.unpaid_on_due_micro(invoice.total_micro, due, payments)
    late = penalty.days_late(due, as_of) if unpaid else 0
    # art. 7.7, capped in RON (what the invoice is payable in): the RON principal
    # is the sum of the lines each rounded to the ban, which the EUR cap
    # converted in one step can exceed by a ban
    paid_by_due = invoice.total_micro - cap
    cap_ron = max(0, invoice.total_ron_micro - ron_micro(paid_by_due, invoice.fx_rate)) if cap else 0
    accrued_ron = min(ron_micro(accrued, invoice.fx_rate), cap_ron)
    return InvoiceStatus(as_of, state, paid, unpaid, late, min(accrued, cap), accrued_ron)


def penalty_as_of(invoice: Invoice, as_of: date) -> int:
    """Return the late-payment penalty (micro-euros) accrued on ``invoice`` by ``as_of``.

    0.1 % per day after the due date on what was unpaid each day, never more
    than what was unpaid on the due date (:mod:`billing.invoicing.penalty`).
    """
    return status_as_of(invoice, as_of).penalty_micro


STATE_SCAN_BATCH = 200
"""Invoices read at a time while filtering by state (computed from payments, not stored)."""


async def invoices_in_state(db: Db, *, account_id: int | None = None, period: str | None = None,
                            kind: str | None = None, state: str | None = None, as_of: date,
                            after_id: int = 0, limit: int = 50) -> tuple[list[Invoice], int]:
    """Up to ``limit`` invoices after id ``after_id`` (by id, the order
    issued) filtered by account, month, kind and their ``state`` on
    ``as_of`` (unpaid, partially_paid, paid; None: any); return them and the
    id the next page starts after (the last invoice read)."""
    batch_size = STATE_SCAN_BATCH if state else limit
    found: list[Invoice] = []
    last_id = after_id
    while len(found) < limit:
        batch = await invoice_page(db, account_id=account_id, period=period, kind=kind, after_id=last_id,
                                   limit=batch_size)
        for invoice in batch:
            last_id = invoice.id
            if state is None or status_as_of(invoice, as_of).state == state:
                found.append(invoice)
                if len(found) == limit:
                    break
        if len(batch) < batch_size:
            break
    return found, last_id
