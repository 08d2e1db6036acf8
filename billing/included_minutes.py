"""Included minutes as pools: which of a month's pools a call draws from.

A month's included minutes (contract art. 7.4–7.5: "minute incluse",
consumed in call order, never carried over) are one pool per destination
group of the service plans in force (:data:`billing.service_plans.DESTINATION_GROUPS`):
``national`` (fixed and mobile together, the contract's own), or
``ro_fixed``, ``ro_mobile``, ``on_net``, ``international`` when a plan
includes minutes for them apart. An account on no plan has its own
``included_seconds``, a ``national`` pool.

A call draws from the pool of the most specific group that includes its
number class (a month with both a ``ro_mobile`` and a ``national`` pool,
after a change of plan, spends ``ro_mobile`` seconds first on mobile calls
and ``national`` on fixed ones); a call of a class no pool includes draws
nothing. Ingestion and re-rating keep ``bundle_usage`` per account, month
and group.
"""

from __future__ import annotations

from collections.abc import Mapping

from billing.service_plans import DESTINATION_GROUPS, NATIONAL

# most specific first: a group of one class before a group of several
_DRAW_ORDER = sorted(DESTINATION_GROUPS, key=lambda group: len(DESTINATION_GROUPS[group]))


class Pool:
    """The seconds left of one group's included minutes in one month."""

    __slots__ = ("group", "left")

    def __init__(self, group: str, left: int) -> None:
        self.group = group
        self.left = left

    def __repr__(self) -> str:
        return f"Pool({self.group!r}, {self.left})"


def own_allowance(included_seconds: int) -> dict[str, int]:
    """An account's own included seconds (no plan) as its groups' seconds: national."""
    return {NATIONAL: included_seconds} if included_seconds else {}


def pools_by_class(included: Mapping[str, int], used: Mapping[str, int]) -> dict[str, Pool]:
    """Return number class → the :class:`Pool` its calls draw from, for a
    month with ``included`` seconds per group of which ``used`` are spent.

    Classes of one group share one pool object, so a call of one class
    leaves less for the others. Groups with nothing included give no pool.
    """
    by_class: dict[str, Pool] = {}
    for group in _DRAW_ORDER:
        seconds = included.get(group, 0)
        if not seconds:
            continue
        pool = Pool(group, seconds - used.get(group, 0))
        for number_class in DESTINATION_GROUPS[group]:
            by_class.setdefault(number_class, pool)
    return by_class


def pool_group(included: Mapping[str, int], number_class: str) -> str | None:
    """Return the group whose pool a call of ``number_class`` draws from, or None."""
    for group in _DRAW_ORDER:
        if included.get(group) and number_class in DESTINATION_GROUPS[group]:
            return group
    return None
