"""/api/v1's invoices and payments: list with filters and cursor pages,
an invoice with its payments and penalty on a day, its HTML document,
payments and interim invoices (each audited once, a refused one not at
all, with no payment or email left behind), and invariant 8: an account
admin sees its own account's invoices only.

The July invoice of these tests is 12.10 EUR at 5.0000 RON/EUR, 60.50 RON,
due on 11 August 2025 (tests/integration/admin/test_http_payments.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access.roles import ACCOUNT_ADMIN, AUDITOR, SUPPORT
from billing.invoicing import records
from billing.invoicing.presentation import render_invoice_html
from billing.tariffs import CONTRACT_TZ
from notify.tables import outbox
from provisioning import services as provisioning
from tests.integration.admin.test_http_admin import AUTH
from tests.integration.invoicing.support import AUGUST_1, bnr_rate, july_in_two_halves, open_account, run

from .audit_support import audit_count, one_entry_since
from .roles import bearer

API = "/api/v1"


@pytest.fixture
async def july(engine) -> dict[str, int]:
    """Two postpaid accounts, each with its July invoice (CP-000001 for ``ana``, CP-000002 for ``ion``)."""
    ids = {}
    for code, name in (("ana", "Ana Popescu"), ("ion", "Ion Ionescu")):
        subscriber = await provisioning.create_subscriber(engine, name=name, email=f"{code}@example.ro")
        ids[code] = (await open_account(engine, code, fee_eur=10, subscriber_id=subscriber.id)).id
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    issued = (await run(engine, "2025-07", AUGUST_1)).issued
    assert [i.number for i in issued] == ["CP-000001", "CP-000002"]
    return ids


async def payment_emails(engine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(outbox).where(outbox.c.kind == "payment"))


async def test_invoices_are_listed_filtered_and_paged(client, july) -> None:
    """GET /invoices: by account, month, kind and status; one per page walks both."""
    listed = await (await client.get(f"{API}/invoices", params={"limit": "1"}, headers=AUTH)).json()
    assert [i["number"] for i in listed["items"]] == ["CP-000001"]
    rest = await (await client.get(f"{API}/invoices", params={"limit": "1", "cursor": listed["next_cursor"]},
                                   headers=AUTH)).json()
    assert [i["number"] for i in rest["items"]] == ["CP-000002"]
    by_account = await (await client.get(f"{API}/invoices", params={"account": str(july["ion"])}, headers=AUTH)).json()
    assert [(i["number"], i["total_eur"], i["status"]["state"]) for i in by_account["items"]] == [
        ("CP-000002", "12.100000", "unpaid")]
    for params, expected in (({"month": "2025-07"}, 2), ({"month": "2025-06"}, 0), ({"kind": "interim"}, 0),
                             ({"status": "paid"}, 0), ({"status": "unpaid"}, 2)):
        found = await (await client.get(f"{API}/invoices", params=params, headers=AUTH)).json()
        assert len(found["items"]) == expected, params
    for params, field in (({"month": "July"}, "month"), ({"month": "2025-13"}, "month"), ({"month": "0000-01"}, "month"), ({"status": "late"}, "status"), ({"kind": "x"}, "kind")):
        response = await client.get(f"{API}/invoices", params=params, headers=AUTH)
        assert (response.status, (await response.json())["error"]["field"]) == (400, field)


async def test_an_invoice_shows_its_lines_payments_and_penalty_on_a_day(client, july) -> None:
    """GET /invoices/{number}?on=: the invoice as issued, and 10 days late on 21 August."""
    response = await client.get(f"{API}/invoices/CP-000001", params={"on": "2025-08-21"}, headers=AUTH)
    assert response.status == 200, await response.text()
    shown = await response.json()
    assert shown["invoice"]["number"] == "CP-000001" and shown["invoice"]["lines"]
    assert (shown["status"]["state"], shown["status"]["days_late"]) == ("unpaid", 10)
    assert shown["status"]["penalty_eur"] != "0.000000" and shown["payments"] == []
    assert (await client.get(f"{API}/invoices/CP-000099", headers=AUTH)).status == 404
    response = await client.get(f"{API}/invoices/CP-000001", params={"on": "someday"}, headers=AUTH)
    assert (response.status, (await response.json())["error"]["field"]) == (400, "on")


async def test_the_invoice_html_is_the_emailed_document_served_sandboxed(engine, client, july) -> None:
    """GET /invoices/{number}.html: the document the email attaches, with a sandboxing CSP."""
    response = await client.get(f"{API}/invoices/CP-000001.html", headers=AUTH)
    assert response.status == 200 and response.content_type == "text/html"
    assert await response.text() == render_invoice_html(await records.get_invoice(engine, "CP-000001"))
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


async def test_an_account_admin_sees_only_its_own_invoices(engine, client, july) -> None:
    """Invariant 8: the list is its account's; another's invoice, list or HTML is 403."""
    headers = await bearer(engine, ACCOUNT_ADMIN, july["ana"])
    listed = await (await client.get(f"{API}/invoices", headers=headers)).json()
    assert [i["number"] for i in listed["items"]] == ["CP-000001"]
    assert (await client.get(f"{API}/invoices/CP-000001", headers=headers)).status == 200
    for path in ("/invoices/CP-000002", "/invoices/CP-000002.html"):
        response = await client.get(f"{API}{path}", headers=headers)
        assert response.status == 403, path
        assert "Ion" not in await response.text()
    response = await client.get(f"{API}/invoices", params={"account": str(july["ion"])}, headers=headers)
    assert response.status == 403
    assert (await client.post(f"{API}/payments", json={"amount": "1", "invoice": "CP-000001"},
                              headers=headers)).status == 403


async def test_a_payment_pays_the_invoice_queues_its_email_and_is_audited_once(engine, client, july) -> None:
    """POST /payments: 60.50 RON on time clears CP-000001; one email, one entry naming the amount."""
    count = await audit_count(engine)
    response = await client.post(f"{API}/payments", json={"amount": "60.50", "paid_on": "2025-08-05",
                                                          "invoice": "CP-000001", "reference": "OP 1"}, headers=AUTH)
    assert response.status == 201, await response.text()
    paid = await response.json()
    assert paid["invoices"][0]["standing"]["state"] == "paid" and paid["received"] == "60.500000"
    assert await payment_emails(engine) == 1
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("record_payment", "invoice", "CP-000001")
    assert entry.changes["amount"] == {"before": None, "after": "60.500000"}
    assert entry.changes["invoices"] == {"before": None, "after": "CP-000001"}
    shown = await (await client.get(f"{API}/invoices/CP-000001", headers=AUTH)).json()
    assert [p["received"] for p in shown["payments"]] == ["60.500000"]


async def test_a_payment_to_an_account_keeps_the_rest_as_credit(engine, client, july) -> None:
    """``account``: the open invoice first, what is left as credit (EUR, no rate needed)."""
    response = await client.post(f"{API}/payments", json={"amount": "20", "currency": "EUR", "paid_on": "2025-08-05",
                                                          "account": july["ion"]}, headers=AUTH)
    assert response.status == 201, await response.text()
    paid = await response.json()
    assert [a["invoice"] for a in paid["invoices"]] == ["CP-000002"]
    assert paid["credit"]["amount"] == "7.900000"


async def test_refused_payments_name_the_field_and_leave_nothing(engine, client, july) -> None:
    """Bad amount, currency, both or neither payer: 400 naming it; unknown invoice 404; a paid one 409;
    none leaves a payment, an email or an audit entry."""
    count = await audit_count(engine)
    cases = [({"amount": "-5", "invoice": "CP-000001"}, 400, "amount"),
             ({"amount": "1.1234567", "invoice": "CP-000001"}, 400, "amount"),
             ({"amount": 60.5, "invoice": "CP-000001"}, 400, "amount"),
             ({"amount": "5", "currency": "USD", "invoice": "CP-000001"}, 400, "currency"),
             ({"amount": "5"}, 400, "invoice"),
             ({"amount": "5", "invoice": "CP-000001", "account": july["ana"]}, 400, "account"),
             ({"amount": "5", "invoice": "CP-000001", "note": "x"}, 400, "note"),
             ({"amount": "5", "invoice": "CP-000099"}, 404, None)]
    for body, status, field in cases:
        response = await client.post(f"{API}/payments", json=body, headers=AUTH)
        error = (await response.json())["error"]
        assert (response.status, error.get("field")) == (status, field), (body, error)
    assert await payment_emails(engine) == 0 and await audit_count(engine) == count
    await client.post(f"{API}/payments", json={"amount": "60.50", "paid_on": "2025-08-05", "invoice": "CP-000001"},
                      headers=AUTH)
    response = await client.post(f"{API}/payments", json={"amount": "1", "invoice": "CP-000001"}, headers=AUTH)
    assert response.status == 409
    assert await payment_emails(engine) == 1 and await audit_count(engine) == count + 1


async def test_support_and_auditors_may_not_record_payments(engine, client, july) -> None:
    """invoices.write is the operator's."""
    for role in (SUPPORT, AUDITOR):
        response = await client.post(f"{API}/payments", json={"amount": "1", "invoice": "CP-000001"},
                                     headers=await bearer(engine, role))
        assert response.status == 403, role


async def test_an_interim_invoice_is_issued_audited_and_refused_when_it_cannot_be(engine, client) -> None:
    """POST /accounts/{id}/invoices/interim: 201 with the invoice, one entry; then nothing to invoice
    before the first call is 409 and a bad until 400, neither audited nor numbered."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    account = await open_account(engine, included_seconds=120, subscriber_id=subscriber.id)
    await july_in_two_halves(engine)
    await bnr_rate(engine, datetime.now(CONTRACT_TZ).date() - timedelta(days=1), "5.0720")
    path = f"{API}/accounts/{account.id}/invoices/interim"
    count = await audit_count(engine)
    for body, status, field in (({"until": "2025-07-01T00:30:00+03:00"}, 409, None),
                                ({"until": "2025-07-10T12:00"}, 400, "until"),
                                ({"series": "cp-1"}, 400, "series")):
        response = await client.post(path, json=body, headers=AUTH)
        assert (response.status, (await response.json())["error"].get("field")) == (status, field), body
    assert await audit_count(engine) == count
    assert (await client.post(f"{API}/accounts/999999/invoices/interim", json={}, headers=AUTH)).status == 404
    response = await client.post(path, json={"until": "2025-07-10T12:00:00+03:00"}, headers=AUTH)
    assert response.status == 201, await response.text()
    issued = await response.json()
    assert (issued["invoice"]["kind"], issued["invoice"]["number"]) == ("interim", "CP-000001")
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("issue_interim", "invoice", "CP-000001")
    assert entry.changes["kind"] == {"before": None, "after": "interim"}
