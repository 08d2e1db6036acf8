"""The invoicing service: "issue the month's invoices and email them",
"issue an account's interim or one-off invoice and email it" and "record a
payment and confirm it", the one entry point of the CLI, the
scheduler and any later API route.

Billing cannot look up a customer (provisioning owns subscribers) or send
an email (notify does), so those come in as :class:`InvoicingHooks`, built
once by the composition root; each hook runs in the transaction of the
invoice or payment it concerns, so the email exists if and only if the
invoice or payment does. ``after_commit`` then tells whoever sends the
emails that some are waiting (the running control plane's dispatcher).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from billing.fx_store import DEFAULT_MAX_AGE_DAYS
from billing.invoicing.interim import issue_interim_invoice
from billing.invoicing import one_off
from billing.invoicing.issuing import CustomerLookup, IssuedHook, RunReport, run_invoices
from billing.invoicing.payments import RON, AccountPayment, PaymentHook, add_account_payment, add_invoice_payment
from billing.invoicing.records import DEFAULT_SERIES, Invoice, InvoicePayment
from billing.invoicing.supplier import Supplier
from sqlbase import Db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvoicingHooks:
    """What billing is given by the composition root (None: nothing done)."""

    customers: CustomerLookup | None = None
    """The account's customer (name, email, language) on its invoice."""
    on_issued: IssuedHook | None = None
    """Queues an issued invoice's email, in the transaction issuing it."""
    on_payment: PaymentHook | None = None
    """Queues a recorded payment's confirmation, in the transaction recording it."""
    after_commit: Callable[[], None] | None = None
    """Called once the invoices or the payment are committed (wakes the sender)."""


class InvoicingService:
    """Issues a month's invoices and interim invoices, and records payments, with their emails.

    On an engine: each invoice and each payment commits in its own
    transaction, which is what ``after_commit`` follows. An interim or
    one-off invoice and a payment may instead be given ``db``, a connection
    whose transaction they join (an audited change's: the caller commits,
    and wakes the sender after)."""

    def __init__(self, engine: AsyncEngine, hooks: InvoicingHooks) -> None:
        self._engine = engine
        self.hooks = hooks

    async def issue_month(
        self,
        period: str,
        issue_date: date | None = None,
        *,
        supplier: Supplier,
        series: str = DEFAULT_SERIES,
        now: datetime | None = None,
        allow_uningested: bool = False,
    ) -> RunReport:
        """Issue the invoices of ``period`` (``'YYYY-MM'``) by ``supplier``
        and queue each one's email with it; return the run's report.

        :func:`~billing.invoicing.issuing.run_invoices` with the hooks:
        idempotent, the same refusals (``allow_uningested``: issue even while
        CDRs of the period are on their way). A supplier lacking details is
        issued with all the same (a testbed has no CIF), and logged."""
        if supplier.missing:
            log.warning(
                "invoices of %s name their supplier without: %s (set CLICKPHONE_SUPPLIER_*)",
                period, ", ".join(supplier.missing),
            )  # fmt: skip
        try:
            return await run_invoices(
                self._engine, period, issue_date, supplier=supplier, series=series,
                customers=self.hooks.customers, on_issued=self.hooks.on_issued,
                now=now, allow_uningested=allow_uningested,
            )  # fmt: skip
        finally:
            # also after a refusal part-way: the invoices issued before it stay, with their emails
            self._committed()

    async def issue_interim(
        self,
        account_id: int,
        *,
        supplier: Supplier,
        until: datetime | None = None,
        series: str = DEFAULT_SERIES,
        now: datetime | None = None,
        db: Db | None = None,
        allow_uningested: bool = False,
        max_fx_age_days: int = DEFAULT_MAX_AGE_DAYS,
    ) -> Invoice:
        """Issue account ``account_id``'s interim invoice of its usage before
        ``until`` (default now) by ``supplier`` and queue its email with it,
        as a monthly invoice's; return it.

        :func:`~billing.invoicing.interim.issue_interim_invoice` with the
        hooks: its contents and refusals. A supplier lacking details is
        issued with all the same, and logged."""
        if supplier.missing:
            log.warning(
                "the interim invoice of account %d names its supplier without: %s (set CLICKPHONE_SUPPLIER_*)",
                account_id, ", ".join(supplier.missing),
            )  # fmt: skip
        invoice = await issue_interim_invoice(
            self._engine if db is None else db, account_id, supplier=supplier, until=until, series=series, now=now,
            customers=self.hooks.customers, on_issued=self.hooks.on_issued,
            allow_uningested=allow_uningested, max_fx_age_days=max_fx_age_days,
        )  # fmt: skip
        self._committed()
        return invoice

    async def issue_one_off(
        self,
        account_id: int,
        *,
        supplier: Supplier,
        series: str = DEFAULT_SERIES,
        inactive_until_paid: bool = False,
        now: datetime | None = None,
        db: Db | None = None,
    ) -> Invoice:
        """Issue today the one-off invoice of ``account_id``'s uninvoiced
        one-off charges and queue its email in the same transaction
        (:func:`~billing.invoicing.one_off.issue_one_off_invoice`: its refusals)."""
        try:
            return await one_off.issue_one_off_invoice(
                self._engine if db is None else db, account_id, supplier=supplier, series=series, now=now,
                inactive_until_paid=inactive_until_paid, customers=self.hooks.customers,
                on_issued=self.hooks.on_issued,
            )  # fmt: skip
        finally:
            self._committed()

    def committed(self) -> None:
        """Tell the email sender that invoices or payments were committed."""
        self._committed()

    async def record_payment(
        self,
        number: str | int,
        amount_micro: int,
        *,
        paid_on: date,
        currency: str = RON,
        reference: str = "",
        idempotency_key: str | None = None,
        now: datetime | None = None,
        db: Db | None = None,
    ) -> InvoicePayment:
        """Record a payment of ``amount_micro`` in ``currency`` (RON unless
        told) against invoice ``number`` and queue its confirmation in the
        same transaction; return the payment
        (:func:`~billing.invoicing.payments.add_invoice_payment`: its
        conversion and refusals, and an idempotent replay queues nothing new)."""
        payment = await add_invoice_payment(
            self._engine if db is None else db, number, amount_micro, paid_on=paid_on, currency=currency, reference=reference,
            idempotency_key=idempotency_key, on_recorded=self.hooks.on_payment, now=now,
        )  # fmt: skip
        self._committed()
        return payment

    async def record_account_payment(
        self,
        account_id: int,
        amount_micro: int,
        *,
        paid_on: date,
        currency: str = RON,
        reference: str = "",
        now: datetime | None = None,
        db: Db | None = None,
    ) -> AccountPayment:
        """Record a payment of ``amount_micro`` in ``currency`` from account
        ``account_id``, allocated to its oldest open invoices first with the
        rest kept as its credit, and queue a confirmation per invoice paid
        in the same transaction
        (:func:`~billing.invoicing.payments.add_account_payment`)."""
        payment = await add_account_payment(
            self._engine if db is None else db, account_id, amount_micro, paid_on=paid_on, currency=currency,
            reference=reference, on_recorded=self.hooks.on_payment, now=now,
        )  # fmt: skip
        self._committed()
        return payment

    def _committed(self) -> None:
        if self.hooks.after_commit is not None:
            self.hooks.after_commit()
