"""The rating kernel: billable seconds, call cost, included-minutes split.

Pure functions over plain data, called for every CDR (and by admission for
every call), so the hot path is integer arithmetic on values each
:class:`~billing.tariffs.Rate` precomputed.

Contract rules held here
    * An answered call is charged for its first block whole, then per
      increment: with the contract's 60/1, billable = 60 when
      0 < billsec <= 60, else billsec. Unanswered calls (and ``billsec == 0``)
      cost nothing.
    * Cost = connect fee + ``price_eur_per_minute × charged_seconds / 60``,
      the second term computed exactly and rounded **once, half-up, to the
      micro-euro** (policy and proof of the integer form in
      :mod:`billing.money`). Costs are ``int`` micro-euros.
    * Included minutes: a call uses the month's included seconds of its
      destination group first (national traffic, :data:`BUNDLE_CLASSES`, for
      the contract's "minute incluse"; a plan may include other groups'
      apart: :mod:`billing.included_minutes`), in order of call start; a call that
      crosses the end of the bundle is split at the exact (billable) second,
      the rest charged per second at the rate. The connect fee is not covered
      by the bundle. Unused seconds are not carried over: a bundle is one
      month's, the caller passes one month's calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from billing.numbering import (
    INVALID,
    RO_FIXED,
    RO_MOBILE,
    Classification,
    NumberingPlan,
    OnNet,
    default_numbering_plan,
)
from billing.tariffs import Plan, Rate, Tariff

BUNDLE_CLASSES: frozenset[str] = frozenset({RO_FIXED, RO_MOBILE})
"""Classes whose traffic uses a subscription's included minutes (national traffic)."""


class RatedCall(NamedTuple):
    """The outcome of rating one call.

    ``billable_seconds == included_seconds + charged_seconds``; ``cost_micro``
    is in micro-euros; ``destination`` is the key of the rate used.
    """

    billable_seconds: int
    included_seconds: int
    charged_seconds: int
    cost_micro: int
    destination: str


_new = tuple.__new__  # NamedTuple.__new__ is a Python-level call; this is not.


class BundleShare(NamedTuple):
    """How one call's billable seconds split between the bundle and the tariff."""

    included_seconds: int
    charged_seconds: int


class UnratableCall(ValueError):
    """A call that has something to charge but cannot be rated; ``reason`` says why."""

    def __init__(self, reason: str, classification: Classification | None = None):
        self.reason = reason
        self.classification = classification
        super().__init__(reason)


def billable_seconds(billsec: int, first_block: int = 60, increment: int = 1) -> int:
    """Return the seconds charged for a call that lasted ``billsec`` answered seconds.

    ``first_block`` seconds whole, then rounded up to whole ``increment``s;
    0 when ``billsec <= 0``.
    """
    if billsec <= 0:
        return 0
    if billsec <= first_block:
        return first_block
    if increment == 1:
        return billsec
    return first_block - ((first_block - billsec) // increment) * increment


def rate_call(
    rate: Rate, billsec: int, answered: bool = True, included_available: int = 0
) -> RatedCall:
    """Return the :class:`RatedCall` for one call at ``rate``.

    ``included_available`` is what is left of the month's included seconds
    that this call's class draws from (0 when no pool includes it); the
    result says how much of it this call used.
    """
    if not answered or billsec <= 0:
        return _new(RatedCall, (0, 0, 0, 0, rate.destination))
    first_block = rate.first_block
    if billsec <= first_block:
        billable = first_block
    elif rate.increment == 1:
        billable = billsec
    else:
        increment = rate.increment
        billable = first_block - ((first_block - billsec) // increment) * increment
    if included_available > 0:
        included = billable if billable < included_available else included_available
        charged = billable - included
    else:
        included = 0
        charged = billable
    # billing.money.Scaler.apply inlined: round_half_up(price × charged / 60 µ€).
    cost = rate.connect_fee_micro + (rate.scale_a * charged + rate.scale_h) // rate.scale_d
    return _new(RatedCall, (billable, included, charged, cost, rate.destination))


def cost_micro(rate: Rate, charged_seconds: int) -> int:
    """Return the cost in micro-euros of ``charged_seconds`` at ``rate`` (no fee, no first block)."""
    return (rate.scale_a * charged_seconds + rate.scale_h) // rate.scale_d


def rate_sms(rate: Rate, messages: int = 1) -> int:
    """Return the cost in micro-euros of ``messages`` SMS at ``rate`` (exact: prices are whole µ€)."""
    if rate.price_micro < 0:
        raise ValueError(f"{rate.destination} is a voice rate, not an SMS rate")
    return rate.price_micro * messages


def bundle_share(billable: int, remaining: int) -> BundleShare:
    """Return the split of ``billable`` seconds when ``remaining`` included seconds are left."""
    included = billable if billable < remaining else max(remaining, 0)
    return BundleShare(included, billable - included)


def split_by_bundle(
    billable_in_start_order: Iterable[int], included_seconds: int
) -> list[BundleShare]:
    """Return each call's ``(included_seconds, charged_seconds)``, using the bundle in order.

    ``billable_in_start_order`` are the billable seconds of one month's
    bundle-eligible calls, sorted by call start. The call that crosses the
    end of the bundle is split at the exact second.
    """
    remaining = included_seconds
    shares = []
    for billable in billable_in_start_order:
        share = bundle_share(billable, remaining)
        remaining -= share.included_seconds
        shares.append(share)
    return shares


@dataclass(frozen=True, slots=True)
class CallToRate:
    """Plain data for :func:`rate_calls_with_bundle`: one call of one month."""

    start: datetime
    number_class: str
    rate: Rate
    billsec: int
    answered: bool = True


def rate_calls_with_bundle(
    calls: Sequence[CallToRate],
    included_seconds: int,
    bundle_classes: frozenset[str] = BUNDLE_CLASSES,
) -> list[RatedCall]:
    """Return the :class:`RatedCall` of each of one month's calls, in the input order.

    The month's ``included_seconds`` go to ``bundle_classes`` calls in order
    of call start (ties keep input order); other calls are charged in full.
    """
    results: list[RatedCall | None] = [None] * len(calls)
    remaining = included_seconds
    for i in sorted(range(len(calls)), key=lambda k: calls[k].start):
        call = calls[i]
        available = remaining if call.number_class in bundle_classes else 0
        rated = rate_call(call.rate, call.billsec, call.answered, available)
        remaining -= rated.included_seconds
        results[i] = rated
    return results  # type: ignore[return-value]


def classify_and_rate(
    dialled: str,
    billsec: int,
    answered: bool,
    start: datetime,
    tariff: Tariff | Plan,
    on_net: OnNet = frozenset(),
    numbering: NumberingPlan | None = None,
    included_available: int = 0,
) -> tuple[Classification, RatedCall]:
    """Classify ``dialled`` and rate the call under the plan in effect at ``start``.

    A call with nothing to charge (unanswered or ``billsec <= 0``) costs 0
    even when its number is invalid or unpriced. Otherwise raise
    :class:`UnratableCall` when the number is invalid, no plan version is in
    effect, or the plan has no rate for the destination (barred).
    """
    classification = (numbering or default_numbering_plan()).classify(dialled, on_net)
    if not answered or billsec <= 0:
        return classification, _NOTHING_TO_CHARGE
    if classification.number_class == INVALID:
        raise UnratableCall(f"invalid number: {classification.reason}", classification)
    plan = tariff.plan_at(start)
    if plan is None:
        raise UnratableCall(f"no tariff plan in effect at {start.isoformat()}", classification)
    rate = plan.voice_rate(classification)
    if rate is None:
        raise UnratableCall(
            f"no rate for {classification.number_class}"
            f" {classification.prefix or classification.normalised} in {plan.label}",
            classification,
        )
    return classification, rate_call(rate, billsec, answered, included_available)


_NOTHING_TO_CHARGE = RatedCall(0, 0, 0, 0, "")


def call_rater(
    tariff: Tariff | Plan, on_net: OnNet = frozenset(), numbering: NumberingPlan | None = None
) -> Callable[[str, int, bool, datetime], RatedCall | None]:
    """Return a fast ``f(dialled, billsec, answered, start) -> RatedCall | None`` (None: unratable).

    Binds the numbering plan, on-net set and tariff once; this is what the
    benchmark measures and what bulk callers should use.
    """
    classify = (numbering or default_numbering_plan()).classify
    plan_at = tariff.plan_at

    def rate(dialled: str, billsec: int, answered: bool, start: datetime) -> RatedCall | None:
        c = classify(dialled, on_net)
        if not answered or billsec <= 0:
            return _NOTHING_TO_CHARGE
        if c.number_class == INVALID:
            return None
        plan = plan_at(start)
        if plan is None:
            return None
        r = plan.voice_rate(c)
        if r is None:
            return None
        return rate_call(r, billsec)

    return rate
