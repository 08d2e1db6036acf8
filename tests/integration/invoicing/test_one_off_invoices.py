"""One-off fees invoiced in advance (contract art. 7.1.1), on both databases.

"One-off fees: set-up fees and equipment invoiced in advance when the
contract starts, payable within 5 working days; the service can be
configured to stay inactive until paid."
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.accounts import ACTIVE, INACTIVE, SUSPENDED
from billing.invoicing import one_off, payments, presentation, records
from billing.invoicing.tables import invoice_entries
from billing.tables import ONE_OFF_FEE

from .support import AUGUST_1, EUR, SUPPLIER, bnr_rate, open_account, open_prepaid, run

JULY_10 = date(2025, 7, 10)  # a Thursday
ISSUED_AT = datetime(2025, 7, 10, 8, 0, tzinfo=UTC)
DUE = date(2025, 7, 17)  # five working days: Fri, Mon, Tue, Wed, Thu


async def charged(engine: AsyncEngine, account_id: int) -> None:
    """A 50 EUR set-up fee and two IP phones of 40 EUR: 130 EUR excl. VAT."""
    await one_off.add_one_off_charge(engine, account_id, description="Taxă de instalare", unit_price_micro=50 * EUR)
    await one_off.add_one_off_charge(engine, account_id, description="Telefon IP", unit_price_micro=40 * EUR,
                                     quantity=2)


async def issue(engine: AsyncEngine, account_id: int, **options) -> records.Invoice:
    await bnr_rate(engine, date(2025, 7, 9), "5.0000")
    return await one_off.issue_one_off_invoice(engine, account_id, supplier=SUPPLIER, now=ISSUED_AT, **options)


async def test_the_one_off_invoice_takes_every_charge_and_is_due_in_five_working_days(engine) -> None:
    """Art. 7.1.1: every uninvoiced one-off charge on one invoice of kind
    one_off, issued today and due 5 working days later; one ledger
    one_off_fee entry per charge; the charges are linked to it."""
    account = await open_account(engine)
    await charged(engine, account.id)

    invoice = await issue(engine, account.id)

    assert (invoice.kind, invoice.issue_date, invoice.due_date) == (records.ONE_OFF, JULY_10, DUE)
    assert [(line.description, line.quantity, line.net_micro) for line in invoice.lines] == [
        ("Taxă de instalare", 1, 50 * EUR), ("Telefon IP", 2, 80 * EUR)]
    assert (invoice.net_micro, invoice.total_micro) == (130 * EUR, 154_700_000)  # 19 % VAT in July 2025
    fees = [e.amount_micro for e in await ledger.list_entries(engine, account.id) if e.kind == ONE_OFF_FEE]
    assert sorted(fees) == [-80 * EUR, -50 * EUR]
    assert await one_off.uninvoiced_charges(engine, account.id) == []


async def test_the_one_off_invoice_reads_as_fees_invoiced_in_advance(engine) -> None:
    """Art. 7.1.1: the document is titled as one-off fees and says it is
    invoiced in advance on the contract's first day — no month of service
    (a one-off invoice covers no period)."""
    account = await open_account(engine)
    await charged(engine, account.id)

    html = presentation.render_invoice_html(await issue(engine, account.id))

    assert "<h1>Factură taxe unice</h1>" in html
    assert "Facturată în avans" in html and "10.07.2025" in html
    assert "Perioada facturată" not in html


async def test_charges_already_invoiced_are_not_invoiced_again(engine) -> None:
    """Each charge is on one invoice: a second one-off invoice with nothing new is refused."""
    account = await open_account(engine)
    await charged(engine, account.id)
    await issue(engine, account.id)

    with pytest.raises(one_off.NothingToInvoiceError):
        await issue(engine, account.id)


async def test_the_monthly_run_never_takes_one_off_entries_again(engine) -> None:
    """The one-off fees and their VAT are in invoice_entries already: the
    month's invoice holds its fee alone, and its entries are not the one-off's."""
    account = await open_account(engine, fee_eur=5)
    await charged(engine, account.id)
    first = await issue(engine, account.id)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")

    [monthly] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert monthly.kind == records.MONTHLY
    assert [line.kind for line in monthly.lines] == [records.RECURRING]
    assert monthly.net_micro == 5 * EUR
    async with engine.connect() as conn:
        rows = (await conn.execute(select(invoice_entries.c.ledger_entry_id, invoice_entries.c.invoice_id))).all()
    by_invoice: dict[int, set[int]] = {}
    for entry_id, invoice_id in rows:
        by_invoice.setdefault(invoice_id, set()).add(entry_id)
    assert len(by_invoice[first.id]) == 3  # two fees and the VAT
    assert not by_invoice[first.id] & by_invoice[monthly.id]


async def test_a_prepaid_accounts_one_off_invoice_asks_for_payment(engine) -> None:
    """An invoice in advance is payable whatever the account's kind: a
    prepaid account's one-off invoice has a due date and takes payments."""
    account = await open_prepaid(engine)
    await charged(engine, account.id)
    invoice = await issue(engine, account.id)

    assert invoice.payable and payments.status_as_of(invoice, JULY_10).state == records.UNPAID
    await payments.add_invoice_payment(engine, invoice.number, invoice.total_micro, paid_on=JULY_10, currency="EUR")
    assert payments.status_as_of(await records.get_invoice(engine, invoice.number), JULY_10).state == records.PAID


async def pay_by_invoice(engine: AsyncEngine, invoice: records.Invoice, amount: int) -> None:
    await payments.add_invoice_payment(engine, invoice.number, amount, paid_on=JULY_10, currency="EUR")


async def pay_by_account(engine: AsyncEngine, invoice: records.Invoice, amount: int) -> None:
    await payments.add_account_payment(engine, invoice.account_id, amount, paid_on=JULY_10, currency="EUR")


@pytest.mark.parametrize("pay", [pay_by_invoice, pay_by_account], ids=["invoice", "account"])
async def test_paying_the_one_off_invoice_in_full_activates_an_inactive_account(engine, pay) -> None:
    """Inactive until paid: issued with it, the account is inactive; a part
    payment leaves it inactive; the payment settling the invoice makes it
    active, by either payment path."""
    account = await open_account(engine)
    await charged(engine, account.id)
    invoice = await issue(engine, account.id, inactive_until_paid=True)
    assert (await ledger.get_account(engine, account.id)).status == INACTIVE

    await pay(engine, invoice, 100 * EUR)
    assert (await ledger.get_account(engine, account.id)).status == INACTIVE
    await pay(engine, invoice, invoice.total_micro - 100 * EUR)
    assert (await ledger.get_account(engine, account.id)).status == ACTIVE


async def test_a_suspended_account_is_not_made_active_by_the_payment(engine) -> None:
    """Paying a one-off invoice activates an inactive account only: a suspended one stays suspended."""
    account = await open_account(engine)
    await charged(engine, account.id)
    invoice = await issue(engine, account.id, inactive_until_paid=True)
    await ledger.set_account_status(engine, account.id, SUSPENDED)

    await pay_by_invoice(engine, invoice, invoice.total_micro)

    assert (await ledger.get_account(engine, account.id)).status == SUSPENDED


@pytest.mark.parametrize("change,field", [
    ({"description": ""}, "description"),
    ({"description": "x" * 201}, "description"),
    ({"description": "Telefon\nIP"}, None),  # whitespace collapsed: accepted
    ({"quantity": 0}, "quantity"),
    ({"quantity": 1001}, "quantity"),
    ({"unit_price_micro": 0}, "amount"),
    ({"unit_price_micro": 100_000 * EUR + 1}, "amount"),
])
async def test_a_charge_out_of_bounds_is_refused_naming_its_field(engine, change, field) -> None:
    """Bounds: description 1 to 200 characters, quantity 1 to 1,000, unit
    price more than 0 and at most 100,000 EUR excl. VAT; nothing stored."""
    account = await open_account(engine)
    values = {"description": "Telefon IP", "unit_price_micro": 40 * EUR, "quantity": 1, **change}
    if field is None:
        charge = await one_off.add_one_off_charge(engine, account.id, **values)
        assert charge.description == "Telefon IP"
        return
    with pytest.raises(one_off.InvalidOneOffChargeError) as refused:
        await one_off.add_one_off_charge(engine, account.id, **values)
    assert refused.value.field == field
    assert await one_off.uninvoiced_charges(engine, account.id) == []
