"""The invoicing service wired to provisioning and the Notifier: built once
per process by :func:`invoicing_service` (the scheduler's invoice run with
the running control plane's notifier, each ``clickphone invoice`` /
``payments`` command with its own).

Billing issues invoices and records payments
(:class:`billing.invoicing.service.InvoicingService`); this module gives it
what billing may not import:

* the customer of an invoice — the account's subscriber from provisioning
  (:func:`provisioning.services.find_subscriber`), in the one language rule
  (:func:`notify.notifier.language_for`);
* the ``InvoiceIssued`` email (invoice HTML attached, dedup key
  ``invoice:<number>``), queued in the transaction that issues the invoice;
* the ``PaymentRegistered`` email — "confirmation that a payment was
  registered", which the privacy policy lists among the emails — to the
  account's subscriber, keyed by the payment's id (``payment:<id>``),
  queued in the transaction that records the payment. The email exists if
  and only if the payment does; an idempotent replay queues nothing new.

The dispatcher of a running control plane sends them: at once when the
notifier holds its ``wake`` event (woken after each commit), otherwise
(another process, such as the CLI) at its next poll, within seconds.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing import ledger, money
from billing.invoicing import presentation, records
from billing.invoicing.issuing import IssuedHook
from billing.invoicing.payments import PaymentHook, RecordedPayment
from billing.invoicing.records import Customer, Invoice
from billing.invoicing.service import InvoicingHooks, InvoicingService
from notify.errors import InvalidEmailError
from notify.events import InvoiceIssued, PaymentRegistered, Recipient
from notify.notifier import Notifier, language_for
from provisioning import services as provisioning

log = logging.getLogger(__name__)


def invoicing_service(engine: AsyncEngine, notifier: Notifier) -> InvoicingService:
    """Return the invoicing service on ``engine`` whose customers are
    provisioning's subscribers and whose emails go through ``notifier``."""
    return InvoicingService(engine, InvoicingHooks(
        customers=subscriber_customer, on_issued=email_invoice(notifier),
        on_payment=email_payment(notifier), after_commit=notifier.wake,
    ))  # fmt: skip


async def subscriber_customer(conn: AsyncConnection, account: ledger.Account) -> Customer | None:
    """The account's subscriber as the invoice's customer, in the account's
    language or else the subscriber's; None without a subscriber."""
    if account.subscriber_id is None:
        return None
    subscriber = await provisioning.find_subscriber(conn, account.subscriber_id)
    if subscriber is None:
        return None
    return Customer(subscriber.name, subscriber.email or None, language_for(account.language, subscriber.language))


# -- the invoice's email ---------------------------------------------------------------


def email_invoice(notifier: Notifier) -> IssuedHook:
    """Return the hook queueing an issued invoice's email (HTML attached) in its transaction."""

    async def queue(conn: AsyncConnection, invoice: Invoice) -> None:
        if not invoice.customer_email:
            log.warning("invoice %s: account %s has no email address, not emailed", invoice.number, invoice.account_code)
            return
        event = invoice_issued_event(invoice)
        try:
            await notifier.notify(conn, event)
        except InvalidEmailError as exc:
            # the invoice stands; the address must be corrected and the email sent again
            log.error("invoice %s not emailed: %s", invoice.number, exc)

    return queue


def invoice_issued_event(invoice: Invoice) -> InvoiceIssued:
    """Return the InvoiceIssued event of ``invoice`` (total in RON, HTML attached)."""
    assert invoice.customer_email
    return InvoiceIssued(
        to=Recipient(invoice.account_id, invoice.customer_email, invoice.language),
        number=invoice.number,
        issued_on=invoice.issue_date,
        due_on=invoice.due_date,
        total=money.from_micro(invoice.total_ron_micro),
        currency=records.INVOICE_CURRENCY_RON,
        invoice_html=presentation.render_invoice_html(invoice),
        payable=invoice.payable,  # a prepaid statement was paid at issue: no due date, no request
        prepaid=invoice.prepaid,
    )


# -- the payment's confirmation ----------------------------------------------------------


def email_payment(notifier: Notifier) -> PaymentHook:
    """Return the hook queueing a recorded payment's confirmation email in its transaction."""

    async def queue(conn: AsyncConnection, recorded: RecordedPayment) -> None:
        event = await payment_registered_event(conn, recorded)
        if event is None:
            log.warning("payment %d on %s: no email address, not emailed",
                        recorded.payment.id, recorded.invoice.number)  # fmt: skip
            return
        try:
            await notifier.notify(conn, event)
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
        # as the bank received it (a payment recorded before 0014 was EUR, its share)
        amount=money.from_micro(recorded.payment.received_micro or recorded.payment.amount_micro),
        currency=recorded.payment.currency,
        at=recorded.recorded_at,
        reference=recorded.reference,
        invoice_number=invoice.number,
    )
