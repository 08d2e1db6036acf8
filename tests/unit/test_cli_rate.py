"""`clickphone rate --cdr FILE [--tariff FILE] [--format csv|json]`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from controlplane.cli import main
from tests.unit.test_cli_billing import add_did
from tests.unit.billing.cdr_samples import CLICKPHONE, MASTER_18, MASTER_21

COLUMNS = "uniqueid,account,dialled,normalised,class,billsec,billable_seconds,cost_eur,error"


def run(*args: str, state: Path | None = None):
    env = {"CLICKPHONE_STATE_DIR": str(state)} if state is not None else {}
    return CliRunner().invoke(main, ["rate", *args], env=env)


def test_rate_writes_one_csv_row_per_cdr_with_the_contract_columns(tmp_path):
    cdr = tmp_path / "Master.csv"
    cdr.write_text(MASTER_21 + MASTER_18 + "not,a,cdr\n")
    result = run("--cdr", str(cdr), state=tmp_path / "state")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == COLUMNS
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    fixed, unanswered, bad = rows
    # 61 s to a Romanian fixed number at 0.01 EUR/min: 61 s billable.
    assert (fixed["class"], fixed["billable_seconds"], fixed["cost_eur"]) == ("ro_fixed", "61", "0.010167")
    assert (unanswered["class"], unanswered["cost_eur"], unanswered["error"]) == ("ro_mobile", "0.000000", "")
    assert bad["error"].startswith("line 3:")


def test_rate_json_gives_the_same_rows_as_json_lines(tmp_path):
    cdr = tmp_path / "clickphone.csv"
    cdr.write_text(CLICKPHONE)
    result = run("--cdr", str(cdr), "--format", "json", state=tmp_path / "state")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    assert list(row) == COLUMNS.split(",")
    assert (row["class"], row["billable_seconds"], row["cost_eur"]) == ("ro_fixed", 120, "0.020000")


def test_rate_with_a_bad_tariff_file_names_its_line(tmp_path):
    cdr = tmp_path / "Master.csv"
    cdr.write_text(MASTER_21)
    tariff = tmp_path / "tariff.csv"
    tariff.write_text(
        "plan,version,effective_from,effective_to,service,destination,price_eur,first_block_s,increment_s,connect_fee_eur,description\n"
        "p,1,2025-01-01,,voice,ro_fixed,not-a-price,60,1,0,\n"
    )
    result = run("--cdr", str(cdr), "--tariff", str(tariff), state=tmp_path / "state")
    assert result.exit_code != 0
    assert "line 2" in result.output


def test_rate_takes_our_numbers_from_the_dids_by_default(tmp_path):
    """Issue 10, defect 20: one source of our numbers — without --on-net,
    `rate` rates a call to one of our DIDs as on-net, as ingestion does."""
    state = tmp_path / "state"
    add_did(state, "40212345678")
    cdr = tmp_path / "Master.csv"
    cdr.write_text(MASTER_21)  # dials 0212345678

    by_default = run("--cdr", str(cdr), state=state)
    given = run("--cdr", str(cdr), "--on-net", "0219999999", state=state)

    assert by_default.exit_code == 0, by_default.output
    [row] = csv.DictReader(io.StringIO(by_default.stdout))
    assert (row["class"], row["cost_eur"]) == ("on_net", "0.000000")
    [row] = csv.DictReader(io.StringIO(given.stdout))
    assert row["class"] == "ro_fixed"  # --on-net names the numbers instead


def test_rate_refuses_an_on_net_value_that_is_not_a_number(tmp_path):
    """Bad input is a clear error naming the option, not a traceback."""
    cdr = tmp_path / "Master.csv"
    cdr.write_text(MASTER_21)
    result = run("--cdr", str(cdr), "--on-net", "abc", state=tmp_path / "state")
    assert result.exit_code == 2
    assert "--on-net" in result.output and "Traceback" not in result.output
