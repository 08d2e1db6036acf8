"""/api/v1's shapes for invoices and payments (:mod:`web.api.invoice_routes`).

An invoice's own document is :func:`billing.invoicing.presentation.invoice_json`
(EUR with six decimals, RON with two, as strings); payments and standings are
:mod:`web.payment_routes`'s, so /admin and /api/v1 answer the same figures."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Optional

from pydantic import AwareDatetime, Field

from billing.invoicing.payments import PAYMENT_REFERENCE_MAX_LENGTH
from web.admin_input import MAX_INVOICE_NUMBER_LENGTH

from .schemas import Cursor, DEFAULT_PAGE_SIZE, Id, Limit, _Out, _Query

InvoiceState = Literal["paid", "partially_paid", "unpaid"]


class InvoiceQuery(_Query):
    account: Optional[Id] = None
    month: Optional[str] = Field(None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="the period, YYYY-MM (month 01 to 12)")
    kind: Optional[Literal["monthly", "interim", "one_off"]] = None
    status: Optional[InvoiceState] = Field(None, description="where it stands on ``on`` (default today)")
    on: Optional[date] = Field(None, description="the day standings are computed for (default today)")
    cursor: Cursor = None
    limit: Limit = DEFAULT_PAGE_SIZE


class OnQuery(_Query):
    on: Optional[date] = Field(None, description="show the standing and penalty on this day (default today)")


class StandingOut(_Out):
    as_of: date
    state: str
    paid_eur: str
    unpaid_eur: str
    unpaid_ron: str
    days_late: int
    penalty_eur: str = Field(description="late-payment penalty so far (art. 7.7)")
    penalty_ron: str


class InvoiceSummary(_Out):
    number: str
    kind: str
    account_id: int
    account_code: str
    period: str
    issue_date: date
    due_date: Optional[date] = Field(description="null: nothing to pay (a prepaid statement)")
    total_eur: str
    total_ron: str
    status: StandingOut


class InvoicePage(_Out):
    items: list[InvoiceSummary]
    next_cursor: Optional[str]


class PaymentOut(_Out):
    id: int
    paid_on: date
    currency: str
    received: str
    amount_eur: str = Field(description="the EUR share of the invoice it settled")
    value_ron: Optional[str]


class InvoiceDetail(_Out):
    invoice: dict[str, Any] = Field(description="the invoice as issued, with its lines (decimal strings)")
    payments: list[PaymentOut]
    status: StandingOut


class PaymentIn(_Query):
    """A payment received: against ``invoice``, or ``account``'s oldest open invoices first."""

    amount: str = Field(max_length=40, description="received, a decimal string in ``currency``")
    currency: str = Field("RON", max_length=8, description="RON (default) or EUR")
    paid_on: Optional[date] = Field(None, description="default today (Europe/Bucharest)")
    reference: str = Field("", max_length=PAYMENT_REFERENCE_MAX_LENGTH)
    invoice: Optional[str] = Field(None, max_length=MAX_INVOICE_NUMBER_LENGTH, description="e.g. CP-000012")
    account: Optional[Id] = None


class AllocatedOut(_Out):
    invoice: str
    payment: PaymentOut
    standing: StandingOut


class CreditOut(_Out):
    amount: str
    currency: str
    amount_eur: str
    rate: Optional[str]


class DifferenceOut(_Out):
    payment_id: int
    due_rate: str
    paid_rate: str
    amount_ron: str


class PaymentRecorded(_Out):
    account_id: int
    currency: str
    received: str
    paid_on: date
    invoices: list[AllocatedOut]
    credit: Optional[CreditOut] = Field(description="what is left over, kept as the account's credit")
    exchange_differences: list[DifferenceOut]


class InterimIn(_Query):
    until: Optional[AwareDatetime] = Field(None, description="usage before this instant (default now)")
    series: Optional[str] = Field(None, max_length=16, description="1 to 16 capital letters; default CP")
