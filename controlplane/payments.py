"""Recording a payment against an invoice, wired to the outbox.

:func:`record_payment` is the one way every path (``clickphone payments
add``, and any later API route) registers a payment: billing records it
(:func:`billing.invoicing.add_invoice_payment`) and, in the same
transaction, the ``PaymentRegistered`` email — "confirmation that a payment
was registered", which the privacy policy lists among the emails — is
queued for the account's subscriber, keyed by the payment's id
(``payment:<id>``). The email exists if and only if the payment does; an
idempotent replay queues nothing new.

The dispatcher of a running control plane sends it: at once when the
caller passes that dispatcher's ``wake`` event, otherwise (another process,
such as the CLI) at its next poll, within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing import ledger, money
from billing.invoicing import payments
from billing.fx_store import INVOICE_CURRENCY
from billing.invoicing.payments import PaymentHook, RecordedPayment
from billing.invoicing.records import InvoicePayment
from notify.errors import InvalidEmailError
from notify.events import PaymentRegistered, Recipient, enqueue_event
from notify.render import Renderer

from .scheduled_jobs import subscriber_customer

log = logging.getLogger(__name__)


async def record_payment(
    engine: AsyncEngine,
    renderer: Renderer,
    number: str | int,
    amount_micro: int,
    *,
    paid_on: date,
    reference: str = "",
    idempotency_key: str | None = None,
    wake: asyncio.Event | None = None,
    now: datetime | None = None,
) -> InvoicePayment:
    """Record a payment of ``amount_micro`` EUR against invoice ``number``
    and queue its confirmation email in the same transaction; return the
    payment. Refusals are billing's (:class:`~billing.invoicing.InvoiceError`)."""
    payment = await payments.add_invoice_payment(
        engine, number, amount_micro, paid_on=paid_on, reference=reference,
        idempotency_key=idempotency_key, on_recorded=email_payment(renderer), now=now,
    )  # fmt: skip
    if wake is not None:
        wake.set()  # committed: the dispatcher can see it
    return payment


def email_payment(renderer: Renderer) -> PaymentHook:
    """Return the hook queueing a recorded payment's confirmation email in its transaction."""

    async def queue(conn: AsyncConnection, recorded: RecordedPayment) -> None:
        event = await payment_registered_event(conn, recorded)
        if event is None:
            log.warning("payment %d on %s: no email address, not emailed",
                        recorded.payment.id, recorded.invoice.number)  # fmt: skip
            return
        try:
            await enqueue_event(conn, event, renderer)
        except InvalidEmailError as exc:
            # the payment stands; the address must be corrected
            log.error("payment %d on %s not emailed: %s", recorded.payment.id, recorded.invoice.number, exc)

    return queue


async def payment_registered_event(conn: AsyncConnection, recorded: RecordedPayment) -> PaymentRegistered | None:
    """Return the PaymentRegistered event of ``recorded``, to the account's
    subscriber now (else the invoice's customer); None without an address."""
    invoice = recorded.invoice
    customer = await subscriber_customer(conn, await ledger.get_account(conn, invoice.account_id))
    email = customer.email if customer is not None and customer.email else invoice.customer_email
    if not email:
        return None
    language = customer.language if customer is not None else invoice.language
    return PaymentRegistered(
        to=Recipient(invoice.account_id, email, language),
        payment_id=recorded.payment.id,
        amount=money.from_micro(recorded.payment.amount_micro),
        currency=INVOICE_CURRENCY,  # payments are recorded in EUR, the ledger's unit
        at=recorded.recorded_at,
        reference=recorded.reference,
        invoice_number=invoice.number,
    )
