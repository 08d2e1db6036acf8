"""Why a call is refused, and what the caller hears: one table.

Each reason carries the hangup cause Asterisk is given (ARI's hangup
``reason`` word and its Q.850 code, which the caller's phone shows and the
CDR keeps) and the stock announcement played before the hangup. Reasons
that concern the subscriber's own security (wrong source address) give the
same answer as "no service" so a fraudster learns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RefusalReason:
    code: str
    hangup_reason: str  # ARI DELETE /channels/{id}?reason=...
    q850_cause: int
    sound: str  # stock prompt in Asterisk's core sounds
    text: str


_REASONS = (
    RefusalReason("unknown_endpoint", "rejected", 21, "ss-noservice", "no account behind this endpoint"),
    RefusalReason("source_not_allowed", "rejected", 21, "ss-noservice", "source address not in the account's allowlist"),
    RefusalReason("account_suspended", "rejected", 21, "ss-noservice", "account suspended: only free emergency and toll-free calls"),
    RefusalReason("account_inactive", "rejected", 21, "ss-noservice", "account not active until its first invoice is paid: only free emergency and toll-free calls"),
    RefusalReason("invalid_number", "unallocated", 1, "ss-noservice", "the dialled number is not a valid number"),
    RefusalReason("premium_not_enabled", "rejected", 21, "cannot-complete-as-dialed", "premium-rate numbers are not enabled for this account"),
    RefusalReason("international_not_enabled", "rejected", 21, "cannot-complete-as-dialed", "international calls are not enabled for this account"),
    RefusalReason("blocked_prefix", "rejected", 21, "cannot-complete-as-dialed", "the destination is blocked for this account"),
    RefusalReason("no_rate", "rejected", 21, "cannot-complete-as-dialed", "the destination has no rate in the account's tariff"),
    RefusalReason("too_many_calls", "congestion", 34, "all-circuits-busy-now", "the account's concurrent-call limit is reached"),
    RefusalReason("insufficient_credit", "rejected", 21, "cannot-complete-as-dialed", "not enough credit for the first billable block"),
    RefusalReason("daily_limit_reached", "rejected", 21, "cannot-complete-as-dialed", "the account's daily spend limit is reached"),
    RefusalReason("unavailable", "congestion", 34, "all-circuits-busy-now", "the control plane cannot decide now"),
)

REASONS: dict[str, RefusalReason] = {reason.code: reason for reason in _REASONS}


def reason(code: str) -> RefusalReason:
    """Return the refusal reason named ``code`` (KeyError if unknown)."""
    return REASONS[code]
