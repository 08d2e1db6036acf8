"""`clickphone rate --cdr FILE [--tariff FILE] [--format csv|json]`."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from controlplane.cli import main
from tests.unit.billing.cdr_samples import CLICKPHONE, MASTER_18, MASTER_21

COLUMNS = "uniqueid,account,dialled,normalised,class,billsec,billable_seconds,cost_eur,error"


def run(*args: str):
    return CliRunner().invoke(main, ["rate", *args])


def test_rate_writes_one_csv_row_per_cdr_with_the_contract_columns(tmp_path):
    cdr = tmp_path / "Master.csv"
    cdr.write_text(MASTER_21 + MASTER_18 + "not,a,cdr\n")
    result = run("--cdr", str(cdr))
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
    result = run("--cdr", str(cdr), "--format", "json")
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
    result = run("--cdr", str(cdr), "--tariff", str(tariff))
    assert result.exit_code != 0
    assert "line 2" in result.output
