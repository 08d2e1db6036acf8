"""Days suspended and the fee of a suspended month (art. 9.2).

Art. 9.2: the fee of a suspended month stays due when the suspension is
the subscriber's fault; days suspended for the operator's own reasons
reduce it pro rata, like days down through the provider's fault.
Decided: a Europe/Bucharest day counts when the account was suspended at
any moment of it, once however many stretches touch it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from billing.invoicing.recurring import month_period, recurring_fee
from billing.suspension_causes import CAUSE_NAMES, SUSPENSION_CAUSES, fee_due_while_suspended
from billing.suspensions import Suspension, days_suspended
from billing.tariffs import CONTRACT_TZ

OCT_1, OCT_31 = date(2025, 10, 1), date(2025, 10, 31)
EUR_31 = 31_000_000


def stretch(start: datetime, end: datetime | None, cause: str = "operator") -> Suspension:
    return Suspension(1, 1, cause, "", start, end)


def bucharest(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=CONTRACT_TZ)


def october(*days: int) -> set[date]:
    return {date(2025, 10, d) for d in days}


def test_a_day_counts_when_suspended_at_any_moment_of_it():
    """Suspended from 23:59 to 00:01 (Bucharest): both days count."""
    days = days_suspended([stretch(bucharest(10, 23, 59), bucharest(11, 0, 1))], OCT_1, OCT_31)
    assert days == october(10, 11)


def test_a_stretch_ending_at_midnight_does_not_touch_the_next_day():
    """The stretch is [started_at, ended_at): reinstated at 00:00 on the 15th, the 15th is not suspended."""
    days = days_suspended([stretch(bucharest(10, 8), bucharest(15, 0))], OCT_1, OCT_31)
    assert days == october(10, 11, 12, 13, 14)


def test_days_are_bucharest_days_not_utc_days():
    """22:30 UTC on 9 October is 01:30 on the 10th in Bucharest: the 9th is not touched."""
    start = datetime(2025, 10, 9, 22, 30, tzinfo=UTC)
    assert days_suspended([stretch(start, start + timedelta(hours=1))], OCT_1, OCT_31) == october(10)


def test_an_empty_stretch_touches_no_day():
    """Suspended and reinstated at the same instant: suspended at no moment."""
    assert days_suspended([stretch(bucharest(10, 8), bucharest(10, 8))], OCT_1, OCT_31) == set()


def test_an_open_stretch_runs_to_the_end_of_the_period():
    """Still suspended when the month is invoiced: every day from its start counts."""
    assert days_suspended([stretch(bucharest(27, 9), None)], OCT_1, OCT_31) == october(27, 28, 29, 30, 31)


def test_overlapping_stretches_count_each_day_once():
    """Two stretches on the same days are the days once."""
    days = days_suspended(
        [stretch(bucharest(10, 8), bucharest(10, 10)), stretch(bucharest(10, 12), bucharest(12, 9))], OCT_1, OCT_31)
    assert days == october(10, 11, 12)


def test_a_stretch_across_months_counts_only_the_periods_days():
    """28 September 10:00 to 3 October 10:00: 3 days of September, 3 of October."""
    across = [stretch(bucharest(28, 10, month=9), bucharest(3, 10))]
    assert days_suspended(across, OCT_1, OCT_31) == october(1, 2, 3)
    assert days_suspended(across, date(2025, 9, 1), date(2025, 9, 30)) == {
        date(2025, 9, 28), date(2025, 9, 29), date(2025, 9, 30)}


def test_only_the_operators_own_reasons_leave_the_fee_not_due():
    """Art. 9.2: non-payment (art. 9.1.2), breach and the subscriber's own
    request leave the fee due; the operator's own reasons do not."""
    assert {name: fee_due_while_suspended(name) for name in CAUSE_NAMES} == {
        "non_payment": True, "breach": True, "subscriber_request": True, "operator": False}
    assert SUSPENSION_CAUSES["non_payment"].clause == "art. 9.1.2"


def test_days_suspended_not_through_the_subscribers_fault_reduce_the_fee_pro_rata():
    """Art. 9.2: 5 of 31 days suspended for the operator's reasons: 5/31 of the fee off."""
    fee = recurring_fee(EUR_31, month_period(2025, 10), (), october(10, 11, 12, 13, 14))
    assert (fee.suspended_days, fee.suspension_credit_micro, fee.credit_micro, fee.net_micro) == (
        5, 5_000_000, 0, 26_000_000)


def test_a_day_both_down_and_suspended_counts_once_as_down():
    """Downtime on the 13th and 14th, suspension 10th-14th: 2 down days, 3 suspended, 5 off in all."""
    fee = recurring_fee(EUR_31, month_period(2025, 10), october(13, 14), october(10, 11, 12, 13, 14))
    assert (fee.down_days, fee.credit_micro, fee.suspended_days, fee.suspension_credit_micro) == (
        2, 2_000_000, 3, 3_000_000)


def test_both_credits_are_rounded_once_together():
    """14 µ€ a month of 28 days: one day is 0.5 µ€, rounded up alone to 1;
    a down day and a suspended day together are 1 µ€, not 2."""
    fee = recurring_fee(14, month_period(2025, 2), [date(2025, 2, 1)], [date(2025, 2, 2)])
    assert (fee.credit_micro, fee.suspension_credit_micro, fee.net_micro) == (1, 0, 13)
    whole = recurring_fee(1, month_period(2025, 2), [date(2025, 2, d) for d in range(1, 15)],
                          [date(2025, 2, d) for d in range(15, 29)])
    assert whole.credit_micro + whole.suspension_credit_micro == 1 and whole.net_micro == 0


@given(st.integers(0, 10**10), st.sets(st.integers(1, 31)), st.sets(st.integers(1, 31)))
def test_the_credits_never_exceed_the_fee(fee, down, suspended):
    """However many down and suspended days, the net fee stays between 0 and the fee."""
    result = recurring_fee(fee, month_period(2025, 10), october(*down), october(*suspended))
    assert 0 <= result.credit_micro and 0 <= result.suspension_credit_micro
    assert 0 <= result.net_micro <= fee
    assert result.down_days + result.suspended_days == len(down | suspended)
