"""Who, from where, where to, how many: the policy half of a call decision.

Pure: plain data in, a refusal reason (or None) out. The credit half
(how long) is in :mod:`admission.service`, on billing's reservations.

Order of checks, each a row of ``_CHECKS``: the always-free classes (112,
116xxx, 0800 — invariant 3) are connected before anything else is asked,
so neither a suspension, nor the allowlist, nor the concurrent-call limit
can keep a subscriber from emergency services.

What a policy may hold is also said here, once for every surface that
changes it (:func:`policy_changes`: at most 100 allowed networks, no CIDR
with host bits set, at most 1,000 blocked prefixes of E.164 digits, a call
limit from 0 to 1,000); a bad value raises :class:`InvalidPolicyError`
naming the field. Storing the change is :mod:`admission.service`'s.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
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

MAX_CONCURRENT_CALLS = 1000
MAX_ALLOWED_NETWORKS = 100  # each becomes a line of pjsip.conf
MAX_BLOCKED_PREFIXES = 1000
# [0-9], not \d: "١" is a digit to \d
_PREFIX = re.compile(r"[0-9]{1,15}")


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
    account_inactive: bool = False
    """Not active yet: its first (one-off) invoice is unpaid (art. 7.1.1)."""


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


class InvalidPolicyError(ValueError):
    """A policy field's new value breaks its rule; ``field`` says which, the
    message names the bad entry."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _shown(value: object, length: int = 40) -> str:
    """``repr(value)``, cut to ``length`` so a message never echoes megabytes."""
    text = repr(value)
    return text if len(text) <= length else f"{text[:length - 1]}…"


def _bounded_items(field: str, value: Iterable[str] | str, maximum: int) -> list[object]:
    """The entries of a list, or of one string separated by commas or
    spaces; at most ``maximum`` of them (InvalidPolicyError naming ``field``)."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    if len(items) > maximum:
        raise InvalidPolicyError(field, f"at most {maximum} entries, not {len(items)}")
    return items


def parse_allowed_networks(value: Iterable[str] | str) -> tuple[Network, ...]:
    """Return the networks of addresses and CIDRs (a list, or one string
    separated by commas or spaces; at most 100, duplicates dropped); raise
    InvalidPolicyError naming the bad entry. A CIDR with host bits set is
    refused rather than silently widened."""
    networks: dict[Network, None] = {}  # a dict: ordered, and O(1) to find a duplicate
    for item in _bounded_items("allowed_networks", value, MAX_ALLOWED_NETWORKS):
        if not isinstance(item, str):
            raise InvalidPolicyError("allowed_networks", f"not an address or CIDR: {_shown(item)}")
        try:
            network = ipaddress.ip_network(item.strip(), strict=True)
        except ValueError as exc:
            raise InvalidPolicyError(
                "allowed_networks", f"{_shown(item)} is not a valid address or CIDR ({_shown(str(exc), 80)})"
            ) from exc
        networks[network] = None
    return tuple(networks)


def parse_blocked_prefixes(value: Iterable[str] | str) -> tuple[str, ...]:
    """Return prefixes of normalised numbers (1 to 15 digits, e.g. ``4021``;
    at most 1,000, duplicates dropped); raise InvalidPolicyError naming the
    bad entry."""
    prefixes: dict[str, None] = {}
    for item in _bounded_items("blocked_prefixes", value, MAX_BLOCKED_PREFIXES):
        if not isinstance(item, str) or not _PREFIX.fullmatch(item):
            raise InvalidPolicyError(
                "blocked_prefixes", f"{_shown(item)} is not a prefix of E.164 digits (like 4021 or 40900)")
        prefixes[item] = None
    return tuple(prefixes)


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidPolicyError(field, f"must be true or false, not {_shown(value)}")
    return value


def _call_limit(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_CONCURRENT_CALLS:
        raise InvalidPolicyError("max_concurrent_calls",
                                 f"must be a whole number from 0 to {MAX_CONCURRENT_CALLS}, not {_shown(value)}")
    return value


def policy_changes(
    *,
    allowed_networks: Iterable[str] | str | None = None,
    premium_enabled: object = None,
    international_enabled: object = None,
    blocked_prefixes: Iterable[str] | str | None = None,
    max_concurrent_calls: object = None,
) -> dict[str, object]:
    """Return the checked new values of the fields given (None: keep), as
    :class:`AccountPolicy` field names, for ``dataclasses.replace``; raise
    InvalidPolicyError naming the first bad field. ``allowed_networks``:
    addresses or CIDRs, an empty list meaning calls from anywhere."""
    changes: dict[str, object] = {}
    if allowed_networks is not None:
        changes["allowed_networks"] = parse_allowed_networks(allowed_networks)
    if premium_enabled is not None:
        changes["premium_enabled"] = _flag("premium_enabled", premium_enabled)
    if international_enabled is not None:
        changes["international_enabled"] = _flag("international_enabled", international_enabled)
    if blocked_prefixes is not None:
        changes["blocked_prefixes"] = parse_blocked_prefixes(blocked_prefixes)
    if max_concurrent_calls is not None:
        changes["max_concurrent_calls"] = _call_limit(max_concurrent_calls)
    return changes


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
    ("account_inactive", lambda c: c.account_inactive),
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
