"""Exact money: integer micro-units, one rounding rule in one place."""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import money


@pytest.mark.parametrize(
    "numerator, denominator, expected",
    [(1, 2, 1), (3, 2, 2), (5, 2, 3), (1, 3, 0), (2, 3, 1), (-1, 2, -1), (-5, 2, -3), (0, 7, 0)],
)
def test_round_half_up_rounds_ties_away_from_zero(numerator, denominator, expected):
    """Rounding policy: half-up (ties away from zero), never banker's rounding."""
    assert money.round_half_up(numerator, denominator) == expected


@given(st.integers(-10**12, 10**12), st.integers(1, 10**9))
def test_round_half_up_matches_decimal_half_up(numerator, denominator):
    """The integer rule equals Decimal's ROUND_HALF_UP."""
    expected = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert money.round_half_up(numerator, denominator) == int(expected)


@given(
    st.decimals(min_value=0, max_value=1000, places=8, allow_nan=False, allow_infinity=False),
    st.integers(1, 3600),
    st.integers(0, 10**6),
)
def test_scaler_is_round_half_up_of_the_exact_product(price, per, quantity):
    """The hot path's (a*x + h) // d is exactly round_half_up(price × x / per) in µ-units."""
    exact = Fraction(price) * quantity * 1_000_000 / per
    numerator, denominator = exact.numerator, exact.denominator
    assert money.scaler_for(price, per).apply(quantity) == money.round_half_up(numerator, denominator)


def test_amounts_with_more_than_six_decimals_cannot_be_exact_micro_units():
    """Per-unit prices must be whole micro-euros so that price × count never rounds."""
    with pytest.raises(money.MoneyError):
        money.to_micro_exact(Decimal("0.0000001"))
    assert money.to_micro_exact(Decimal("0.04")) == 40_000


@pytest.mark.parametrize("micro, text", [(0, "0.000000"), (10_167, "0.010167"), (1_500_000, "1.500000"), (-5, "-0.000005")])
def test_micro_amounts_format_with_exactly_six_decimals(micro, text):
    """Amounts print as EUR with exactly 6 decimals."""
    assert money.format_micro(micro) == text


def test_from_micro_is_an_exact_decimal():
    """Micro-units convert back to Decimal without loss."""
    assert money.from_micro(10_167) == Decimal("0.010167")
