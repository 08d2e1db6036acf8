"""Max usage: the longest call a budget pays for, under the first-minute rule."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.authorisation import call_cost_micro, max_call_seconds
from billing.tariffs import Rate

MOBILE = Rate("ro_mobile", Decimal("0.025"))
FREE = Rate("emergency", Decimal("0"))
HOUR = 3600


def test_budget_below_the_first_minute_allows_nothing():
    """0.025 EUR/min: the first minute costs 25,000 µ€; 24,999 µ€ buys nothing."""
    assert max_call_seconds(MOBILE, 24_999, HOUR) == 0


def test_exactly_the_first_minute_allows_sixty_seconds():
    assert max_call_seconds(MOBILE, 25_000, HOUR) == 60


def test_one_euro_at_mobile_rate_allows_forty_minutes():
    assert max_call_seconds(MOBILE, 1_000_000, HOUR) == 2400


def test_free_destination_is_limited_by_the_cap_only():
    assert max_call_seconds(FREE, 0, HOUR) == HOUR


def test_cap_limits_a_rich_account():
    assert max_call_seconds(MOBILE, 10**12, HOUR) == HOUR


def test_connect_fee_is_paid_first():
    rate = Rate("ro_fixed", Decimal("0.01"), connect_fee_eur=Decimal("0.05"))
    assert max_call_seconds(rate, 50_000 + 9_999, HOUR) == 0
    assert max_call_seconds(rate, 50_000 + 10_000, HOUR) == 60


def test_duration_stops_on_the_increment_grid():
    rate = Rate("ro_fixed", Decimal("0.06"), first_block=30, increment=6)  # 1,000 µ€ per 1 s
    seconds = max_call_seconds(rate, 40_500, HOUR)
    assert (seconds - 30) % 6 == 0 and seconds == 36


@given(
    price=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("5"), places=6),
    budget=st.integers(min_value=0, max_value=50_000_000),
    first_block=st.sampled_from([0, 1, 30, 60]),
    increment=st.sampled_from([1, 6, 60]),
)
def test_allowed_duration_never_costs_more_than_the_budget_and_one_more_increment_would(
    price, budget, first_block, increment
):
    """No overspend (invariant 2), and no credit left unused by the rounding."""
    rate = Rate("ro_fixed", price, first_block=first_block, increment=increment)
    seconds = max_call_seconds(rate, budget, 10 * HOUR)
    assert call_cost_micro(rate, seconds) <= budget
    if 0 < seconds < 10 * HOUR:
        assert call_cost_micro(rate, seconds + increment) > budget
