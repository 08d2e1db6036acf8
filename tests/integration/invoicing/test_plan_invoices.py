"""A customer on a service plan, through the CLI, on SQLite and PostgreSQL:
the monthly invoice's fee and included minutes come from the plan,
pro-rated in the month the customer joined; the bundle runs out mid-call
to the second and starts whole again the next month (contract art.
7.1.2, 7.4–7.5; Annex B rates after the bundle)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from billing.service_plans import SERVICE_PLAN_COLUMNS
from controlplane.cli import main
from tests.integration.billing.cdrs import FIXED, MOBILE, master_line

PLAN_CSV = ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\nhome5,2025.1,2025-01-01,,5.00,,national,100,Home\n"


@pytest.fixture
def clickphone(db_url, tmp_path):
    """Run ``clickphone ARGS...`` on the test's database; fail on a non-zero exit."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path / "state")}

    async def run(*args: str) -> str:
        result = await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    return run


def cdr_file(tmp_path: Path) -> Path:
    """October: 3,000 s fixed (in the bundle), 2,500 s mobile (the bundle runs
    out after 2,419 s of it), 120 s fixed (after the bundle); November:
    600 s mobile."""
    path = tmp_path / "Master.csv"
    path.write_text(
        master_line("oct-1", account="ION1", dialled=FIXED, billsec=3000, start=datetime(2025, 10, 5, 9, tzinfo=UTC))
        + master_line("oct-2", account="ION1", dialled=MOBILE, billsec=2500,
                      start=datetime(2025, 10, 10, 9, tzinfo=UTC))
        + master_line("oct-3", account="ION1", dialled=FIXED, billsec=120,
                      start=datetime(2025, 10, 20, 9, tzinfo=UTC))
        + master_line("nov-1", account="ION1", dialled=MOBILE, billsec=600,
                      start=datetime(2025, 11, 3, 9, tzinfo=UTC))
    )
    return path


async def customer_joining_on_october_4th(clickphone, tmp_path: Path) -> None:
    """Import home5 (5 EUR, 100 national minutes) and create the postpaid
    subscriber ION1 on it from 4 October 2025, all through the CLI."""
    plans = tmp_path / "plans.csv"
    plans.write_text(PLAN_CSV)
    await clickphone("plans", "import", str(plans))
    await clickphone("admin", "subscriber", "create", "--name", "Ion Popescu", "--email", "ion@example.com",
                     "--username", "ep-ion", "--caller-id", "0212345678", "--account-code", "ION1",
                     "--kind", "postpaid", "--credit-limit", "100", "--plan", "home5", "--plan-start", "2025-10-04")


async def test_a_customer_joining_on_the_4th_of_october_on_the_5_eur_plan(clickphone, tmp_path: Path) -> None:
    """October's invoice: 28/31 of 5 EUR (4.516129 EUR) and 28/31 of 100
    minutes (168,000/31 = 5,419.35 → 5,419 s) included; the 2,500 s mobile
    call is split at the bundle's end: 2,419 s included, 81 s at Annex B's
    0.025 EUR/min (0.033750 EUR); the 120 s fixed call after it at 0.01
    EUR/min (0.020000 EUR). November: the whole 5 EUR and 6,000 s again,
    the 600 s call included."""
    await customer_joining_on_october_4th(clickphone, tmp_path)
    await clickphone("cdr", "ingest", str(cdr_file(tmp_path)), "--system-name", "pbx1")
    await clickphone("fx", "set", "--date", "2025-10-31", "--eur", "5.0720")
    await clickphone("fx", "set", "--date", "2025-11-28", "--eur", "5.0800")

    await clickphone("invoice", "run", "--period", "2025-10", "--issue-date", "2025-11-01")
    await clickphone("invoice", "run", "--period", "2025-11", "--issue-date", "2025-12-01")
    october = json.loads(await clickphone("invoice", "show", "CP-000001", "--format", "json"))
    november = json.loads(await clickphone("invoice", "show", "CP-000002", "--format", "json"))

    assert (october["period"], october["account"]["code"]) == ("2025-10", "ION1")
    assert october["bundle"] == {"included_seconds": 5419, "used_seconds": 5419}
    lines = {line["kind"] + ":" + str(line["number_class"]): line for line in october["lines"]}
    fee = lines["recurring_fee:None"]
    assert (fee["description"], fee["net_eur"]) == ("Abonament lunar — octombrie 2025 (28 de zile din 31)",
                                                   "4.516129")
    fixed, mobile = lines["usage:ro_fixed"], lines["usage:ro_mobile"]
    assert (fixed["quantity"], fixed["included_seconds"], fixed["charged_seconds"], fixed["net_eur"]) == (
        2, 3000, 120, "0.020000")
    assert (mobile["quantity"], mobile["included_seconds"], mobile["charged_seconds"], mobile["net_eur"]) == (
        1, 2419, 81, "0.033750")
    assert october["totals"]["net_eur"] == "4.569879"  # 4.516129 + 0.020000 + 0.033750
    calls = {(c["billsec"], c["included_seconds"], c["charged_seconds"], c["cost_eur"]) for c in october["calls"]}
    assert calls == {(3000, 3000, 0, "0.000000"), (2500, 2419, 81, "0.033750"), (120, 0, 120, "0.020000")}

    assert november["bundle"] == {"included_seconds": 6000, "used_seconds": 600}
    [november_fee] = [line for line in november["lines"] if line["kind"] == "recurring_fee"]
    assert (november_fee["description"], november_fee["net_eur"]) == ("Abonament lunar — noiembrie 2025",
                                                                     "5.000000")
    assert [(c["included_seconds"], c["charged_seconds"]) for c in november["calls"]] == [(600, 0)]
    assert november["totals"]["net_eur"] == "5.000000"


async def test_three_downtime_days_reduce_the_plan_fee_by_3_of_30(clickphone, tmp_path: Path) -> None:
    """Art. 8.5.2 on the plan's fee: a customer on the 5 EUR plan all
    November, with 3 days down through the provider's fault, has the fee
    of 5 EUR and a credit of 5 × 3/30 = 0.50 EUR on November's invoice."""
    await customer_joining_on_october_4th(clickphone, tmp_path)
    for day in ("2025-11-10", "2025-11-11", "2025-11-12"):
        await clickphone("downtime", "add", "--date", day, "--reason", "core switch failure")
    await clickphone("fx", "set", "--date", "2025-11-28", "--eur", "5.0800")

    await clickphone("invoice", "run", "--period", "2025-11", "--issue-date", "2025-12-01")
    november = json.loads(await clickphone("invoice", "show", "CP-000001", "--format", "json"))

    fee_lines = [(line["kind"], line["quantity"], line["net_eur"]) for line in november["lines"]]
    assert fee_lines == [("recurring_fee", 1, "5.000000"), ("downtime_credit", 3, "-0.500000")]
    assert november["totals"]["net_eur"] == "4.500000"
