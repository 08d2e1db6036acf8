"""Payments in the currency received, on both databases, through ``clickphone payments add``.

Contract art. 7.6: invoices are payable in lei. A payment is registered in
the currency received: RON normally (the command's default), EUR allowed.
The invoice of these tests is 12.10 EUR (10 EUR + 21 % VAT) at 5.0000
RON/EUR, i.e. 60.50 RON, due on 11 August 2025.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing import payments, records
from billing.invoicing.errors import InvoicePaymentError
from billing.invoicing.tables import invoice_payments
from controlplane import migrate
from controlplane.cli import main

from .support import AUGUST_1, EUR, bnr_rate, open_account, run

DUE = date(2025, 8, 11)
TOTAL_EUR = 12_100_000
TOTAL_RON = 60_500_000  # 12.10 EUR × 5.0000


@pytest.fixture
async def invoice(engine: AsyncEngine) -> records.Invoice:
    """A postpaid July invoice of 12.10 EUR = 60.50 RON, due 11 August."""
    await open_account(engine, fee_eur=10)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    [issued] = (await run(engine, "2025-07", AUGUST_1)).issued
    assert (issued.total_micro, issued.total_ron_micro, issued.due_date) == (TOTAL_EUR, TOTAL_RON, DUE)
    return issued


async def pay(db_url: str, tmp_path, *args: str) -> Result:
    """Run ``clickphone payments add --invoice CP-000001 ARGS`` on the database of ``db_url``."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path / "state")}
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["payments", "add", "--invoice", "CP-000001", *args], env=env
    )


async def stored_payments(engine: AsyncEngine) -> list[tuple[object, ...]]:
    """Each stored payment as (currency, received, EUR share, RON value)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                invoice_payments.c.currency, invoice_payments.c.received_micro,
                invoice_payments.c.amount_micro, invoice_payments.c.ron_micro,
            ).order_by(invoice_payments.c.id)  # fmt: skip
        )
        return [tuple(row) for row in rows]


async def test_the_exact_ron_total_paid_on_time_clears_the_invoice(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """60.50 lei (the default currency) on the due date: paid, no penalty ever,
    the account owes nothing, and the payment is stored in lei as received."""
    result = await pay(db_url, tmp_path, "--amount", "60.50", "--date", "2025-08-11")

    assert result.exit_code == 0, result.output
    assert result.stdout == "CP-000001: 60.500000 RON paid on 2025-08-11; paid, 0.000000 RON unpaid (0.000000 EUR)\n"
    paid = await records.get_invoice(engine, "CP-000001")
    later = payments.status_as_of(paid, DUE + timedelta(days=30))
    assert (later.state, later.unpaid_micro, later.penalty_micro, later.penalty_ron_micro) == ("paid", 0, 0, 0)
    assert await stored_payments(engine) == [("RON", 60_500_000, 12_100_000, 60_500_000)]
    assert await ledger.balance_micro(engine, invoice.account_id) == 0


async def test_a_partial_ron_payment_leaves_it_open_with_the_penalty_on_the_rest(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """20.00 of the 60.50 lei on the due date settles 4.00 EUR (a third of the
    lei, a third of the euros); ten days later it is partially paid and the
    penalty is 0.1 %/day on the 40.50 lei left: 0.405 → 0.41 RON (8.10 EUR → 0.081 EUR)."""
    result = await pay(db_url, tmp_path, "--amount", "20", "--date", "2025-08-11")

    assert result.exit_code == 0, result.output
    assert "partially_paid, 40.500000 RON unpaid (8.100000 EUR)" in result.stdout
    partly = await records.get_invoice(engine, "CP-000001")
    status = payments.status_as_of(partly, DUE + timedelta(days=10))
    assert (status.state, status.unpaid_micro, status.days_late) == ("partially_paid", 8_100_000, 10)
    assert (status.penalty_micro, status.penalty_ron_micro) == (81_000, 410_000)
    assert payments.unpaid_ron_micro(partly) == 40_500_000

    rest = await pay(db_url, tmp_path, "--amount", "40.50", "--date", "2025-08-21")
    assert rest.exit_code == 0, rest.output
    assert await stored_payments(engine) == [
        ("RON", 20_000_000, 4_000_000, 20_000_000), ("RON", 40_500_000, 8_100_000, 40_500_000),
    ]  # fmt: skip
    assert await ledger.balance_micro(engine, invoice.account_id) == 0


async def test_a_payment_in_euros_is_allowed_and_kept_in_euros(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """`--currency EUR` 12.10 settles the invoice; stored as 12.10 EUR received,
    worth the invoice's 60.50 lei."""
    result = await pay(db_url, tmp_path, "--amount", "12.10", "--currency", "EUR", "--date", "2025-08-05")

    assert result.exit_code == 0, result.output
    assert result.stdout == "CP-000001: 12.100000 EUR paid on 2025-08-05; paid, 0.000000 EUR unpaid\n"
    assert await stored_payments(engine) == [("EUR", 12_100_000, 12_100_000, 60_500_000)]


async def test_lei_not_in_whole_bani_or_above_what_is_owed_are_refused(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """A payment in lei is whole bani; more lei than are unpaid is refused
    naming the lei left; nothing is recorded."""
    fraction = await pay(db_url, tmp_path, "--amount", "60.505", "--date", "2025-08-05")
    assert fraction.exit_code == 1 and "whole bani" in fraction.stderr

    too_much = await pay(db_url, tmp_path, "--amount", "60.51", "--date", "2025-08-05")
    assert too_much.exit_code == 1 and "more than the 60.500000 RON left unpaid on CP-000001" in too_much.stderr
    assert await stored_payments(engine) == []


async def test_a_bank_reference_is_stored_as_text(engine: AsyncEngine, invoice: records.Invoice) -> None:
    """Quotes, SQL and markup in a bank statement's reference are kept verbatim
    in the ledger (bound, never interpolated); control characters are refused."""
    reference = "OP 7'; DROP TABLE invoices; -- <b>Plată</b>"
    await payments.add_invoice_payment(engine, "CP-000001", 1 * EUR, paid_on=date(2025, 8, 5), reference=reference)

    entries = await ledger.list_entries(engine, invoice.account_id)
    assert entries[-1].reference == f"factura CP-000001 — {reference}"
    with pytest.raises(InvoicePaymentError, match="control characters"):
        await payments.add_invoice_payment(engine, "CP-000001", 1 * EUR, paid_on=date(2025, 8, 5), reference="OP\x1b[2J")


async def test_payments_recorded_before_0014_are_euros_worth_lei_at_the_invoices_rate(
    db_url: str, engine: AsyncEngine, invoice: records.Invoice
) -> None:
    """A payment made before payments had a currency was EUR: upgraded, it is
    EUR received as recorded, worth its lei at the invoice's rate (3.03 EUR ×
    5.0000 = 15.15 RON), and the lei left follow from it (simulated: down to
    0013, which drops the columns, and up again)."""
    await payments.add_invoice_payment(engine, "CP-000001", 3_030_000, paid_on=date(2025, 8, 5), currency="EUR")

    await engine.dispose()  # no pooled connection across the schema change
    await migrate.downgrade(db_url, "0013")
    await migrate.upgrade(db_url)

    assert await stored_payments(engine) == [("EUR", 3_030_000, 3_030_000, 15_150_000)]
    assert payments.unpaid_ron_micro(await records.get_invoice(engine, "CP-000001")) == 45_350_000
