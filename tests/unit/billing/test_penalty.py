"""Late-payment penalty: 0.1 % per day after the due date, capped at the unpaid amount."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from billing.invoicing.penalty import due_date, penalty_micro, penalty_with_payments_micro

ISSUED = date(2025, 8, 1)
DUE = date(2025, 8, 11)
EUR_100 = 100_000_000


def test_due_date_is_ten_calendar_days_after_issue():
    """Contract: due date is 10 calendar days after issue."""
    assert due_date(ISSUED) == DUE


def test_no_penalty_on_the_due_date():
    """The penalty starts after the due date."""
    assert penalty_micro(EUR_100, DUE, DUE) == 0


def test_one_day_late_costs_a_tenth_of_a_percent():
    """Contract: 0.1 % per day of delay on the unpaid amount."""
    assert penalty_micro(EUR_100, DUE, DUE + timedelta(days=1)) == 100_000


def test_penalty_accrues_daily():
    """Ten days late: 1 % of the unpaid amount."""
    assert penalty_micro(EUR_100, DUE, DUE + timedelta(days=10)) == 1_000_000


def test_penalty_never_exceeds_the_unpaid_amount():
    """Contract: the penalty never exceeds the unpaid amount (reached after 1000 days)."""
    assert penalty_micro(EUR_100, DUE, DUE + timedelta(days=1000)) == EUR_100
    assert penalty_micro(EUR_100, DUE, DUE + timedelta(days=5000)) == EUR_100


def test_penalty_is_rounded_once():
    """0.1 % × 3 days of 1.234567 EUR = 0.003703701 EUR → 3704 µ€, rounded once."""
    assert penalty_micro(1_234_567, DUE, DUE + timedelta(days=3)) == 3_704


def test_a_partial_payment_reduces_what_accrues_from_the_next_day():
    """Each day accrues on what was unpaid at its start: 5 days on 100 + 5 days on 50."""
    paid = [(DUE + timedelta(days=5), 50_000_000)]
    assert penalty_with_payments_micro(EUR_100, DUE, paid, DUE + timedelta(days=10)) == 750_000


def test_payments_before_the_due_date_lower_the_penalty_base():
    """Only what is unpaid at the due date is late."""
    paid = [(DUE - timedelta(days=1), 60_000_000)]
    assert penalty_with_payments_micro(EUR_100, DUE, paid, DUE + timedelta(days=10)) == 400_000


def test_full_payment_stops_the_penalty():
    """Nothing accrues after the invoice is paid in full."""
    paid = [(DUE + timedelta(days=2), EUR_100)]
    assert penalty_with_payments_micro(EUR_100, DUE, paid, DUE + timedelta(days=30)) == 200_000


@given(st.integers(0, 10**12), st.integers(0, 5000), st.integers(0, 5000))
def test_penalty_grows_with_time_and_stays_capped(unpaid, d1, d2):
    """The penalty never decreases as days pass and never exceeds the unpaid amount."""
    early, late = sorted((d1, d2))
    p_early = penalty_micro(unpaid, DUE, DUE + timedelta(days=early))
    p_late = penalty_micro(unpaid, DUE, DUE + timedelta(days=late))
    assert 0 <= p_early <= p_late <= unpaid


@given(st.integers(0, 10**10), st.integers(0, 3000))
def test_without_payments_both_forms_agree(unpaid, days):
    """The schedule form with no payments is the simple form."""
    as_of = DUE + timedelta(days=days)
    assert penalty_with_payments_micro(unpaid, DUE, [], as_of) == penalty_micro(unpaid, DUE, as_of)
