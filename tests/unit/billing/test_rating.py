"""The rating kernel: billable seconds, call costs, included minutes."""

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.rating import (
    BundleShare,
    CallToRate,
    RatedCall,
    UnratableCall,
    billable_seconds,
    classify_and_rate,
    cost_micro,
    call_rater,
    rate_call,
    rate_calls_with_bundle,
    rate_sms,
    split_by_bundle,
)
from billing.tariffs import SMS, Plan, Rate, Tariff, default_tariff

T0 = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
OUR_DIDS = frozenset({"40312345678"})
FIXED = Rate("ro_fixed", Decimal("0.01"))
MOBILE = Rate("ro_mobile", Decimal("0.025"))


@pytest.mark.parametrize(
    "billsec, billable", [(0, 0), (1, 60), (59, 60), (60, 60), (61, 61), (3600, 3600)]
)
def test_first_minute_is_charged_whole_then_per_second(billsec, billable):
    """Contract: billable seconds = 60 when 0 < billsec <= 60, otherwise billsec."""
    assert billable_seconds(billsec) == billable


@pytest.mark.parametrize(
    "billsec, first_block, increment, billable",
    [(1, 30, 6, 30), (31, 30, 6, 36), (36, 30, 6, 36), (37, 30, 6, 42), (1, 0, 60, 60), (61, 0, 60, 120)],
)
def test_other_blocks_and_increments_round_up_to_whole_increments(
    billsec, first_block, increment, billable
):
    """A rate's first block and increment are data (CGRateS-style intervals)."""
    assert billable_seconds(billsec, first_block, increment) == billable


# Annex B examples: (dialled, billsec) -> cost in EUR, VAT excluded.
ANNEX_B_EXAMPLES = [
    ("0212345678", 1, "0.010000"),
    ("0212345678", 59, "0.010000"),
    ("0212345678", 60, "0.010000"),
    ("0212345678", 61, "0.010167"),  # 0.01 × 61/60 = 0.0101666… → half-up
    ("0212345678", 3600, "0.600000"),
    ("0721234567", 1, "0.025000"),
    ("0721234567", 59, "0.025000"),
    ("0721234567", 60, "0.025000"),
    ("0721234567", 61, "0.025417"),  # 0.025 × 61/60 = 0.0254166…
    ("0721234567", 3600, "1.500000"),
    *[(n, s, "0.000000") for n in ("0312345678", "0800123456", "112", "116111") for s in (1, 59, 60, 61, 3600)],
]


@pytest.mark.parametrize("dialled, billsec, cost_eur", ANNEX_B_EXAMPLES)
def test_annex_b_call_costs(dialled, billsec, cost_eur):
    """Annex B × first-minute rule: fixed 0.01, mobile 0.025, on-net/0800/112/116 free."""
    _, rated = classify_and_rate(dialled, billsec, True, T0, default_tariff(), OUR_DIDS)
    assert rated.cost_micro == int(Decimal(cost_eur) * 1_000_000)


@pytest.mark.parametrize("dialled", ["0212345678", "0721234567", "+4930123456"])
def test_unanswered_calls_cost_nothing(dialled):
    """Contract: calls not answered cost nothing."""
    _, rated = classify_and_rate(dialled, 0, False, T0, default_tariff())
    assert rated.cost_micro == 0 and rated.billable_seconds == 0


def test_an_unanswered_call_with_billsec_still_costs_nothing():
    """Only answered calls are charged, whatever billsec says."""
    assert rate_call(FIXED, 120, answered=False).cost_micro == 0


def test_an_unanswered_call_to_an_invalid_number_is_not_an_error():
    """Nothing to charge means nothing to refuse."""
    c, rated = classify_and_rate("abc", 0, False, T0, default_tariff())
    assert c.number_class == "invalid" and rated.cost_micro == 0


def test_an_answered_call_to_an_invalid_number_cannot_be_rated():
    """A call with something to charge and no valid destination is an error, with its reason."""
    with pytest.raises(UnratableCall, match="invalid number"):
        classify_and_rate("0812345678", 30, True, T0, default_tariff())


def test_an_answered_call_to_a_barred_destination_cannot_be_rated():
    """No rate in the plan: the reason names the class and the plan."""
    with pytest.raises(UnratableCall, match="no rate for premium .* annex_b"):
        classify_and_rate("0900123456", 30, True, T0, default_tariff())


def test_a_call_before_any_plan_version_cannot_be_rated():
    """The plan version is picked at the call's start; none in effect is an error."""
    with pytest.raises(UnratableCall, match="no tariff plan in effect"):
        classify_and_rate("0212345678", 30, True, datetime(2020, 1, 1, tzinfo=timezone.utc), default_tariff())


def test_the_plan_version_at_the_call_start_prices_the_call():
    """A call is rated at the version in effect when it started."""
    old = Plan("p", "1", T0 - timedelta(days=30), T0, (Rate("ro_fixed", Decimal("0.01")),))
    new = Plan("p", "2", T0, None, (Rate("ro_fixed", Decimal("0.02")),))
    tariff = Tariff([old, new])
    _, before = classify_and_rate("0212345678", 60, True, T0 - timedelta(seconds=1), tariff)
    _, after = classify_and_rate("0212345678", 60, True, T0, tariff)
    assert (before.cost_micro, after.cost_micro) == (10_000, 20_000)


def test_cost_is_rounded_once_half_up_to_the_micro_euro():
    """Rounding policy: price × seconds / 60 exact, then half-up once."""
    rate = Rate("ro_fixed", Decimal("0.000001"))  # 1 µ€/min
    assert cost_micro(rate, 30) == 1  # 0.5 µ€ → 1
    assert cost_micro(rate, 29) == 0  # 0.483 µ€ → 0
    assert cost_micro(rate, 90) == 2  # 1.5 µ€ → 2


def test_connect_fee_is_added_to_answered_calls_only():
    """A connect fee is per answered call, whole micro-euros, outside the rounding."""
    rate = Rate("ro_fixed", Decimal("0.01"), connect_fee_eur=Decimal("0.05"))
    assert rate_call(rate, 61).cost_micro == 50_000 + 10_167
    assert rate_call(rate, 0).cost_micro == 0


def test_sms_cost_is_price_times_messages():
    """Annex B: SMS to Romanian mobile 0.04 EUR per message."""
    rate = Rate("ro_mobile", Decimal("0.04"), SMS)
    assert rate_sms(rate, 3) == 120_000


def test_call_rater_returns_none_for_an_unratable_call():
    """The bulk kernel reports unratable calls as None (no exception on the hot path)."""
    rate = call_rater(default_tariff(), OUR_DIDS)
    assert rate("0900123456", 30, True, T0) is None
    assert rate("0212345678", 61, True, T0).cost_micro == 10_167


# -- included minutes ---------------------------------------------------------


def test_a_call_crossing_the_end_of_the_bundle_is_split_at_the_exact_second():
    """Contract: a call that crosses the end of the included minutes is split at the exact second."""
    assert split_by_bundle([100, 130, 50], 200) == [
        BundleShare(100, 0),
        BundleShare(100, 30),
        BundleShare(0, 50),
    ]


def test_the_charged_part_of_a_split_call_is_priced_per_second():
    """Beyond the bundle the tariff applies, per second, to the seconds left."""
    rated = rate_call(MOBILE, 130, included_available=100)
    assert (rated.included_seconds, rated.charged_seconds) == (100, 30)
    assert rated.cost_micro == 12_500  # 0.025 × 30 / 60


def test_a_short_call_uses_a_whole_first_minute_of_the_bundle():
    """Included minutes are consumed by billable seconds: first minute whole."""
    assert rate_call(FIXED, 5, included_available=3600) == RatedCall(60, 60, 0, 0, "ro_fixed")


def test_included_minutes_are_used_in_order_of_call_start():
    """Contract: national traffic uses the month's included minutes first, in order of call start."""
    later = CallToRate(T0 + timedelta(hours=1), "ro_mobile", MOBILE, 120)
    earlier = CallToRate(T0, "ro_fixed", FIXED, 120)
    first, second = rate_calls_with_bundle([later, earlier], included_seconds=120)
    assert (second.included_seconds, second.cost_micro) == (120, 0)  # earlier call
    assert (first.included_seconds, first.cost_micro) == (0, 50_000)  # later call, full price


def test_only_national_traffic_uses_included_minutes():
    """International and other classes are charged at the tariff, leaving the bundle intact."""
    abroad = CallToRate(T0, "international", Rate("49", Decimal("0.02")), 60)
    home = CallToRate(T0 + timedelta(minutes=5), "ro_fixed", FIXED, 60)
    rated_abroad, rated_home = rate_calls_with_bundle([abroad, home], included_seconds=60)
    assert rated_abroad.included_seconds == 0 and rated_abroad.cost_micro == 20_000
    assert rated_home.included_seconds == 60 and rated_home.cost_micro == 0


def test_unanswered_calls_use_no_included_minutes():
    """An unanswered call has no billable seconds and leaves the bundle alone."""
    missed = CallToRate(T0, "ro_fixed", FIXED, 0, answered=False)
    answered = CallToRate(T0 + timedelta(minutes=1), "ro_fixed", FIXED, 60)
    _, rated = rate_calls_with_bundle([missed, answered], included_seconds=60)
    assert rated.included_seconds == 60


# -- properties -----------------------------------------------------------------

prices = st.decimals(min_value=0, max_value=100, places=7, allow_nan=False, allow_infinity=False)
rates = st.builds(
    lambda p, fb, inc: Rate("ro_fixed", p, "voice", fb, inc),
    prices,
    st.integers(0, 120),
    st.integers(1, 60),
)


@given(rates, st.integers(0, 100_000), st.integers(0, 100_000))
def test_cost_never_decreases_with_duration(rate, a, b):
    """A longer call never costs less."""
    short, long_ = sorted((a, b))
    assert rate_call(rate, short).cost_micro <= rate_call(rate, long_).cost_micro


@given(rates, st.integers(1, 100_000))
def test_integer_cost_equals_the_decimal_definition(rate, billsec):
    """cost = price × billable / 60 in Decimal, rounded half-up once to 6 places."""
    rated = rate_call(rate, billsec)
    exact = rate.price_eur * billable_seconds(billsec, rate.first_block, rate.increment) / 60
    expected = (exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP) * 1_000_000)
    assert rated.cost_micro == int(expected)


@given(st.lists(st.integers(0, 10_000), max_size=50), st.integers(0, 200_000))
def test_included_plus_charged_is_billable_for_every_call(billables, included):
    """Splitting never creates or loses a second; the bundle is never overdrawn."""
    shares = split_by_bundle(billables, included)
    assert [s.included_seconds + s.charged_seconds for s in shares] == billables
    assert all(s.included_seconds >= 0 and s.charged_seconds >= 0 for s in shares)
    assert sum(s.included_seconds for s in shares) == min(included, sum(billables))


@given(st.lists(st.integers(0, 10_000), max_size=50), st.integers(0, 200_000))
def test_no_call_is_charged_while_an_earlier_call_left_bundle_unused(billables, included):
    """In start order: once a call pays, every later call pays in full."""
    shares = split_by_bundle(billables, included)
    paying = [i for i, s in enumerate(shares) if s.charged_seconds > 0]
    if paying:
        assert all(s.included_seconds == 0 for s in shares[paying[0] + 1 :])


@given(rates, st.integers(0, 10_000), st.integers(0, 10_000))
def test_rated_call_seconds_add_up(rate, billsec, available):
    """billable = included + charged, and included never exceeds what was available."""
    rated = rate_call(rate, billsec, True, available)
    assert rated.billable_seconds == rated.included_seconds + rated.charged_seconds
    assert rated.included_seconds <= available
