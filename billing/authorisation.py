"""How long may a call last on a budget? The rating rules run backwards.

CGRateS calls this a max usage: given a rate and a budget in micro-euros
(available credit, or what is left of the daily limit), return the longest
billable duration whose cost fits. Pure and exact: integer arithmetic on the
rate's precomputed scale, the same the rating kernel charges with, so a call
allowed for ``s`` seconds is never rated above its budget.
"""

from __future__ import annotations

from billing.rating import billable_seconds, cost_micro
from billing.tariffs import Rate


def call_cost_micro(rate: Rate, seconds: int) -> int:
    """Return what an answered call of ``seconds`` costs at ``rate`` (connect
    fee and first block included); 0 for 0 seconds."""
    billable = billable_seconds(seconds, rate.first_block, rate.increment)
    if billable == 0:
        return 0
    return rate.connect_fee_micro + cost_micro(rate, billable)


def max_call_seconds(rate: Rate, budget_micro: int, cap_seconds: int) -> int:
    """Return the longest duration (<= ``cap_seconds``) whose cost fits in
    ``budget_micro``; 0 when not even the first billable block fits.

    A free rate is limited only by the cap. The answer is a whole number of
    increments past the first block, so the call ends on a boundary it has
    paid for.
    """
    if cap_seconds <= 0 or budget_micro < 0:
        return 0
    if call_cost_micro(rate, cap_seconds) <= budget_micro:
        return cap_seconds
    # Billable durations lie on a grid: the first block, then whole increments.
    first = rate.first_block if rate.first_block > 0 else rate.increment
    if call_cost_micro(rate, first) > budget_micro:
        return 0
    # cost(s) = fee + (a*s + h) // d <= budget  <=>  a*s + h < (budget - fee + 1) * d
    limit = ((budget_micro - rate.connect_fee_micro + 1) * rate.scale_d - rate.scale_h - 1) // rate.scale_a
    seconds = min(limit, cap_seconds)
    return rate.first_block + (seconds - rate.first_block) // rate.increment * rate.increment
