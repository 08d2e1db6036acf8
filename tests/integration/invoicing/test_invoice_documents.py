"""The invoice as documents (HTML, JSON) and as an email in the outbox, on both databases.

Contract: the invoice is emailed when issued; a "detailed invoice"
(itemised call list). Invariant 7: no subscriber-controlled string can
inject HTML.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing import presentation
from notify.tables import attachments, outbox
from provisioning import services as provisioning

from .support import (
    AUGUST_1,
    EUR,
    FIXED,
    JULY_CALL,
    MOBILE,
    SUPPLIER,
    bnr_rate,
    calls_of,
    count,
    ingest,
    invoicing,
    open_account,
    open_prepaid,
    run,
    run_time,
)

HOSTILE = '<script>alert("x")</script> & Fiii SRL'


async def issue_for_subscriber(engine: AsyncEngine, name: str = "Ana Popescu", email: str = "ana@example.ro"):
    subscriber = await provisioning.create_subscriber(engine, name=name, email=email)
    await open_account(engine, subscriber_id=subscriber.id, included_seconds=60)
    await ingest(engine, *calls_of("acct-1", JULY_CALL, ("u1", FIXED, 90), ("u2", MOBILE, 30)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    report = await invoicing(engine).issue_month("2025-07", AUGUST_1, supplier=SUPPLIER, now=run_time(AUGUST_1))
    [invoice] = report.issued
    return invoice


async def outbox_emails(engine: AsyncEngine) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(select(outbox).order_by(outbox.c.id))).all()


async def test_the_invoice_is_emailed_when_issued_with_its_html_attached(engine: AsyncEngine) -> None:
    invoice = await issue_for_subscriber(engine)

    [email] = await outbox_emails(engine)
    assert (email.dedup_key, email.kind, email.recipient, email.account_id) == (
        "invoice:CP-000001", "invoice", "ana@example.ro", invoice.account_id,
    )  # fmt: skip
    assert "CP-000001" in email.subject
    assert "Total de plată" in email.text_body and "RON" in email.text_body
    async with engine.connect() as conn:
        [attached] = (await conn.execute(select(attachments).where(attachments.c.email_id == email.id))).all()
    assert (attached.filename, attached.content_type) == ("factura-CP-000001.html", "text/html")
    assert attached.content.decode("utf-8") == presentation.render_invoice_html(invoice)


async def test_a_prepaid_statement_is_emailed_as_paid_without_a_due_date(engine: AsyncEngine) -> None:
    """Issue 10, defect 14: a prepaid account's invoice is settled from its
    balance at issue (status paid), so neither its email (text, HTML) nor
    the attached document asks for payment or names a due date."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    account = await open_prepaid(engine, subscriber_id=subscriber.id, fee_eur=2)
    await ledger.top_up(engine, account.id, 20 * EUR)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    [invoice] = (
        await invoicing(engine).issue_month("2025-07", AUGUST_1, supplier=SUPPLIER, now=run_time(AUGUST_1))
    ).issued

    [email] = await outbox_emails(engine)
    async with engine.connect() as conn:
        [attached] = (await conn.execute(select(attachments).where(attachments.c.email_id == email.id))).all()
    document = attached.content.decode("utf-8")
    total = f"{presentation.format_ron(invoice.total_ron_micro).replace('.', ',')} RON"
    for body in (email.text_body, email.html_body):
        assert "de plată" not in body.replace("nimic de plată", "") and "Scadent" not in body
        assert total in body and "achitată din creditul contului" in body and "Nu aveți nimic de plată" in body
    assert "achitată" in email.subject
    assert "Data scadenței" not in document and "Plata se face până la" not in document
    assert "Total de plată" not in document and "Achitată la emitere" in document
    assert presentation.invoice_json(invoice)["due_date"] is None


async def test_running_again_queues_no_second_email(engine: AsyncEngine) -> None:
    await issue_for_subscriber(engine)

    again = await invoicing(engine).issue_month("2025-07", AUGUST_1, supplier=SUPPLIER, now=run_time(AUGUST_1))

    assert again.issued == []
    assert len(await outbox_emails(engine)) == 1


async def test_an_account_without_an_email_is_invoiced_but_not_emailed(engine: AsyncEngine) -> None:
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    report = await invoicing(engine).issue_month("2025-07", AUGUST_1, supplier=SUPPLIER, now=run_time(AUGUST_1))

    assert [i.customer_name for i in report.issued] == ["acct-1"]
    assert await count(engine, outbox) == 0


async def test_the_html_escapes_a_hostile_subscriber_name(engine: AsyncEngine) -> None:
    """Invariant 7: the name shows as text, in the document and in the email."""
    invoice = await issue_for_subscriber(engine, name=HOSTILE)

    html = presentation.render_invoice_html(invoice)

    assert invoice.customer_name == HOSTILE
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Fiii SRL" in html
    [email] = await outbox_emails(engine)
    assert "<script>" not in (email.html_body or "")


async def test_the_html_escapes_an_adjustment_reference(engine: AsyncEngine) -> None:
    account = await open_account(engine, fee_eur=0)
    from datetime import datetime, timezone

    await ledger.add_adjustment(
        engine, account.id, EUR, reference='<img src=x onerror="steal()">',
        now=datetime(2025, 7, 20, tzinfo=timezone.utc),
    )  # fmt: skip
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    html = presentation.render_invoice_html(invoice)

    assert "<img" not in html and "&lt;img src=x onerror=&#34;steal()&#34;&gt;" in html


async def test_the_html_is_a_romanian_detailed_invoice(engine: AsyncEngine) -> None:
    invoice = await issue_for_subscriber(engine)

    html = presentation.render_invoice_html(invoice, as_of=date(2025, 8, 21))

    for text in (
        "Factură", "Seria <strong>CP</strong> nr. <strong>000001</strong>", "Data emiterii", "01.08.2025",
        "Data scadenței", "11.08.2025", "Cota TVA", "21%", "1 EUR = 5.0720 RON", "31.07.2025",
        "Apeluri către rețele fixe naționale", "Minute incluse", "Detalierea apelurilor",
        "40212345678", "03.07.2025 12:00:00", "Situația plății la 21.08.2025", "neachitată",
        f"{presentation.format_ron(invoice.total_ron_micro)} RON",
    ):  # fmt: skip
        assert text in html, text


async def test_the_json_has_every_field_exactly(engine: AsyncEngine) -> None:
    invoice = await issue_for_subscriber(engine)

    data = presentation.invoice_json(invoice, as_of=date(2025, 8, 21))

    json.dumps(data)  # JSON-ready as is
    assert data["number"] == "CP-000001" and data["series"] == "CP" and data["sequence"] == 1
    assert data["customer"] == {"name": "Ana Popescu", "email": "ana@example.ro"}
    assert (data["period"], data["issue_date"], data["due_date"]) == ("2025-07", "2025-08-01", "2025-08-11")
    assert data["vat"] == {"rate": "0.21", "date": "2025-08-01"}
    assert data["fx"] == {"currency": "EUR", "ron_per_unit": "5.0720", "date": "2025-07-31", "source": "bnr"}
    assert data["bundle"] == {"included_seconds": 60, "used_seconds": 60}
    assert data["totals"] == {
        "net_eur": "5.030000", "vat_eur": "1.056300", "total_eur": "6.086300",
        "net_ron": "25.52", "vat_ron": "5.37", "total_ron": "30.89",
    }  # fmt: skip
    fixed = data["lines"][1]
    assert {k: fixed[k] for k in ("kind", "number_class", "billable_seconds", "included_seconds", "charged_seconds", "net_eur", "net_ron")} == {
        "kind": "usage", "number_class": "ro_fixed", "billable_seconds": 90, "included_seconds": 60,
        "charged_seconds": 30, "net_eur": "0.005000", "net_ron": "0.03",
    }  # fmt: skip
    assert data["calls"][0] == {
        "start": "2025-07-03T09:00:00+00:00", "dialled": "40212345678", "number_class": "ro_fixed",
        "destination": "ro_fixed", "billsec": 90, "billable_seconds": 90, "included_seconds": 60,
        "charged_seconds": 30, "cost_eur": "0.005000",
    }  # fmt: skip
    assert data["status"] == {
        "as_of": "2025-08-21", "state": "unpaid", "paid_eur": "0.000000", "unpaid_eur": "6.086300",
        "days_late": 10, "penalty_eur": "0.060863", "penalty_ron": "0.31",
    }  # fmt: skip
