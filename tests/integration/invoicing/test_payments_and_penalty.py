"""Payments against invoices, status and the late-payment penalty, on both databases.

Contract: due 10 calendar days after issue; after that a penalty of 0.1 %
per day of delay accrues on the unpaid amount, never exceeding that amount.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing import payments, records
from billing.invoicing.errors import InvoicePaymentError, UnknownInvoiceError

from .support import AUGUST_1, EUR, bnr_rate, open_account, open_prepaid, run

DUE = date(2025, 8, 11)
TOTAL = 12_100_000  # 10 EUR fee + 21 % VAT


@pytest.fixture
async def invoice(engine: AsyncEngine) -> records.Invoice:
    """A postpaid July invoice of 12.10 EUR (10 EUR + 21 % VAT), due 11 August."""
    await open_account(engine, fee_eur=10)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    [issued] = (await run(engine, "2025-07", AUGUST_1)).issued
    assert (issued.total_micro, issued.due_date) == (TOTAL, DUE)
    return issued


async def pay(engine: AsyncEngine, amount: int, on: date) -> records.Invoice:
    await payments.add_invoice_payment(engine, "CP-000001", amount, paid_on=on, currency="EUR")
    return await records.get_invoice(engine, "CP-000001")


async def test_nothing_accrues_until_the_due_date(invoice: records.Invoice) -> None:
    status = payments.status_as_of(invoice, DUE)

    assert (status.state, status.unpaid_micro, status.days_late, status.penalty_micro) == ("unpaid", TOTAL, 0, 0)


async def test_the_penalty_is_a_tenth_of_a_percent_per_day_late(invoice: records.Invoice) -> None:
    assert payments.penalty_as_of(invoice, DUE + timedelta(days=1)) == 12_100
    status = payments.status_as_of(invoice, DUE + timedelta(days=10))
    assert (status.days_late, status.penalty_micro, status.overdue) == (10, 121_000, True)
    assert status.penalty_ron_micro == 610_000  # 0.121 EUR × 5 = 0.605 RON → 0.61


async def test_the_penalty_never_exceeds_the_unpaid_amount(invoice: records.Invoice) -> None:
    assert payments.penalty_as_of(invoice, DUE + timedelta(days=999)) == TOTAL * 999 // 1000
    assert payments.penalty_as_of(invoice, DUE + timedelta(days=1000)) == TOTAL
    assert payments.penalty_as_of(invoice, DUE + timedelta(days=5000)) == TOTAL


async def test_partial_payments_make_it_partially_paid_then_paid(
    engine: AsyncEngine, invoice: records.Invoice
) -> None:
    half = TOTAL // 2
    await pay(engine, half, date(2025, 8, 5))
    paid = await pay(engine, TOTAL - half, date(2025, 8, 9))

    assert payments.status_as_of(paid, date(2025, 8, 4)).state == "unpaid"
    partly = payments.status_as_of(paid, date(2025, 8, 5))
    assert (partly.state, partly.paid_micro, partly.unpaid_micro) == ("partially_paid", half, TOTAL - half)
    settled = payments.status_as_of(paid, date(2025, 9, 30))
    assert (settled.state, settled.unpaid_micro, settled.penalty_micro, settled.overdue) == ("paid", 0, 0, False)


async def test_a_late_partial_payment_reduces_what_accrues_from_the_next_day(
    engine: AsyncEngine, invoice: records.Invoice
) -> None:
    """Days 12–16 August accrue on 12.10 EUR; from the 17th on the 6.05 left."""
    paid = await pay(engine, TOTAL // 2, DUE + timedelta(days=5))

    status = payments.status_as_of(paid, DUE + timedelta(days=15))

    assert status.penalty_micro == 5 * 12_100 + 10 * 6_050
    assert (status.state, status.days_late) == ("partially_paid", 15)


async def test_the_penalty_stops_growing_once_paid(engine: AsyncEngine, invoice: records.Invoice) -> None:
    paid = await pay(engine, TOTAL, DUE + timedelta(days=3))

    assert payments.penalty_as_of(paid, DUE + timedelta(days=3)) == 36_300
    assert payments.penalty_as_of(paid, DUE + timedelta(days=300)) == 36_300


async def test_a_payment_is_a_ledger_entry_naming_the_invoice(
    engine: AsyncEngine, invoice: records.Invoice
) -> None:
    await payments.add_invoice_payment(
        engine, "CP-000001", 1 * EUR, paid_on=date(2025, 8, 5), currency="EUR", reference="OP 123"
    )

    entries = await ledger.list_entries(engine, invoice.account_id)
    assert (entries[-1].kind, entries[-1].amount_micro, entries[-1].reference) == (
        "payment", EUR, "factura CP-000001 — OP 123",
    )  # fmt: skip


async def test_a_payment_retried_with_its_key_is_recorded_once(
    engine: AsyncEngine, invoice: records.Invoice
) -> None:
    for _ in range(2):
        await payments.add_invoice_payment(
            engine, "CP-000001", TOTAL, paid_on=date(2025, 8, 5), currency="EUR", idempotency_key="bank:OP-123"
        )

    assert len((await records.get_invoice(engine, "CP-000001")).payments) == 1


async def test_paying_more_than_is_unpaid_is_refused(engine: AsyncEngine, invoice: records.Invoice) -> None:
    await pay(engine, TOTAL - 100, date(2025, 8, 5))

    with pytest.raises(InvoicePaymentError, match="more than the 0.000100 EUR left unpaid"):
        await pay(engine, 101, date(2025, 8, 6))


async def test_a_payment_dated_before_the_issue_is_refused(engine: AsyncEngine, invoice: records.Invoice) -> None:
    with pytest.raises(InvoicePaymentError, match="issued on 2025-08-01"):
        await pay(engine, EUR, date(2025, 7, 31))


async def test_a_prepaid_invoice_takes_no_payments(engine: AsyncEngine) -> None:
    await open_prepaid(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    [statement] = (await run(engine, "2025-07", AUGUST_1)).issued

    with pytest.raises(InvoicePaymentError, match="prepaid"):
        await payments.add_invoice_payment(engine, statement.number, EUR, paid_on=AUGUST_1, currency="EUR")


async def test_paying_an_unknown_invoice_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(UnknownInvoiceError):
        await payments.add_invoice_payment(engine, "CP-000009", EUR, paid_on=AUGUST_1, currency="EUR")
