"""Who, from where, where to, how many: the policy half of a call decision.

Pure: plain data in, a refusal reason (or None) out. The credit half
(how long) is in :mod:`admission.service`, on billing's reservations.

Order of checks, each a row of ``_CHECKS``: the always-free classes (112,
116xxx, 0800 — invariant 3) are connected before anything else is asked,
so neither a suspension, nor the allowlist, nor the concurrent-call limit
can keep a subscriber from emergency services.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Callable

from billing.numbering import (
    ALWAYS_FREE_CLASSES,
    INTERNATIONAL,
    INVALID,
    ON_NET,
    PREMIUM,
    Classification,
)

from .reasons import RefusalReason, reason

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AccountPolicy:
    """An account's call policy (admission's table ``account_policies``)."""

    allowed_networks: tuple[Network, ...] = ()  # empty: any source address
    premium_enabled: bool = False
    international_enabled: bool = True
    blocked_prefixes: tuple[str, ...] = ()  # normalised-number prefixes
    max_concurrent_calls: int = 2


@dataclass(frozen=True)
class PolicyInput:
    """What the policy looks at for one call."""

    account_active: bool
    source_address: str
    destination: Classification
    live_calls: int
    policy: AccountPolicy = field(default_factory=AccountPolicy)


def parse_networks(text: str) -> tuple[Network, ...]:
    """Return the networks of a space- or comma-separated list of addresses
    and CIDRs; raise ValueError naming the bad entry."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an address or network: {item!r}") from exc
    return tuple(networks)


def source_allowed(policy: AccountPolicy, source_address: str) -> bool:
    """True when the policy has no allowlist or the address is in it."""
    if not policy.allowed_networks:
        return True
    try:
        address = ipaddress.ip_address(source_address.split("%", 1)[0])
    except ValueError:
        return False
    return any(address in network for network in policy.allowed_networks)


def is_always_free(number_class: str) -> bool:
    """True for 112, 116xxx and 0800: connected and free whatever the account's state."""
    return number_class in ALWAYS_FREE_CLASSES


_CHECKS: tuple[tuple[str, Callable[[PolicyInput], bool]], ...] = (
    # (reason code, refuse when)
    ("invalid_number", lambda c: c.destination.number_class == INVALID),
    ("account_suspended", lambda c: not c.account_active),
    ("source_not_allowed", lambda c: not source_allowed(c.policy, c.source_address)),
    ("premium_not_enabled", lambda c: c.destination.number_class == PREMIUM and not c.policy.premium_enabled),
    ("international_not_enabled",
     lambda c: c.destination.number_class == INTERNATIONAL and not c.policy.international_enabled),
    ("blocked_prefix",
     lambda c: c.destination.number_class != ON_NET
     and c.destination.normalised.startswith(c.policy.blocked_prefixes)),
    ("too_many_calls", lambda c: c.live_calls >= c.policy.max_concurrent_calls),
)


def policy_refusal(call: PolicyInput) -> RefusalReason | None:
    """Return why the policy refuses this call, or None if it may go ahead
    (credit still to be checked unless the destination is always free)."""
    if is_always_free(call.destination.number_class):
        return None
    for code, refuses in _CHECKS:
        if refuses(call):
            return reason(code)
    return None
