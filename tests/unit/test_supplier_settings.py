"""The supplier settings (CLICKPHONE_SUPPLIER_*): checked at start, refused by
name, and what the invoice job and ``clickphone invoice run`` issue with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from click.testing import CliRunner, Result

from billing.invoicing.supplier import Supplier
from controlplane.cli import main
from controlplane.scheduled_jobs import INVOICE_JOB_ID, register_jobs
from controlplane.invoicing_wiring import invoicing_service
from controlplane.settings import Settings, SettingsError, load_settings
from notify.notifier import Notifier
from notify.render import Renderer
from tests.unit.test_cli_billing import open_account

OPERATOR = {
    "supplier_name": "ClickPhone Telecom SRL",
    "supplier_vat_id": "RO12345674",
    "supplier_registration": "J40/1234/2020",
    "supplier_address": "Str. Exemplului 1, București",
    "supplier_iban": "RO49 AAAA 1B31 0075 9384 0000",
    "supplier_bank": "Banca Exemplu",
}


def environment(state: Path, **settings: str) -> dict[str, str]:
    return {"CLICKPHONE_STATE_DIR": str(state), **{f"CLICKPHONE_{k.upper()}": v for k, v in settings.items()}}


def test_by_default_the_supplier_is_clickphone_with_no_details(tmp_path: Path) -> None:
    assert load_settings(environment(tmp_path)).supplier == Supplier("ClickPhone")


def test_the_supplier_is_built_from_the_settings_normalised(tmp_path: Path) -> None:
    supplier = load_settings(environment(tmp_path, **OPERATOR)).supplier

    assert supplier == Supplier("ClickPhone Telecom SRL", "RO12345674", "J40/1234/2020",
                                "Str. Exemplului 1, București", "RO49AAAA1B31007593840000", "Banca Exemplu")  # fmt: skip


def test_the_supplier_may_be_set_in_the_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "clickphone.toml"
    config.write_text('supplier_name = "ClickPhone Telecom SRL"\nsupplier_vat_id = "RO12345674"\n')

    supplier = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_CONFIG": str(config)}).supplier

    assert (supplier.name, supplier.vat_id) == ("ClickPhone Telecom SRL", "RO12345674")


@pytest.mark.parametrize(
    ("setting", "value", "refusal"),
    [
        ("supplier_iban", "RO49AAAA1B31007593840001", "setting supplier_iban: .* not an IBAN"),
        ("supplier_iban", "RO49 AAAA", "setting supplier_iban"),
        ("supplier_vat_id", "RO12345678", "setting supplier_vat_id: .* not a CIF"),
        ("supplier_registration", "40/1234/2020", "setting supplier_registration"),
        ("supplier_name", "   ", "setting supplier_name"),
    ],
)
def test_a_bad_supplier_detail_is_refused_with_the_settings_name(
    tmp_path: Path, setting: str, value: str, refusal: str
) -> None:
    with pytest.raises(SettingsError, match=refusal):
        load_settings(environment(tmp_path, **{setting: value}))


def test_settings_built_in_code_are_checked_when_the_supplier_is_read(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, supplier_iban="RO49AAAA1B31007593840001")

    with pytest.raises(SettingsError, match="supplier_iban"):
        settings.supplier


def test_the_invoice_job_issues_with_the_supplier_of_the_settings(tmp_path: Path) -> None:
    settings = load_settings(environment(tmp_path, **OPERATOR))

    invoicing = invoicing_service(None, Notifier(Renderer()))  # type: ignore[arg-type]

    jobs = register_jobs(AsyncIOScheduler(timezone="Europe/Bucharest"), None, settings, invoicing)  # type: ignore[arg-type]

    assert jobs[INVOICE_JOB_ID].kwargs["supplier"] == settings.supplier


# -- clickphone invoice run ------------------------------------------------------------


def cli(state: Path, *args: str, **settings: str) -> Result:
    return CliRunner().invoke(main, list(args), env=environment(state, **settings))


def test_invoice_run_stores_the_supplier_of_the_settings(tmp_path: Path) -> None:
    state = tmp_path / "state"
    open_account(state)
    assert cli(state, "fx", "set", "--date", "2025-07-31", "--eur", "5.0720").exit_code == 0

    result = cli(state, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01", **OPERATOR)
    assert result.exit_code == 0, result.output
    shown = cli(state, "invoice", "show", "CP-000001", "--format", "json", supplier_name="Altă Firmă SRL")

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["supplier"] == {
        "name": "ClickPhone Telecom SRL", "vat_id": "RO12345674", "registration": "J40/1234/2020",
        "address": "Str. Exemplului 1, București", "iban": "RO49AAAA1B31007593840000", "bank": "Banca Exemplu",
    }  # fmt: skip


def test_invoice_run_with_a_bad_iban_is_refused_by_the_settings_name(tmp_path: Path) -> None:
    result = cli(tmp_path / "state", "invoice", "run", "--period", "2025-07", supplier_iban="RO00BAD")

    assert result.exit_code == 1
    assert "setting supplier_iban" in result.stderr
