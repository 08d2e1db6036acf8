"""Recurring fee: invoiced on the 1st for the previous month, downtime credited pro rata."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from billing.invoicing.recurring import (
    BillingPeriod,
    downtime_credit_micro,
    issue_date_for,
    month_period,
    period_invoiced_on,
    recurring_fee,
)

EUR_31 = 31_000_000


def test_the_invoice_of_the_1st_covers_the_previous_month():
    """Contract: recurring fee invoiced on the 1st for the previous month."""
    assert period_invoiced_on(date(2025, 3, 1)) == BillingPeriod(date(2025, 2, 1), date(2025, 2, 28))
    assert period_invoiced_on(date(2025, 1, 1)) == BillingPeriod(date(2024, 12, 1), date(2024, 12, 31))


def test_a_month_is_invoiced_on_the_1st_of_the_next():
    """December's fee is invoiced on 1 January."""
    assert issue_date_for(month_period(2025, 12)) == date(2026, 1, 1)


def test_a_fee_with_no_downtime_is_charged_in_full():
    """No provider-fault down days: no reduction."""
    fee = recurring_fee(EUR_31, month_period(2025, 7))
    assert (fee.credit_micro, fee.net_micro) == (0, EUR_31)


def test_down_days_reduce_the_fee_pro_rata():
    """Contract: days down through the provider's fault reduce the fee pro rata (3 of 31 days)."""
    days = [date(2025, 7, 10), date(2025, 7, 11), date(2025, 7, 12)]
    fee = recurring_fee(EUR_31, month_period(2025, 7), days)
    assert (fee.down_days, fee.credit_micro, fee.net_micro) == (3, 3_000_000, 28_000_000)


def test_a_down_day_counts_once_and_only_inside_the_period():
    """Repeated outages on one day are one down day; days of other months do not count."""
    days = [date(2025, 7, 10), date(2025, 7, 10), date(2025, 8, 1)]
    assert recurring_fee(EUR_31, month_period(2025, 7), days).down_days == 1


def test_the_pro_rata_credit_is_rounded_once():
    """10 EUR × 1/31 = 0.32258064… EUR → 322 581 µ€."""
    assert downtime_credit_micro(10_000_000, 1, 31) == 322_581


def test_the_recurring_invoice_is_due_ten_days_after_issue():
    """Contract: due 10 calendar days after issue."""
    assert recurring_fee(EUR_31, month_period(2025, 7)).due_date == date(2025, 8, 11)


@given(st.integers(0, 10**10), st.integers(1, 12), st.sets(st.integers(1, 28)))
def test_the_credit_never_exceeds_the_fee(fee, month, down):
    """However many down days, the net fee stays between 0 and the fee."""
    period = month_period(2025, month)
    result = recurring_fee(fee, period, [date(2025, month, d) for d in down])
    assert 0 <= result.credit_micro <= fee
    assert 0 <= result.net_micro <= fee
