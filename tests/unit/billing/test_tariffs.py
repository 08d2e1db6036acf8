"""Tariff plans as data: Annex B, versions in time, rate lookup, the tariff CSV."""

import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing._datafile import DataFileError
from billing.numbering import classify
from billing.tariffs import (
    SMS,
    TARIFF_COLUMNS,
    NoPlanInEffect,
    Plan,
    Rate,
    Tariff,
    default_tariff,
    read_tariff_csv,
    write_tariff_csv,
)

AUG_2025 = datetime(2025, 8, 1, 12, 0, tzinfo=timezone.utc)
HEADER = ",".join(TARIFF_COLUMNS) + "\n"


def annex_b():
    return default_tariff().plan_in_effect(AUG_2025)


@pytest.mark.parametrize(
    "dialled, price",
    [
        ("0312345678", "0"),  # on-net (see on_net below)
        ("0212345678", "0.01"),
        ("0721234567", "0.025"),
        ("0800123456", "0"),
        ("112", "0"),
        ("116111", "0"),
    ],
)
def test_annex_b_voice_prices_per_minute(dialled, price):
    """Annex B: on-net 0; Romanian fixed 0.01; Romanian mobile 0.025; Tel Verde 0;
    112 free (116xxx free too: architecture invariant 3). EUR/min, VAT excluded."""
    c = classify(dialled, on_net={"40312345678"})
    assert annex_b().voice_rate(c).price_eur == Decimal(price)


def test_annex_b_charges_the_first_minute_whole_then_per_second():
    """Contract: first minute whole, then per second — first block 60 s, increment 1 s."""
    rate = annex_b().voice_rate(classify("0212345678"))
    assert (rate.first_block, rate.increment, rate.connect_fee_eur) == (60, 1, 0)


@pytest.mark.parametrize("dialled, price", [("0312345678", "0"), ("0721234567", "0.04")])
def test_annex_b_sms_prices_per_message(dialled, price):
    """Annex B: SMS on-net 0; Romanian mobile 0.04 EUR per message."""
    c = classify(dialled, on_net={"40312345678"})
    assert annex_b().rate_for(c, SMS).price_eur == Decimal(price)


def test_premium_numbers_have_no_rate_in_the_default_plan():
    """No rate means barred: the standard list prices no 090x numbers."""
    assert annex_b().voice_rate(classify("0900123456")) is None


def test_international_rates_use_the_longest_prefix():
    """Standard list: German mobile 4917 is priced apart from German fixed 49."""
    plan = annex_b()
    assert plan.voice_rate(classify("+4917612345678")).destination == "4917"
    assert plan.voice_rate(classify("+4930123456")).destination == "49"


def test_international_without_a_prefix_rate_falls_back_to_the_class_rate():
    """Countries missing from the standard list take the `international` rate."""
    rate = annex_b().voice_rate(classify("+6612345678"))  # Thailand: not listed
    assert rate.destination == "international"


def _plan(version, start, end=None, price="0.01"):
    return Plan(
        "p",
        version,
        start,
        end,
        (Rate("ro_fixed", Decimal(price)),),
    )


def test_the_version_in_effect_at_the_call_start_is_used():
    """A tariff change applies to calls that start on or after its effective_from."""
    v1 = _plan("1", datetime(2025, 1, 1, tzinfo=timezone.utc), price="0.01")
    v2 = _plan("2", datetime(2025, 8, 1, tzinfo=timezone.utc), price="0.02")
    tariff = Tariff([v2, v1])
    assert tariff.plan_at(datetime(2025, 7, 31, 23, 59, 59, tzinfo=timezone.utc)) is v1
    assert tariff.plan_at(datetime(2025, 8, 1, tzinfo=timezone.utc)) is v2


def test_no_version_before_the_first_effective_from():
    """A call before any version is in effect has no plan."""
    tariff = Tariff([_plan("1", datetime(2025, 1, 1, tzinfo=timezone.utc))])
    with pytest.raises(NoPlanInEffect):
        tariff.plan_in_effect(datetime(2024, 12, 31, tzinfo=timezone.utc))


def test_no_version_after_an_effective_to():
    """effective_to is exclusive: a version ends exactly there."""
    end = datetime(2025, 2, 1, tzinfo=timezone.utc)
    tariff = Tariff([_plan("1", datetime(2025, 1, 1, tzinfo=timezone.utc), end)])
    assert tariff.plan_at(end) is None


def test_overlapping_versions_are_refused():
    """Two versions cannot both be in effect at the same instant."""
    with pytest.raises(ValueError, match="overlaps"):
        Tariff(
            [
                _plan("1", datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 3, 1, tzinfo=timezone.utc)),
                _plan("2", datetime(2025, 2, 1, tzinfo=timezone.utc)),
            ]
        )


def test_date_only_tariff_dates_are_midnight_in_bucharest():
    """Dates in the tariff file are the contract's legal time, Europe/Bucharest."""
    plan = default_tariff().versions[0]
    assert plan.effective_from == datetime(2024, 12, 31, 22, 0, tzinfo=timezone.utc)


def test_tariff_csv_round_trips():
    """Export then import gives back the same plans, rates and dates."""
    out = io.StringIO()
    write_tariff_csv([default_tariff()], out)
    again = read_tariff_csv(io.StringIO(out.getvalue()))["annex_b"]
    assert again.versions == default_tariff().versions


def test_tariff_csv_export_keeps_prices_exact():
    """Prices are written as the Decimal they are, never through float."""
    plan = Plan(
        "exact", "1", datetime(2025, 1, 1, tzinfo=timezone.utc), None,
        (Rate("ro_fixed", Decimal("0.0123456789")),),
    )  # fmt: skip
    out = io.StringIO()
    write_tariff_csv([plan], out)
    assert ",0.0123456789," in out.getvalue()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ro_fixed", "ro_mobile", "international", "49", "4917", "1", "33"]),
            st.decimals(min_value=0, max_value=10, places=6, allow_nan=False),
            st.integers(0, 120),
            st.integers(1, 60),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_any_valid_plan_round_trips_through_csv(rows):
    """Whatever the rates, write then read gives the same plan."""
    plan = Plan(
        "gen", "1", datetime(2025, 3, 1, 10, 30, tzinfo=timezone.utc), None,
        tuple(Rate(d, p, "voice", fb, inc) for d, p, fb, inc in rows),
    )  # fmt: skip
    out = io.StringIO()
    write_tariff_csv([plan], out)
    assert read_tariff_csv(io.StringIO(out.getvalue()))["gen"].versions == (plan,)


def _import_errors(*rows):
    with pytest.raises(DataFileError) as err:
        read_tariff_csv([HEADER, *rows])
    return err.value.errors


def test_import_errors_name_the_line():
    """A bad price is reported with the line it is on (header is line 1)."""
    errors = _import_errors(
        "p,1,2025-01-01,,voice,ro_fixed,0.01,60,1,0,\n",
        "p,1,2025-01-01,,voice,ro_mobile,abc,60,1,0,\n",
    )
    assert len(errors) == 1 and errors[0][0] == 3 and "price_eur" in errors[0][1]


def test_import_reports_every_bad_line_not_just_the_first():
    """All problems are listed at once, each with its line number."""
    errors = _import_errors(
        "p,1,2025-01-01,,voice,nowhere,0.01,60,1,0,\n",
        "p,1,2025-01-01,,fax,ro_fixed,0.01,60,1,0,\n",
        "p,1,not-a-date,,voice,ro_mobile,0.01,60,1,0,\n",
    )
    assert [line for line, _ in errors] == [2, 3, 4]


@pytest.mark.parametrize(
    "row, message",
    [
        ("p,1,2025-01-01,,voice,ro_fixed,-0.01,60,1,0,\n", ">= 0"),
        ("p,1,2025-01-01,,voice,ro_fixed,0,01,60,1,0,\n", "expected 11 fields"),
        ("p,1,2025-01-01,,voice,ro_fixed,0.01,60,0,0,\n", "increment_s must be >= 1"),
        ("p,1,2025-01-01,,voice,ro_fixed,0.01,1.5,1,0,\n", "whole number"),
        ("p,1,2025-01-01,,voice,ro_fixed,0.01,60,1,0.0000001,\n", "more than 6 decimals"),
        ("p,1,2025-01-01,,sms,ro_mobile,0.0400001,,,,\n", "more than 6 decimals"),
        ("p,1,2025-01-01,,sms,ro_mobile,0.04,60,1,,\n", "sms rates take no"),
        ("p,1,2025-01-01,2024-01-01,voice,ro_fixed,0.01,60,1,0,\n", "after effective_from"),
        ("p,1,2025-01-01,,voice,40721,0.01,60,1,0,\n", "rated by class"),
        ("p,1,2025-01-01,,voice,invalid,0.01,60,1,0,\n", "destination must be"),
        (",1,2025-01-01,,voice,ro_fixed,0.01,60,1,0,\n", "plan is empty"),
        ('p,1,2025-01-01,,voice,ro_fixed,"0.01,60,1,0,\n', "malformed CSV"),
    ],
)
def test_import_validates_each_field(row, message):
    """Each column is checked; the message says which and why, on line 2."""
    errors = _import_errors(row)
    assert errors[0][0] == 2
    assert any(message in m for _, m in errors)


def test_import_refuses_a_duplicate_rate():
    """One destination has one rate per service in a version."""
    errors = _import_errors(
        "p,1,2025-01-01,,voice,ro_fixed,0.01,60,1,0,\n",
        "p,1,2025-01-01,,voice,ro_fixed,0.02,60,1,0,\n",
    )
    assert errors[0][0] == 3 and "duplicate" in errors[0][1]


def test_import_refuses_rows_of_one_version_with_different_dates():
    """A version's dates are repeated on every row and must agree."""
    errors = _import_errors(
        "p,1,2025-01-01,,voice,ro_fixed,0.01,60,1,0,\n",
        "p,1,2025-02-01,,voice,ro_mobile,0.02,60,1,0,\n",
    )
    assert errors == [(3, "p v1 has different dates on line 2")]


def test_import_refuses_an_unknown_column():
    """The header must be the documented columns."""
    with pytest.raises(DataFileError, match="unknown column"):
        read_tariff_csv([HEADER.strip() + ",colour\n"])


def test_import_reads_several_plans_and_versions_from_one_file():
    """Rows repeat their plan metadata, so one file holds a tariff history."""
    tariffs = read_tariff_csv(
        [
            "# comment lines are ignored\n",
            HEADER,
            "home,1,2025-01-01,2025-08-01,voice,ro_fixed,0.01,60,1,0,\n",
            "home,2,2025-08-01,,voice,ro_fixed,0.012,60,1,0,\n",
            "business,1,2025-01-01,,voice,ro_fixed,0.008,60,1,0,\n",
        ]
    )
    assert sorted(tariffs) == ["business", "home"]
    assert [v.version for v in tariffs["home"].versions] == ["1", "2"]


def test_defaults_apply_to_empty_optional_voice_columns():
    """Empty first_block_s/increment_s/connect_fee_eur mean 60, 1, 0."""
    tariff = read_tariff_csv([HEADER, "p,1,2025-01-01,,voice,ro_fixed,0.01,,,,\n"])["p"]
    rate = tariff.versions[0].rates[0]
    assert (rate.first_block, rate.increment, rate.connect_fee_eur) == (60, 1, 0)


def test_a_byte_order_mark_from_a_spreadsheet_is_ignored():
    """Files saved by spreadsheets may start with a BOM; the header still matches."""
    tariffs = read_tariff_csv(["\ufeff" + HEADER, "p,1,2025-01-01,,voice,ro_fixed,0.01,60,1,0,\n"])
    assert list(tariffs) == ["p"]
