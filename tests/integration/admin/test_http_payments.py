"""Payments through the admin API (``POST /admin/payments``) and the
invoices they pay (``GET /admin/invoices/{number}``, ``GET
/admin/accounts/{id}/invoices``), on SQLite and PostgreSQL, through
aiohttp's test client: the same invoicing service as ``clickphone payments
add`` (contract art. 7.6–7.7), the same confirmation emails, and a 400
naming the field for bad input.

The invoice of these tests is July's 12.10 EUR (10 EUR + 21 % VAT) at
5.0000 RON/EUR, i.e. 60.50 RON, due on 11 August 2025.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from billing import ledger
from billing.invoicing import records
from notify.tables import outbox
from provisioning import services as provisioning
from tests.integration.invoicing.support import AUGUST_1, bnr_rate, open_account, run

from .test_http_admin import AUTH, client, plane  # noqa: F401  (fixtures)

DUE = date(2025, 8, 11)


@pytest.fixture
async def account_id(engine) -> int:
    """Ana's postpaid account with July's invoice CP-000001: 12.10 EUR = 60.50 RON, due 11 August."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    account = await open_account(engine, fee_eur=10, subscriber_id=subscriber.id)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    [issued] = (await run(engine, "2025-07", AUGUST_1)).issued
    assert (issued.number, issued.total_ron_micro, issued.due_date) == ("CP-000001", 60_500_000, DUE)
    return account.id


async def pay(client, **body):
    return await client.post("/admin/payments", json=body, headers=AUTH)


async def payment_emails(engine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(outbox).where(outbox.c.kind == "payment"))


async def test_the_exact_ron_total_on_time_clears_the_invoice(client, engine, account_id):
    """Art. 7.6: 60.50 lei (RON, the default currency) on the due date → 201,
    the invoice paid with nothing left and no penalty, the account owing
    nothing, and the confirmation email queued as by the CLI."""
    response = await pay(client, amount="60.50", paid_on="2025-08-11", reference="OP 123", invoice="CP-000001")

    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["account_id"], body["currency"], body["received"]) == (account_id, "RON", "60.500000")
    [paid] = body["invoices"]
    assert paid["invoice"] == "CP-000001"
    assert paid["payment"] | {"id": 0} == {"id": 0, "paid_on": "2025-08-11", "currency": "RON",
                                           "received": "60.500000", "amount_eur": "12.100000",
                                           "value_ron": "60.500000"}
    assert paid["standing"]["state"] == "paid" and paid["standing"]["unpaid_ron"] == "0.000000"
    assert body["credit"] is None and body["exchange_differences"] == []
    assert await ledger.balance_micro(engine, account_id) == 0
    assert await payment_emails(engine) == 1
    shown = await (await client.get("/admin/invoices/CP-000001?as_of=2025-09-30", headers=AUTH)).json()
    assert (shown["status"]["state"], shown["status"]["penalty_ron"]) == ("paid", "0.000000")


async def test_the_same_lei_20_days_late_at_another_rate_leave_an_exchange_difference(client, engine, account_id):
    """Art. 7.7 ii: the same 60.50 lei paid on 31 August, 20 days late, with
    BNR at 5.0100 on the due date and 5.1000 on the payment's day: 12.10 EUR
    × 5.1000 − 12.10 × 5.0100 = 61.71 − 60.62 = 1.09 RON, answered with the
    payment and carried by August's invoice as its own line."""
    await bnr_rate(engine, DUE, "5.0100")
    await bnr_rate(engine, date(2025, 8, 29), "5.1000")

    response = await pay(client, amount="60.50", paid_on="2025-08-31", invoice="CP-000001")

    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["invoices"][0]["standing"]["state"] == "paid"
    [difference] = body["exchange_differences"]
    assert difference | {"payment_id": 0} == {"payment_id": 0, "due_rate": "5.0100", "paid_rate": "5.1000",
                                              "amount_ron": "1.090000"}
    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued
    assert [(line.net_ron_micro, line.vat_ron_micro) for line in august.lines
            if line.kind == "exchange_difference"] == [(1_090_000, 230_000)]


async def test_a_partial_payment_leaves_it_open_with_the_penalty_on_the_remainder(client, account_id):
    """20 of the 60.50 lei on the due date leave 40.50 lei (8.10 EUR);
    ten days later the invoice is partially paid, 10 days late, with 0.1 %
    a day on the rest: 0.081 EUR, 0.41 RON (art. 7.7)."""
    response = await pay(client, amount="20", paid_on="2025-08-11", invoice="CP-000001")
    assert response.status == 201, await response.text()
    assert (await response.json())["invoices"][0]["standing"]["state"] == "partially_paid"

    shown = await client.get("/admin/invoices/CP-000001?as_of=2025-08-21", headers=AUTH)

    assert shown.status == 200
    invoice = await shown.json()
    assert invoice["status"] == {"as_of": "2025-08-21", "state": "partially_paid", "paid_eur": "4.000000",
                                 "unpaid_eur": "8.100000", "unpaid_ron": "40.500000", "days_late": 10,
                                 "penalty_eur": "0.081000", "penalty_ron": "0.410000"}
    assert [p["received"] for p in invoice["payments"]] == ["20.000000"]
    assert invoice["number"] == "CP-000001" and invoice["totals"]["total_ron"] == "60.50"


async def test_a_payment_to_an_account_pays_the_oldest_invoice_first_and_keeps_the_rest_as_credit(
        client, engine, account_id):
    """100 lei to the account with July's 60.50 and August's 61.71 lei open:
    July's paid in full, 39.50 lei of August's (22.21 left); then 30 lei pay
    August's 22.21 and keep 7.79 lei as credit at BNR's 4.9000 of the day:
    1.589796 EUR, the account's balance."""
    await bnr_rate(engine, DUE, "5.0000")
    await bnr_rate(engine, date(2025, 8, 29), "5.1000")
    await run(engine, "2025-08", date(2025, 9, 1))

    first = await pay(client, amount="100", paid_on="2025-09-05", account=account_id)
    assert first.status == 201, await first.text()
    allocated = (await first.json())["invoices"]
    assert [(i["invoice"], i["payment"]["received"], i["standing"]["state"], i["standing"]["unpaid_ron"])
            for i in allocated] == [("CP-000001", "60.500000", "paid", "0.000000"),
                                    ("CP-000002", "39.500000", "partially_paid", "22.210000")]

    await bnr_rate(engine, date(2025, 9, 8), "4.9000")
    second = await pay(client, amount="30", paid_on="2025-09-08", account=account_id)
    assert second.status == 201, await second.text()
    body = await second.json()
    assert [i["invoice"] for i in body["invoices"]] == ["CP-000002"]
    assert body["credit"] == {"amount": "7.790000", "currency": "RON", "amount_eur": "1.589796", "rate": "4.9000"}
    assert await ledger.balance_micro(engine, account_id) == 1_589_796
    listed = await (await client.get(f"/admin/accounts/{account_id}/invoices", headers=AUTH)).json()
    assert [(i["number"], i["status"]["state"]) for i in listed["invoices"]] == [("CP-000001", "paid"),
                                                                                 ("CP-000002", "paid")]


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "6e1"}, "amount"),  # an exponent
    ({"amount": 60.5}, "amount"),  # a JSON number: the amount is a decimal string
    ({"amount": "-60.50"}, "amount"),
    ({"amount": "60.5000001"}, "amount"),  # more than 6 decimals
    ({"amount": "60.505"}, "amount"),  # lei are whole bani
    ({"amount": "60.50", "currency": "USD"}, "currency"),
    ({"amount": "60.50", "reference": "x" * 201}, "reference"),
    ({"amount": "60.50", "reference": "OP\x1b[2J"}, "reference"),
    ({"amount": "60.50", "paid_on": "2025-13-01"}, "paid_on"),
    ({"amount": "60.50", "paid_on": "2025-07-31"}, "paid_on"),  # before the invoice's issue
    ({"amount": "60.50", "account": 1}, "account"),  # both invoice and account
])
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_recorded(client, engine, account_id, body, field):
    """Bad input gets a 400 naming its field (bounds in web.admin_input);
    nothing is recorded, no email queued."""
    response = await pay(client, **{"invoice": "CP-000001", "paid_on": "2025-08-05", **body})

    assert response.status == 400, await response.text()
    assert (await response.json())["field"] == field
    assert await ledger.balance_micro(engine, account_id) == -12_100_000
    assert await payment_emails(engine) == 0


async def test_neither_invoice_nor_account_is_refused(client, account_id):
    response = await pay(client, amount="1")
    assert response.status == 400 and (await response.json())["field"] == "invoice"


async def test_an_unknown_invoice_or_account_is_404_and_a_paid_invoice_409(client, account_id):
    """404 for an invoice or account no one has; 409 for a payment to an invoice already paid."""
    unknown_invoice = await pay(client, amount="1", invoice="CP-000099", paid_on="2025-08-05")
    unknown_account = await pay(client, amount="1", account=account_id + 100, paid_on="2025-08-05")
    unknown_listing = await client.get(f"/admin/accounts/{account_id + 100}/invoices", headers=AUTH)
    await pay(client, amount="60.50", invoice="CP-000001", paid_on="2025-08-05")
    again = await pay(client, amount="1", invoice="CP-000001", paid_on="2025-08-06")

    assert (unknown_invoice.status, unknown_account.status, unknown_listing.status) == (404, 404, 404)
    assert (await client.get("/admin/invoices/CP-000099", headers=AUTH)).status == 404
    assert again.status == 409 and "CP-000001 is paid" in (await again.json())["error"]


async def test_a_bank_reference_is_stored_as_text(client, engine, account_id):
    """Quotes, SQL and markup in a bank statement's reference are stored verbatim, never interpreted."""
    reference = "OP 7'; DROP TABLE invoices; -- <b>Plată</b>"
    response = await pay(client, amount="1", invoice="CP-000001", paid_on="2025-08-05", reference=reference)

    assert response.status == 201, await response.text()
    entries = await ledger.list_entries(engine, account_id)
    assert entries[-1].reference == f"factura CP-000001 — {reference}"
    assert len(await records.list_invoices(engine)) == 1


async def test_lei_left_over_without_the_rate_of_the_day_are_409_saying_how_to_fetch_it(client, engine, account_id):
    """Lei left over become credit at BNR's rate of the payment's day: without
    it (the latest is weeks old) the payment is 409, says how to get the
    rate, and records nothing."""
    response = await pay(client, amount="100", paid_on="2025-10-20", account=account_id)

    assert response.status == 409
    assert "clickphone fx fetch" in (await response.json())["error"]
    assert await ledger.balance_micro(engine, account_id) == -12_100_000
