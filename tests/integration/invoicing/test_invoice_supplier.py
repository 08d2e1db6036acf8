"""The supplier on the invoice: from the settings, stored at issue, on both databases.

A Romanian invoice names its supplier (name, CIF, Nr. Reg. Com., registered
office, IBAN and bank); an issued invoice never changes afterwards, so the
details are frozen at issue, not read from the settings when rendered.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.invoicing import presentation, records
from billing.invoicing.tables import invoice_counters, invoices
from billing.invoicing.supplier import InvalidSupplierError, Supplier
from controlplane import migrate
from controlplane.settings import load_settings

from .support import AUGUST_1, SUPPLIER, bnr_rate, count, invoicing, open_account, run, run_time

SEPTEMBER_1 = date(2025, 9, 1)
SUPPLIER_JSON = {
    "name": "ClickPhone Telecom SRL", "vat_id": "RO12345674", "registration": "J40/1234/2020",
    "address": "Str. Exemplului 1, București", "iban": "RO49AAAA1B31007593840000", "bank": "Banca Exemplu",
}  # fmt: skip


def supplier_settings(tmp_path: Path, **supplier: str):
    """Settings as the operator writes them: CLICKPHONE_SUPPLIER_* in the environment."""
    environ = {"CLICKPHONE_STATE_DIR": str(tmp_path)}
    environ.update({f"CLICKPHONE_SUPPLIER_{name.upper()}": value for name, value in supplier.items()})
    return load_settings(environ)


async def test_the_supplier_is_on_the_html_and_the_json(engine: AsyncEngine) -> None:
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await run(engine, "2025-07", AUGUST_1, supplier=SUPPLIER)

    invoice = await records.get_invoice(engine, "CP-000001")

    assert invoice.supplier == SUPPLIER
    html = presentation.render_invoice_html(invoice)
    for text in ("ClickPhone Telecom SRL", "RO12345674", "J40/1234/2020", "Str. Exemplului 1, București",
                 "RO49 AAAA 1B31 0075 9384 0000", "Banca Exemplu"):  # fmt: skip
        assert text in html, text
    assert presentation.invoice_json(invoice)["supplier"] == SUPPLIER_JSON


async def test_changing_the_settings_changes_no_invoice_already_issued(engine: AsyncEngine, tmp_path: Path) -> None:
    """The supplier is frozen at issue: July's invoice keeps the details it was issued with."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await bnr_rate(engine, date(2025, 8, 29), "5.0800")
    before = supplier_settings(
        tmp_path, name="ClickPhone SRL", vat_id="RO12345674", registration="J40/1234/2020",
        address="Str. Veche 1, București", iban="RO49AAAA1B31007593840000", bank="Banca Veche",
    )  # fmt: skip
    await invoicing(engine).issue_month("2025-07", AUGUST_1, supplier=before.supplier, now=run_time(AUGUST_1))

    after = before.replace(supplier_name="ClickPhone Telecom SA", supplier_address="Bd. Nou 2, Cluj-Napoca",
                           supplier_iban="GB82WEST12345698765432", supplier_bank="Banca Nouă")  # fmt: skip
    await invoicing(engine).issue_month("2025-08", SEPTEMBER_1, supplier=after.supplier, now=run_time(SEPTEMBER_1))

    july = await records.get_invoice(engine, "CP-000001")
    august = await records.get_invoice(engine, "CP-000002")
    july_html = presentation.render_invoice_html(july)
    assert "ClickPhone SRL" in july_html and "Str. Veche 1, București" in july_html and "Banca Veche" in july_html
    assert "ClickPhone Telecom SA" not in july_html and "Banca Nouă" not in july_html
    assert presentation.invoice_json(july)["supplier"]["iban"] == "RO49AAAA1B31007593840000"
    assert (august.supplier.name, august.supplier.iban, august.supplier.vat_id) == (
        "ClickPhone Telecom SA", "GB82WEST12345698765432", "RO12345674",
    )  # fmt: skip


async def test_the_supplier_is_stored_normalised(engine: AsyncEngine) -> None:
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    [invoice] = (
        await run(engine, "2025-07", AUGUST_1, supplier=Supplier(" ClickPhone  SRL ", "ro 12345674", iban="ro49 aaaa 1b31 0075 9384 0000"))
    ).issued

    assert invoice.supplier == Supplier("ClickPhone SRL", "RO12345674", iban="RO49AAAA1B31007593840000")


async def test_a_bad_supplier_detail_issues_nothing(engine: AsyncEngine) -> None:
    """Refused before the first invoice: no invoice, no number consumed."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    with pytest.raises(InvalidSupplierError, match="not an IBAN"):
        await run(engine, "2025-07", AUGUST_1, supplier=Supplier(iban="RO49AAAA1B31007593840001"))

    assert await count(engine, invoices) == 0
    assert await count(engine, invoice_counters) == 0


async def test_an_invoice_issued_before_the_supplier_was_stored_shows_the_name_alone(
    db_url: str, engine: AsyncEngine
) -> None:
    """Invoices issued before migration 0007 printed "ClickPhone" and nothing
    else; upgraded, they still do (simulated: down to 0006, which drops the
    columns, and up again)."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await run(engine, "2025-07", AUGUST_1, supplier=SUPPLIER)

    await engine.dispose()  # no pooled connection across the schema change
    await migrate.downgrade(db_url, "0006")
    await migrate.upgrade(db_url)

    invoice = await records.get_invoice(engine, "CP-000001")
    assert invoice.supplier == Supplier("ClickPhone")
    html = presentation.render_invoice_html(invoice)
    assert "<th>Furnizor</th><td>ClickPhone</td>" in html and "<th>CIF</th>" not in html
    assert presentation.invoice_json(invoice)["supplier"] == {
        "name": "ClickPhone", "vat_id": "", "registration": "", "address": "", "iban": "", "bank": "",
    }  # fmt: skip


async def test_issuing_without_the_supplier_details_warns_which_are_missing(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """Still issued (a testbed has no CIF), but the operator is told what the invoices lack."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    with caplog.at_level(logging.WARNING, logger="billing.invoicing.service"):
        report = await invoicing(engine).issue_month(
            "2025-07", AUGUST_1, supplier=Supplier("ClickPhone", iban=SUPPLIER.iban), now=run_time(AUGUST_1),
        )  # fmt: skip

    assert len(report.issued) == 1
    assert "without: vat_id, registration, address, bank (set CLICKPHONE_SUPPLIER_*)" in caplog.text
