"""The JSON shapes of the admin API's answers, shared with the CLI's output.

Plain data out (no aiohttp here): money as decimal-euro strings with six
decimals, networks as their CIDR text.
"""

from __future__ import annotations

from typing import Any

from admission.policy import AccountPolicy
from billing.ledger import Account
from billing.money import format_micro


def euros(micro: int | None) -> str | None:
    """Micro-euros as the API writes money: decimal euros, six decimals, a string."""
    return None if micro is None else format_micro(micro)


def account_json(account: Account) -> dict[str, Any]:
    """The account as the admin API and the CLI show it."""
    return {
        "id": account.id, "code": account.code, "kind": account.kind, "status": account.status,
        "subscriber_id": account.subscriber_id, "credit_limit": euros(account.credit_limit_micro),
        "daily_limit": euros(account.daily_limit_micro), "tariff": account.tariff,
        "language": account.language,
    }


def policy_json(policy: AccountPolicy) -> dict[str, Any]:
    """The account's call policy as the admin API and the CLI show it."""
    return {
        "allowed_networks": [str(n) for n in policy.allowed_networks],
        "premium_enabled": policy.premium_enabled,
        "international_enabled": policy.international_enabled,
        "blocked_prefixes": list(policy.blocked_prefixes),
        "max_concurrent_calls": policy.max_concurrent_calls,
    }
