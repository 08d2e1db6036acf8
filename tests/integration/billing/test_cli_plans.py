"""``clickphone plans import|export|list|show`` on the database the settings
name (SQLite and PostgreSQL): plans are data, managed from the command line;
a refusal is ``Error: ...`` naming line and field, exit status 1."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from billing.service_plans import SERVICE_PLAN_COLUMNS
from controlplane.cli import main

HEADER = ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\n"
PLANS_CSV = (
    HEADER
    + "home5,2025.1,2025-01-01,,5.00,,national,100,\"Home, 5 EUR\"\n"
    + "basic,1,2025-01-01,2026-01-01,0,annex_b,,,\n"
)


@pytest.fixture
def clickphone(db_url, tmp_path):
    """Run ``clickphone plans ARGS...`` (in a thread: the CLI runs its own event loop)."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path / "state")}

    async def run(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, main, ["plans", *args], env=env)

    return run


async def test_import_then_list_and_show(clickphone, tmp_path):
    """Imported versions are listed one a line and shown as the admin API's JSON."""
    path = tmp_path / "plans.csv"
    path.write_text(PLANS_CSV, encoding="utf-8")

    imported = await clickphone("import", str(path))
    listed = await clickphone("list")
    shown = await clickphone("show", "home5")

    assert imported.exit_code == 0, imported.output
    assert imported.stdout == "added\thome5\t2025.1\nadded\tbasic\t1\n"
    assert listed.stdout == (
        "basic\t1\t2025-01-01\t2026-01-01\t0.000000 EUR\tannex_b\t-\n"
        "home5\t2025.1\t2025-01-01\t-\t5.000000 EUR\tannex_b\tnational=100\n"
    )
    assert json.loads(shown.stdout) == {"name": "home5", "versions": [{
        "version": "2025.1", "effective_from": "2025-01-01", "effective_to": None, "monthly_fee": "5.000000",
        "tariff": "annex_b", "included_minutes": {"national": 100}, "description": "Home, 5 EUR",
        "setup_fee": None}]}


async def test_export_into_a_file_re_imports_unchanged(clickphone, tmp_path):
    """``plans export FILE`` writes what stdout would show; importing it back changes nothing."""
    path = tmp_path / "plans.csv"
    path.write_text(PLANS_CSV, encoding="utf-8")
    await clickphone("import", str(path))
    exported = tmp_path / "exported.csv"

    to_stdout = await clickphone("export")
    to_file = await clickphone("export", str(exported))
    again = await clickphone("import", str(exported))

    assert to_file.exit_code == 0 and exported.read_text(encoding="utf-8") == to_stdout.stdout
    assert to_stdout.stdout.startswith(",".join(SERVICE_PLAN_COLUMNS) + "\n") and "home5,2025.1,2025-01-01,,5.000000,annex_b" in to_stdout.stdout
    assert again.stdout == "unchanged\tbasic\t1\nunchanged\thome5\t2025.1\n"


async def test_a_bad_file_is_refused_naming_line_and_field_and_nothing_is_stored(clickphone, tmp_path):
    """One bad row refuses the whole file: exit 1, the line and field on
    stderr, and no plan is listed afterwards."""
    path = tmp_path / "bad.csv"
    path.write_text(PLANS_CSV + "gold,1,2025-01-01,,5.00,,national,100000000,\n", encoding="utf-8")

    result = await clickphone("import", str(path))
    listed = await clickphone("list")

    assert result.exit_code == 1
    assert "line 4: included_minutes: must be whole minutes from 1 to 100,000" in result.stderr
    assert listed.exit_code == 0 and listed.stdout == ""


async def test_show_of_an_unknown_plan_fails_naming_it(clickphone):
    """``plans show gold`` with no such plan: exit 1, ``Error: no service plan 'gold'``."""
    result = await clickphone("show", "gold")

    assert result.exit_code == 1 and "Error: no service plan 'gold'" in result.stderr
