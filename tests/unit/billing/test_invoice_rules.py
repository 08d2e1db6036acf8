"""Invoicing's pure rules: periods, numbers, RON per line to the ban, status
and penalty as of a day, and the documents (no database)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.invoicing import payments, presentation, records
from billing.invoicing.supplier import checked_supplier
from billing.invoicing.errors import InvalidPeriodError, UnknownInvoiceError
from billing.invoicing.records import Invoice, InvoiceLine, InvoicePayment, InvoicedCall
from billing.invoicing.supplier import InvalidSupplierError, Supplier

# -- periods and numbers ------------------------------------------------------------


def test_a_period_is_a_calendar_month() -> None:
    period = records.parse_period("2024-02")

    assert (period.first, period.last, period.days) == (date(2024, 2, 1), date(2024, 2, 29), 29)
    assert records.period_label(period) == "2024-02"


@pytest.mark.parametrize("text", ["2025-00", "2025-13", "25-07", "2025-7", "2025-07-01", "1999-12", "", "juli"])
def test_anything_else_is_not_a_period(text: str) -> None:
    with pytest.raises(InvalidPeriodError, match="YYYY-MM"):
        records.parse_period(text)


def test_a_period_runs_from_midnight_to_midnight_in_bucharest() -> None:
    """July is UTC+3 (summer time); January UTC+2."""
    july = records.period_bounds(records.parse_period("2025-07"))
    january = records.period_bounds(records.parse_period("2026-01"))

    assert [t.astimezone(UTC) for t in july] == [
        datetime(2025, 6, 30, 21, tzinfo=UTC), datetime(2025, 7, 31, 21, tzinfo=UTC),
    ]  # fmt: skip
    assert [t.astimezone(UTC) for t in january] == [
        datetime(2025, 12, 31, 22, tzinfo=UTC), datetime(2026, 1, 31, 22, tzinfo=UTC),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("CP-000012", ("CP", 12)), ("cp-12", ("CP", 12)), ("CP12", ("CP", 12)), ("12", ("CP", 12)), ("X 7", ("X", 7))],
)
def test_invoice_numbers_are_read_leniently(text: str, parsed: tuple[str, int]) -> None:
    assert records.parse_invoice_number(text) == parsed


@pytest.mark.parametrize("text", ["", "CP-", "CP-1-2", "CP-12a", "-12"])
def test_a_malformed_invoice_number_is_unknown(text: str) -> None:
    with pytest.raises(UnknownInvoiceError):
        records.parse_invoice_number(text)


def test_invoice_numbers_are_printed_with_six_digits() -> None:
    assert records.format_invoice_number("CP", 42) == "CP-000042"


# -- RON --------------------------------------------------------------------------------


@given(
    eur_micro=st.integers(min_value=-10**12, max_value=10**12),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100"), places=4),
)
def test_ron_is_rounded_half_up_once_to_the_ban(eur_micro: int, rate: Decimal) -> None:
    """Invariant 1: EUR × rate, exact, rounded once to 0.01 RON."""
    exact = Decimal(eur_micro).scaleb(-6) * rate
    bani = abs(exact).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).copy_sign(exact)

    assert records.ron_micro(eur_micro, rate) == int(bani.scaleb(6))


def test_a_tie_rounds_away_from_zero_not_to_even() -> None:
    """0.005 EUR × 5 = 0.025 RON exactly: 0.03 (banker's rounding would say 0.02)."""
    assert records.ron_micro(5_000, Decimal("5")) == 30_000
    assert records.ron_micro(-5_000, Decimal("5")) == -30_000


def test_ron_is_shown_with_two_decimals() -> None:
    assert presentation.format_ron(30_950_000) == "30.95"
    assert presentation.format_ron(-990_000) == "-0.99"
    assert presentation.format_ron(0) == "0.00"


def test_vat_rates_are_shown_as_percentages() -> None:
    assert presentation.format_percent(Decimal("0.21")) == "21%"
    assert presentation.format_percent(Decimal("0.19")) == "19%"
    assert presentation.format_percent(Decimal("0.095")) == "9.5%"


# -- status and penalty --------------------------------------------------------------------

ISSUED = date(2025, 8, 1)
DUE = date(2025, 8, 11)
SUPPLIER = Supplier("ClickPhone Telecom SRL", "RO12345674", "J40/1234/2020", "Str. Exemplului 1, București",
                    "RO49AAAA1B31007593840000", "Banca Exemplu")  # fmt: skip


def an_invoice(**changes: object) -> Invoice:
    line = InvoiceLine(1, "recurring_fee", "Abonament lunar — iulie 2025", None, None, 1, 0, 0, 0,
                       10_000_000, 2_100_000, 50_000_000, 10_500_000)  # fmt: skip
    call = InvoicedCall(7, datetime(2025, 7, 3, 9, tzinfo=UTC), "40212345678", "ro_fixed", "ro_fixed",
                        90, 90, 90, 0, 0)  # fmt: skip
    invoice = Invoice(
        id=1, series="CP", sequence=1, account_id=1, account_code="acct-1", account_kind="postpaid",
        customer_name="Ana Popescu", customer_email="ana@example.ro", language="ro", period="2025-07",
        period_first=date(2025, 7, 1), period_last=date(2025, 7, 31), issue_date=ISSUED, due_date=DUE,
        vat_rate=Decimal("0.21"), fx_rate=Decimal("5.0000"), fx_date=date(2025, 7, 31), fx_source="bnr",
        bundle_seconds=120, bundle_used_seconds=90, net_micro=10_000_000, vat_micro=2_100_000,
        total_micro=12_100_000, net_ron_micro=50_000_000, vat_ron_micro=10_500_000,
        total_ron_micro=60_500_000, created_at=datetime(2025, 7, 31, 21, 5, tzinfo=UTC),
        supplier=SUPPLIER, lines=(line,), calls=(call,),
    )  # fmt: skip
    return replace(invoice, **changes)  # type: ignore[arg-type]


def paid(*payments: tuple[date, int]) -> Invoice:
    return an_invoice(payments=tuple(InvoicePayment(i, i, day, amount) for i, (day, amount) in enumerate(payments)))


def test_unpaid_on_the_due_date_costs_nothing() -> None:
    status = payments.status_as_of(an_invoice(), DUE)

    assert (status.state, status.unpaid_micro, status.days_late, status.penalty_micro, status.overdue) == (
        "unpaid", 12_100_000, 0, 0, False,
    )  # fmt: skip


def test_each_day_late_costs_a_tenth_of_a_percent_until_the_cap() -> None:
    invoice = an_invoice()

    assert payments.penalty_as_of(invoice, date(2025, 8, 12)) == 12_100
    assert payments.penalty_as_of(invoice, date(2025, 8, 31)) == 20 * 12_100
    assert payments.penalty_as_of(invoice, date(2028, 5, 8)) == 12_100_000  # 1000 days: the cap
    assert payments.penalty_as_of(invoice, date(2030, 1, 1)) == 12_100_000


def test_a_payment_counts_from_its_day() -> None:
    invoice = paid((date(2025, 8, 5), 2_100_000))

    assert payments.status_as_of(invoice, date(2025, 8, 4)).state == "unpaid"
    assert payments.status_as_of(invoice, date(2025, 8, 5)).state == "partially_paid"
    assert payments.status_as_of(invoice, date(2025, 8, 12)).penalty_micro == 10_000  # on 10 EUR left


def test_fully_paid_invoices_stop_accruing() -> None:
    invoice = paid((date(2025, 8, 13), 12_100_000))

    status = payments.status_as_of(invoice, date(2026, 1, 1))
    assert (status.state, status.penalty_micro, status.days_late) == ("paid", 2 * 12_100, 0)


def test_a_prepaid_statement_is_paid_when_issued() -> None:
    status = payments.status_as_of(an_invoice(account_kind="prepaid"), date(2030, 1, 1))

    assert (status.state, status.unpaid_micro, status.penalty_micro) == ("paid", 0, 0)


def test_an_invoice_of_nothing_or_less_is_paid() -> None:
    status = payments.status_as_of(an_invoice(total_micro=-500_000), date(2030, 1, 1))

    assert (status.state, status.penalty_micro) == ("paid", 0)


def test_the_penalty_is_also_given_in_ron_at_the_invoice_rate() -> None:
    status = payments.status_as_of(an_invoice(), date(2025, 8, 21))

    assert (status.penalty_micro, status.penalty_ron_micro) == (121_000, 610_000)  # 0.605 RON → 0.61


def test_the_capped_penalty_never_exceeds_the_principal_in_ron() -> None:
    """Issue 10, defect 21; art. 7.7: the penalty never exceeds the principal.
    20.364805 EUR at 5.1013 is 103.89 RON in one step, but the invoice is
    payable in RON as the sum of its lines each rounded to the ban: 103.88.
    The cap is applied in RON, so the RON penalty is 103.88, not 103.89."""
    rate, vat_rate = Decimal("5.1013"), Decimal("0.21")
    lines = []
    for position, net in enumerate((8_019_940, 8_810_478), start=1):
        net_ron = records.ron_micro(net, rate)
        vat_ron = (net_ron // 10_000 * vat_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 10_000
        vat = int((net * vat_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        lines.append(InvoiceLine(position, "usage", "Apeluri", "ro_mobile", "2025-07", 1, 60, 0, 60,
                                 net, vat, net_ron, int(vat_ron)))  # fmt: skip
    invoice = an_invoice(
        lines=tuple(lines), fx_rate=rate, vat_rate=vat_rate,
        net_micro=sum(x.net_micro for x in lines), vat_micro=sum(x.vat_micro for x in lines),
        total_micro=sum(x.total_micro for x in lines), net_ron_micro=sum(x.net_ron_micro for x in lines),
        vat_ron_micro=sum(x.vat_ron_micro for x in lines), total_ron_micro=sum(x.total_ron_micro for x in lines),
    )  # fmt: skip
    assert (invoice.total_micro, invoice.total_ron_micro) == (20_364_805, 103_880_000)
    assert records.ron_micro(invoice.total_micro, rate) == 103_890_000  # the one-step conversion

    status = payments.status_as_of(invoice, DUE + timedelta(days=1500))  # far past the cap

    assert status.penalty_micro == 20_364_805
    assert status.penalty_ron_micro == 103_880_000
    assert presentation.render_invoice_html(invoice, as_of=status.as_of).count("103.89") == 0


def test_the_ron_cap_is_what_was_unpaid_in_ron_on_the_due_date() -> None:
    """Art. 7.7 with a payment before the due date: the RON cap is the RON
    total less that payment at the invoice's rate."""
    invoice = paid((date(2025, 8, 5), 2_100_000))  # 12.10 EUR = 60.50 RON; 2.10 EUR = 10.50 RON

    status = payments.status_as_of(invoice, date(2030, 1, 1))

    assert (status.penalty_micro, status.penalty_ron_micro) == (10_000_000, 50_000_000)


# -- documents ----------------------------------------------------------------------------


def test_the_html_escapes_every_customer_string() -> None:
    hostile = an_invoice(customer_name="<b onmouseover=x>Ion</b>", customer_email='a"@x.ro',
                         account_code="<i>")  # fmt: skip

    html = presentation.render_invoice_html(hostile)

    assert "<b onmouseover" not in html and "<i>" not in html
    assert "&lt;b onmouseover=x&gt;Ion&lt;/b&gt;" in html and "a&#34;@x.ro" in html


def test_the_html_escapes_every_supplier_string() -> None:
    """Invariant 7 for the stored supplier too: shown as text, whatever it holds."""
    script = '<script>alert("x")</script>'
    names = ("name", "vat_id", "registration", "address", "iban", "bank")
    hostile = an_invoice(supplier=Supplier(*(f"{script}{name}" for name in names)))

    html = presentation.render_invoice_html(hostile)

    assert "<script>" not in html and "</script>" not in html
    for name in names[:4] + names[5:]:
        assert f"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;{name}" in html, name
    assert "&lt;scr ipt&gt; aler" in html  # the IBAN, printed in groups of four


def test_the_html_names_the_supplier_as_a_romanian_invoice_must() -> None:
    html = presentation.render_invoice_html(an_invoice())

    for text in ("<th>Furnizor</th><td>ClickPhone Telecom SRL</td>", "<th>CIF</th><td>RO12345674</td>",
                 "<th>Nr. Reg. Com.</th><td>J40/1234/2020</td>", "<th>Sediul social</th><td>Str. Exemplului 1, București</td>",
                 "<th>IBAN</th><td>RO49 AAAA 1B31 0075 9384 0000</td>", "<th>Banca</th><td>Banca Exemplu</td>"):  # fmt: skip
        assert text in html, text


def test_a_supplier_stored_before_its_details_were_shows_the_name_alone() -> None:
    html = presentation.render_invoice_html(an_invoice(supplier=Supplier()))

    assert "<th>Furnizor</th><td>ClickPhone</td>" in html
    assert not any(label in html for label in ("<th>CIF</th>", "Nr. Reg. Com.", "Sediul social", "<th>IBAN</th>", "<th>Banca</th>"))


def test_the_json_names_the_supplier() -> None:
    assert presentation.invoice_json(an_invoice())["supplier"] == {
        "name": "ClickPhone Telecom SRL", "vat_id": "RO12345674", "registration": "J40/1234/2020",
        "address": "Str. Exemplului 1, București", "iban": "RO49AAAA1B31007593840000", "bank": "Banca Exemplu",
    }  # fmt: skip


# -- supplier details ----------------------------------------------------------------------


def test_supplier_details_are_normalised() -> None:
    given = Supplier("  ClickPhone\n Telecom  SRL ", "ro 12345674", "j40/1234/2020", "Str.  Exemplului 1,\nBucurești",
                     "ro49 aaaa 1b31 0075 9384 0000", " Banca Exemplu ")  # fmt: skip

    assert checked_supplier(given) == SUPPLIER


def test_supplier_details_may_be_left_empty_but_not_the_name() -> None:
    assert checked_supplier(Supplier("ClickPhone")) == Supplier("ClickPhone")
    with pytest.raises(InvalidSupplierError) as refused:
        checked_supplier(Supplier(" "))
    assert refused.value.field == "name"


@pytest.mark.parametrize("cif", ["RO12345674", "12345674", "RO2816464", "14399840", "RO19"])
def test_a_cif_with_its_check_digit_is_accepted(cif: str) -> None:
    assert checked_supplier(Supplier(vat_id=cif)).vat_id == cif


@pytest.mark.parametrize("cif", ["RO12345678", "RO1", "RO12345678901", "RO012345674", "DE12345674", "RO1234567X", "CIF"])
def test_a_cif_with_a_wrong_check_digit_or_form_is_refused(cif: str) -> None:
    with pytest.raises(InvalidSupplierError, match="not a CIF") as refused:
        checked_supplier(Supplier(vat_id=cif))
    assert refused.value.field == "vat_id"


@pytest.mark.parametrize("iban", ["RO49AAAA1B31007593840000", "GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00"])
def test_an_iban_with_its_checksum_is_accepted(iban: str) -> None:
    assert checked_supplier(Supplier(iban=iban)).iban == iban.replace(" ", "")


@pytest.mark.parametrize(
    "iban",
    [
        "RO49AAAA1B31007593840001",  # one digit changed: the checksum catches it
        "RO94AAAA1B31007593840000",  # check digits swapped
        "RO49AAAA1B3100759384000",  # a Romanian IBAN has 24 characters
        "4949AAAA1B31007593840000",
        "RO49AAAA-1B31007593840000",
        "RO49",
    ],
)
def test_an_iban_with_a_wrong_checksum_length_or_form_is_refused(iban: str) -> None:
    with pytest.raises(InvalidSupplierError, match="not an IBAN") as refused:
        checked_supplier(Supplier(iban=iban))
    assert refused.value.field == "iban"


@pytest.mark.parametrize("registration", ["J40/1234/2020", "J1/5/1998", "F12/345/2019", "C40/7/2021", "J2020001234400"])
def test_a_trade_register_number_of_either_form_is_accepted(registration: str) -> None:
    assert checked_supplier(Supplier(registration=registration)).registration == registration


@pytest.mark.parametrize("registration", ["40/1234/2020", "J40/1234/20", "J40-1234-2020", "X40/1234/2020", "J12"])
def test_a_malformed_trade_register_number_is_refused(registration: str) -> None:
    with pytest.raises(InvalidSupplierError, match="Nr. Reg. Com.") as refused:
        checked_supplier(Supplier(registration=registration))
    assert refused.value.field == "registration"


def test_the_html_shows_the_amounts_from_the_money_module() -> None:
    html = presentation.render_invoice_html(an_invoice(), as_of=date(2025, 8, 21))

    for text in ("10.000000", "50.00", "10.50", "60.50 RON", "12.100000 EUR", "0.121000 EUR (0.61 RON)", "21%"):
        assert text in html, text


def test_the_json_round_trips_through_json() -> None:
    data = presentation.invoice_json(paid((date(2025, 8, 5), 100)), as_of=date(2025, 8, 5))

    assert json.loads(json.dumps(data)) == data
    assert data["payments"] == [{"paid_on": "2025-08-05", "amount_eur": "0.000100"}]
    assert data["status"]["state"] == "partially_paid"
    assert "status" not in presentation.invoice_json(an_invoice())
