"""Batch rating of a CDR file (`clickphone rate --cdr FILE`)."""

import csv
import io
import json

import pytest

from billing.batch import BATCH_COLUMNS, rate_cdr_file
from billing.tariffs import default_tariff
from tests.unit.billing.cdr_samples import CLICKPHONE, MASTER_18, MASTER_21, master_values, quoted

PREMIUM = quoted(master_values(dst="0900123456", uniqueid="u-premium"))
MOBILE_ANSWERED = quoted(master_values(dst="0721234567", uniqueid="u-mobile", billsec="61"))


def run(lines, fmt="csv", **kwargs):
    out = io.StringIO()
    summary = rate_cdr_file(lines, default_tariff(), out, fmt, **kwargs)
    return summary, out.getvalue()


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_output_has_the_documented_columns():
    """Columns: uniqueid,account,dialled,normalised,class,billsec,billable_seconds,cost_eur,error."""
    _, text = run([MASTER_21])
    assert text.splitlines()[0] == ",".join(BATCH_COLUMNS)
    assert BATCH_COLUMNS == (
        "uniqueid", "account", "dialled", "normalised", "class",
        "billsec", "billable_seconds", "cost_eur", "error",
    )  # fmt: skip


def test_a_rated_cdr_becomes_one_row_with_cost_in_six_decimals():
    """61 s to a Romanian fixed number: 0.01 × 61/60 = 0.010167 EUR."""
    _, text = run([MASTER_21])
    (row,) = csv_rows(text)
    assert row == {
        "uniqueid": "1754042400.1",
        "account": "acct-7",
        "dialled": "0212345678",
        "normalised": "40212345678",
        "class": "ro_fixed",
        "billsec": "61",
        "billable_seconds": "61",
        "cost_eur": "0.010167",
        "error": "",
    }


def test_unanswered_calls_are_rows_costing_zero():
    """Calls not answered cost nothing, and are still listed."""
    _, text = run([MASTER_18])
    (row,) = csv_rows(text)
    assert (row["cost_eur"], row["billable_seconds"], row["error"]) == ("0.000000", "0", "")


def test_the_clickphone_layout_rates_the_recorded_dialled_number():
    """clickphone.csv: cp_dialled is what the subscriber dialled."""
    _, text = run([CLICKPHONE])
    (row,) = csv_rows(text)
    assert (row["dialled"], row["class"], row["cost_eur"]) == ("0212345678", "ro_fixed", "0.020000")


def test_every_line_gets_a_row_and_errors_say_why():
    """Invariant 4: a bad line is reported with its reason, never dropped, never fatal."""
    summary, text = run([MASTER_21, "not,a,cdr\n", PREMIUM, MOBILE_ANSWERED])
    rows = csv_rows(text)
    assert len(rows) == 4
    assert rows[1]["error"] == "line 2: expected 18, 20 or 21 fields, got 3"
    assert rows[2]["uniqueid"] == "u-premium" and "no rate for premium" in rows[2]["error"]
    assert rows[2]["cost_eur"] == "" and rows[2]["billable_seconds"] == ""
    assert rows[3]["cost_eur"] == "0.025417"
    assert (summary.lines, summary.rated, summary.errors) == (4, 2, 2)
    assert summary.cost_micro == 10_167 + 25_417


def test_own_dids_are_rated_on_net():
    """Calls to the operator's own DIDs are on-net and free."""
    line = quoted(master_values(dst="0312345678"))
    _, text = run([line], on_net={"40312345678"})
    (row,) = csv_rows(text)
    assert (row["class"], row["cost_eur"]) == ("on_net", "0.000000")


def test_json_output_is_json_lines_with_exact_cost_strings():
    """--format json: one object per line, cost_eur a string with 6 decimals, error null when rated."""
    _, text = run([MASTER_21, "bad\n"], fmt="json")
    first, second = (json.loads(line) for line in text.splitlines())
    assert list(first) == list(BATCH_COLUMNS)
    assert (first["cost_eur"], first["billsec"], first["error"]) == ("0.010167", 61, None)
    assert second["cost_eur"] is None and second["error"].startswith("line 2:")


def test_an_unknown_format_is_refused():
    """Only csv and json are supported."""
    with pytest.raises(ValueError, match="format"):
        run([MASTER_21], fmt="xml")


def test_rating_streams_the_input():
    """The file is rated line by line, never loaded whole: output appears as lines are read."""
    out = io.StringIO()

    def lines():
        yield MASTER_21
        assert "1754042400.1" in out.getvalue()  # first row written before the second line is read
        yield MASTER_18

    rate_cdr_file(lines(), default_tariff(), out)
    assert len(csv_rows(out.getvalue())) == 2
