"""Payments in the currency received, on both databases, through ``clickphone payments add``.

Contract art. 7.6: invoices are payable in lei. A payment is registered in
the currency received: RON normally (the command's default), EUR allowed.
The invoice of these tests is 12.10 EUR (10 EUR + 21 % VAT) at 5.0000
RON/EUR, i.e. 60.50 RON, due on 11 August 2025.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing import payments, presentation, records
from billing.invoicing.errors import InvoicePaymentError
from billing.invoicing.tables import invoice_payments
from controlplane import migrate
from controlplane.cli import main
from controlplane.invoicing_wiring import payment_registered_event
from provisioning import services as provisioning

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

    for day in (DUE, date(2025, 8, 21)):  # the rest is paid late: its exchange difference needs both rates
        await bnr_rate(engine, day, "5.0000")
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


@pytest.fixture
async def two_invoices(engine: AsyncEngine) -> int:
    """An account with two open invoices of 12.10 EUR: July's (CP-000001, at
    5.0000: 60.50 RON) and August's (CP-000002, at 5.1000: 61.71 RON); its id."""
    account = await open_account(engine, fee_eur=10)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    await run(engine, "2025-07", AUGUST_1)
    await bnr_rate(engine, DUE, "5.0000")  # July's paid late: its exchange difference needs it
    await bnr_rate(engine, date(2025, 8, 29), "5.1000")
    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued
    assert (august.number, august.total_ron_micro) == ("CP-000002", 61_710_000)
    return account.id


async def pay_account(db_url: str, tmp_path, account_id: int, *args: str) -> Result:
    """Run ``clickphone payments add --account ID ARGS`` on the database of ``db_url``."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path / "state")}
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["payments", "add", "--account", str(account_id), *args], env=env
    )


async def test_an_account_payment_pays_the_oldest_invoice_first_and_keeps_the_rest_as_credit(
    engine: AsyncEngine, db_url: str, tmp_path, two_invoices: int
) -> None:
    """100 lei: July's 60.50 in full, 39.50 of August's 61.71 (22.21 left);
    then 30 lei: August's 22.21 and 7.79 lei kept as credit, converted at the
    BNR rate of the payment's day (4.9000): 1.589796 EUR, the account's
    balance once both invoices are paid."""
    first = await pay_account(db_url, tmp_path, two_invoices, "--amount", "100", "--date", "2025-09-05")

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "CP-000001: 60.500000 RON paid on 2025-09-05; paid, 0.000000 RON unpaid (0.000000 EUR)",
        "CP-000002: 39.500000 RON paid on 2025-09-05; partially_paid, 22.210000 RON unpaid (4.354902 EUR)",
    ]  # 39.50 lei settle 12.10 EUR × 39.50 / 61.71 = 7.745098 EUR: 4.354902 EUR left

    await bnr_rate(engine, date(2025, 9, 8), "4.9000")
    second = await pay_account(db_url, tmp_path, two_invoices, "--amount", "30", "--date", "2025-09-08")

    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines() == [
        "CP-000002: 22.210000 RON paid on 2025-09-08; paid, 0.000000 RON unpaid (0.000000 EUR)",
        f"account {two_invoices}: 7.790000 RON kept as credit (1.589796 EUR at 4.9000 RON/EUR)",
    ]
    assert await ledger.balance_micro(engine, two_invoices) == 1_589_796
    entries = await ledger.list_entries(engine, two_invoices)
    assert (entries[-1].kind, entries[-1].amount_micro, entries[-1].reference) == ("payment", 1_589_796, "avans")


async def test_euros_left_over_are_kept_as_credit_as_they_are(
    engine: AsyncEngine, db_url: str, tmp_path, two_invoices: int
) -> None:
    """30 EUR pays both invoices' 12.10 EUR and keeps 5.80 EUR as credit, no rate needed."""
    result = await pay_account(
        db_url, tmp_path, two_invoices, "--amount", "30", "--currency", "EUR", "--date", "2025-10-20"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"account {two_invoices}: 5.800000 EUR kept as credit (5.800000 EUR)"
    assert await ledger.balance_micro(engine, two_invoices) == 5_800_000


async def test_lei_left_over_without_a_rate_of_the_day_are_refused_saying_how_to_fetch_it(
    engine: AsyncEngine, db_url: str, tmp_path, two_invoices: int
) -> None:
    """Lei paid late and lei left over need the BNR rate of the payment's day
    (for the exchange difference and the credit): without one (the latest is
    weeks old) the payment is refused, says how to get the rate, and
    records nothing."""
    before = await ledger.balance_micro(engine, two_invoices)

    result = await pay_account(db_url, tmp_path, two_invoices, "--amount", "200", "--date", "2025-10-20")

    assert result.exit_code == 1 and "clickphone fx fetch" in result.stderr
    assert await ledger.balance_micro(engine, two_invoices) == before
    assert await stored_payments(engine) == []


async def test_a_payment_names_either_an_invoice_or_an_account(db_url: str, tmp_path, two_invoices: int) -> None:
    """Neither or both of --invoice and --account is a usage error (exit 2)."""
    neither = await pay(db_url, tmp_path, "--account", str(two_invoices), "--amount", "1")
    bare = await asyncio.to_thread(CliRunner().invoke, main, ["payments", "add", "--amount", "1"],
                                   env={"CLICKPHONE_DATABASE_URL": db_url})
    assert neither.exit_code == 2 and "either --invoice or --account" in neither.stderr
    assert bare.exit_code == 2 and "either --invoice or --account" in bare.stderr


def exchange_lines(invoice: records.Invoice) -> list[tuple[int, int, int]]:
    """The invoice's exchange-difference lines as (net RON, VAT RON, net EUR)."""
    return [
        (line.net_ron_micro, line.vat_ron_micro, line.net_micro)
        for line in invoice.lines if line.kind == "exchange_difference"
    ]  # fmt: skip


async def test_the_same_lei_paid_20_days_late_at_another_rate_leave_an_exchange_difference_on_the_next_invoice(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """Art. 7.7 ii: 60.50 lei paid on 31 August, 20 days after the due date,
    clear the invoice; BNR had 5.0100 on the due date and 5.1000 on the
    payment's day (the 29th's), so the 12.10 EUR paid differ by 12.10 × 5.1000
    − 12.10 × 5.0100 = 61.71 − 60.62 = 1.09 RON. August's invoice (at 5.1000)
    carries it as its own line: 1.09 RON + 21 % VAT 0.23 RON, 0.213725 EUR;
    September's does not carry it again."""
    await bnr_rate(engine, DUE, "5.0100")
    await bnr_rate(engine, date(2025, 8, 29), "5.1000")

    result = await pay(db_url, tmp_path, "--amount", "60.50", "--date", "2025-08-31")

    assert result.exit_code == 0, result.output
    assert "; paid, 0.000000 RON unpaid" in result.stdout
    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued
    assert exchange_lines(august) == [(1_090_000, 230_000, 213_725)]
    line = next(line for line in august.lines if line.kind == "exchange_difference")
    assert "CP-000001" in line.description and "5.1000" in line.description and "5.0100" in line.description
    assert "Diferență de curs valutar: factura CP-000001" in presentation.render_invoice_html(august)
    await bnr_rate(engine, date(2025, 9, 30), "5.0500")
    [september] = (await run(engine, "2025-09", date(2025, 10, 1))).issued
    assert exchange_lines(september) == []


async def test_a_leu_that_rose_by_the_late_payment_gives_a_negative_exchange_difference(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """Paid late at 4.9000 against 5.0000 on the due date: 12.10 EUR × (4.9 − 5.0)
    = 59.29 − 60.50 = −1.21 RON on the next invoice (−0.246939 EUR at 4.9000),
    21 % VAT −0.25 RON."""
    await bnr_rate(engine, DUE, "5.0000")
    await bnr_rate(engine, date(2025, 8, 29), "4.9000")

    result = await pay(db_url, tmp_path, "--amount", "60.50", "--date", "2025-08-29")

    assert result.exit_code == 0, result.output
    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued
    assert exchange_lines(august) == [(-1_210_000, -250_000, -246_939)]  # VAT −0.2541 → −0.25


async def test_lei_paid_on_time_or_euros_paid_late_leave_no_exchange_difference(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """Only lei paid after the due date differ by the rates: 30.25 lei on the
    due date and 6.05 EUR twenty days late leave nothing on the next invoice."""
    await bnr_rate(engine, DUE, "5.0100")
    await bnr_rate(engine, date(2025, 8, 29), "5.1000")

    on_time = await pay(db_url, tmp_path, "--amount", "30.25", "--date", "2025-08-11")
    late_euros = await pay(db_url, tmp_path, "--amount", "6.05", "--currency", "EUR", "--date", "2025-08-31")

    assert (on_time.exit_code, late_euros.exit_code) == (0, 0), on_time.output + late_euros.output
    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued
    assert exchange_lines(august) == []


async def test_lei_paid_late_without_the_rates_are_refused_saying_how_to_fetch_them(
    engine: AsyncEngine, db_url: str, tmp_path, invoice: records.Invoice
) -> None:
    """The exchange difference needs the BNR rate of the due date: without one
    (the latest is 31 July's, 11 days before) nothing is recorded and the
    error says how to get it."""
    result = await pay(db_url, tmp_path, "--amount", "60.50", "--date", "2025-09-20")

    assert result.exit_code == 1 and "clickphone fx fetch" in result.stderr
    assert await stored_payments(engine) == []


async def test_the_payment_confirmation_names_the_amount_and_currency_received(engine: AsyncEngine) -> None:
    """The confirmation email's event says 20.00 RON when 20.00 lei were
    received (not the 4.00 EUR share they settle)."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    await open_account(engine, fee_eur=10, subscriber_id=subscriber.id)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    await run(engine, "2025-07", AUGUST_1)
    events = []

    async def capture(conn, recorded: payments.RecordedPayment) -> None:
        events.append(await payment_registered_event(conn, recorded))

    await payments.add_invoice_payment(engine, "CP-000001", 20_000_000, paid_on=date(2025, 8, 5), on_recorded=capture)

    [event] = events
    assert (event.amount, event.currency, event.invoice_number) == (Decimal("20"), "RON", "CP-000001")
