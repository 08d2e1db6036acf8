"""How many seconds a call's budget pays for: the arithmetic a decision and
each extension share (invariant 2: never more than credit and the daily
limit allow)."""

from __future__ import annotations

from dataclasses import dataclass

from billing.authorisation import call_cost_micro, max_call_seconds
from billing.tariffs import Rate


@dataclass(frozen=True, slots=True)
class Chunk:
    """A call's grant after one more chunk: its total seconds and what its
    reservation must grow by, or the refusal code when nothing more fits."""

    seconds: int
    reserve_micro: int
    refusal: str | None = None


def next_chunk(
    rate: Rate, credit_micro: int, daily_micro: int, cap_seconds: int,
    *, held_seconds: int = 0, held_micro: int = 0,
) -> Chunk:
    """Return the call's grant up to ``cap_seconds`` in total.

    ``credit_micro`` and ``daily_micro`` are the account's budgets net of
    every live reservation (``billing.ledger.budgets_micro``), this call's
    own included: a call already holding ``held_micro`` for
    ``held_seconds`` gets it added back, and its reservation grows by the
    difference. A reservation holds at least one micro-euro (a free rate
    still reserves), so a new call's reservation is never empty and an
    extension that would add nothing is refused.
    """
    total = max_call_seconds(rate, min(credit_micro, daily_micro) + held_micro, cap_seconds)
    extra = max(call_cost_micro(rate, total), 1) - held_micro
    if total <= held_seconds or extra <= 0:
        refusal = "daily_limit_reached" if daily_micro < credit_micro else "insufficient_credit"
        return Chunk(held_seconds, 0, refusal)
    return Chunk(total, extra)
