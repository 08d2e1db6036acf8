"""Service plans as data (contract art. 7.1.2, 7.4–7.5): the CSV, its bounds
and its errors, destination groups and versions in time."""

from __future__ import annotations

import io
from datetime import date

import pytest

from billing.service_plans import (
    SERVICE_PLAN_COLUMNS,
    Allowance,
    ServicePlan,
    ServicePlanFileError,
    ServicePlanVersions,
    read_service_plan_csv,
    write_service_plan_csv,
)

HEADER = ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\n"
HOME5 = [
    HEADER,
    "home5,2025.1,2025-01-01,,5.00,annex_b,national,100,\"Home, 5 EUR\"\n",
    "home5,2025.1,2025-01-01,,5.00,annex_b,on_net,1000,\"Home, 5 EUR\"\n",
]


def problems(lines: list[str]) -> list[tuple[int, str]]:
    """The (line, field) of every problem the reader reports for ``lines``."""
    with pytest.raises(ServicePlanFileError) as refused:
        read_service_plan_csv(lines)
    return [(p.position, p.field) for p in refused.value.problems]


def test_a_plan_has_a_fee_in_micro_euros_and_minutes_per_group() -> None:
    """5.00 EUR is 5,000,000 micro-euros exactly; each group row gives its minutes."""
    [(line, plan)] = read_service_plan_csv(HOME5)

    assert line == 2
    assert plan == ServicePlan("home5", "2025.1", date(2025, 1, 1), None, 5_000_000, "annex_b",
                               (Allowance("national", 100), Allowance("on_net", 1000)), "Home, 5 EUR")


def test_national_minutes_cover_fixed_and_mobile_but_not_international() -> None:
    """The contract's "minute incluse" are national: Romanian fixed and
    mobile networks share the national pool; on-net has its own here, and
    international calls use none."""
    [(_, plan)] = read_service_plan_csv(HOME5)

    assert plan.allowance_for("ro_fixed") == plan.allowance_for("ro_mobile") == Allowance("national", 100)
    assert plan.allowance_for("on_net") == Allowance("on_net", 1000)
    assert plan.allowance_for("international") is None
    assert Allowance("national", 100).seconds == 6000


def test_an_empty_tariff_means_annex_b_and_a_version_may_include_no_minutes() -> None:
    """A row with both group columns empty is a version without included minutes."""
    [(_, plan)] = read_service_plan_csv([HEADER, "basic,1,2025-01-01,2026-01-01,0,,,,\n"])

    assert (plan.tariff, plan.allowances, plan.effective_to) == ("annex_b", (), date(2026, 1, 1))


def test_every_problem_names_its_line_and_field() -> None:
    """Errors name the line and the field; every one of the file is reported."""
    lines = [
        HEADER,
        "home5,1,2025-02-30,,5.00,,national,100,\n",  # no 30 February
        "home5,2,2025-03-01,2025-03-01,5.001,,national,100,\n",  # sub-cent is fine; the end is not after
        "home 5,3,2025-04-01,,1e3,,national,0,\n",
        "home5,4,2025-05-01,,10000.000001,,weekend,100,\n",
        "home5,5,2025-06-01,,5,bad tariff,national,100001,\"line\x0bbreak\"\n",
    ]

    assert problems(lines) == [
        (2, "effective_from"),
        (3, "effective_to"),
        (4, "included_minutes"), (4, "monthly_fee_eur"), (4, "plan"),
        (5, "destination_group"), (5, "monthly_fee_eur"),
        (6, "description"), (6, "included_minutes"), (6, "tariff"),
    ]


def test_fields_are_bounded() -> None:
    """A name of 65 characters, a description of 201, more than 6 decimals
    and more than 1,000 rows are refused; the largest allowed values pass."""
    longest = [HEADER, f"{'p' * 64},{'v' * 64},2025-01-01,,10000,,national,100000,{'d' * 200}\n"]
    read_service_plan_csv(longest)

    assert problems([HEADER, f"{'p' * 65},1,2025-01-01,,5,,,,\n"]) == [(2, "plan")]
    assert problems([HEADER, f"p,1,2025-01-01,,5,,,,{'d' * 201}\n"]) == [(2, "description")]
    assert problems([HEADER, "p,1,2025-01-01,,5.0000001,,,,\n"]) == [(2, "monthly_fee_eur")]
    many = [HEADER] + [f"p{i},1,2025-01-01,,5,,,,\n" for i in range(1001)]
    assert problems(many) == [(1002, "plan")]


def test_rows_of_one_version_must_agree_and_name_a_group_once() -> None:
    """Rows repeat the version's fields: a different fee, a group given
    twice, or a row without a group beside group rows is refused."""
    assert problems([HEADER, "p,1,2025-01-01,,5,,national,10,\n", "p,1,2025-01-01,,6,,on_net,10,\n"]) == [
        (3, "plan")]
    assert problems([HEADER, "p,1,2025-01-01,,5,,national,10,\n", "p,1,2025-01-01,,5,,national,20,\n"]) == [
        (3, "destination_group")]
    assert problems([HEADER, "p,1,2025-01-01,,5,,national,10,\n", "p,1,2025-01-01,,5,,,,\n"]) == [
        (3, "destination_group")]


def test_groups_of_a_version_may_not_share_a_class() -> None:
    """National already holds Romanian mobile: a call uses one pool."""
    lines = [HEADER, "p,1,2025-01-01,,5,,national,10,\n", "p,1,2025-01-01,,5,,ro_mobile,20,\n"]

    assert problems(lines) == [(2, "destination_group")]


def test_versions_of_a_plan_may_not_overlap() -> None:
    """An open-ended version followed by a later one overlaps it; ending it first is fine."""
    overlapping = [HEADER, "p,1,2025-01-01,,5,,,,\n", "p,2,2025-06-01,,6,,,,\n"]
    consecutive = [HEADER, "p,1,2025-01-01,2025-06-01,5,,,,\n", "p,2,2025-06-01,,6,,,,\n"]

    assert problems(overlapping) == [(2, "effective_from")]
    versions = ServicePlanVersions(plan for _, plan in read_service_plan_csv(consecutive))
    assert [versions.version_on(date(2025, 5, 31)).version, versions.version_on(date(2025, 6, 1)).version] == [
        "1", "2"]
    assert versions.version_on(date(2024, 12, 31)) is None


def test_a_wrong_header_is_refused_naming_the_header() -> None:
    """A missing column is reported on the header's line."""
    assert problems(["plan,version\n", "p,1\n"]) == [(1, "header")]


def test_what_is_written_reads_back_the_same() -> None:
    """write → read gives the same versions (descriptions with commas and
    quotes, versions with and without minutes)."""
    plans = [plan for _, plan in read_service_plan_csv(
        HOME5 + ['basic,1,2025-01-01,2026-01-01,0.5,,,,"say ""hi"""\n'])]
    out = io.StringIO()

    write_service_plan_csv(plans, out)

    assert [plan for _, plan in read_service_plan_csv(out.getvalue().splitlines(keepends=True))] == plans


FULL_HEADER = ",".join(SERVICE_PLAN_COLUMNS) + "\n"


def test_a_set_up_fee_column_gives_the_fee_and_empty_means_none() -> None:
    """Art. 7.1.1: the optional setup_fee column is the set-up fee in EUR
    excl. VAT; empty is none, and a file without the column (older files)
    still reads, without set-up fees."""
    with_fee = read_service_plan_csv([FULL_HEADER, "home5,2025.1,2025-01-01,,5.00,,national,100,Home,50.00\n"])
    without = read_service_plan_csv([FULL_HEADER, "home5,2025.1,2025-01-01,,5.00,,national,100,Home,\n"])
    older = read_service_plan_csv(HOME5)

    assert with_fee[0][1].setup_fee_micro == 50_000_000
    assert without[0][1].setup_fee_micro is None and older[0][1].setup_fee_micro is None


@pytest.mark.parametrize("fee", ["0", "-1.00", "100000.01", "5e1", "50,00"])
def test_a_set_up_fee_out_of_bounds_is_refused_naming_the_column(fee: str) -> None:
    """A set-up fee is more than 0 and at most 100,000 EUR, written like 50.00."""
    row = f"home5,2025.1,2025-01-01,,5.00,,national,100,Home,\"{fee}\"\n"
    assert problems([FULL_HEADER, row]) == [(2, "setup_fee")]


def test_a_set_up_fee_is_written_and_reads_back_the_same() -> None:
    """An export with set-up fees imports back unchanged."""
    plan = ServicePlan("home5", "1", date(2025, 1, 1), None, 5_000_000, setup_fee_micro=50_000_000)
    out = io.StringIO()
    write_service_plan_csv([plan], out)
    assert out.getvalue().startswith(FULL_HEADER) and out.getvalue().endswith(",50.000000\n")
    assert read_service_plan_csv(out.getvalue().splitlines(keepends=True)) == [(2, plan)]
