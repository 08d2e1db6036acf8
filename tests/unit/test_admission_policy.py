"""The policy half of a call decision (admission.policy): pure table checks."""

from __future__ import annotations

import ipaddress

import pytest

from admission.policy import AccountPolicy, PolicyInput, parse_networks, policy_refusal, source_allowed
from admission.reasons import REASONS
from billing.numbering import classify


def decide(dialled: str, *, active=True, source="192.0.2.1", live=0, **policy) -> str | None:
    refusal = policy_refusal(PolicyInput(active, source, classify(dialled), live, AccountPolicy(**policy)))
    return refusal.code if refusal else None


@pytest.mark.parametrize("number", ["112", "116111", "0800123456"])
def test_always_free_numbers_pass_every_check(number):
    """Invariant 3: suspended, outside the allowlist, over the call limit — still connected."""
    assert decide(number, active=False, source="203.0.113.9", live=99, max_concurrent_calls=0,
                  allowed_networks=parse_networks("10.0.0.0/8")) is None


def test_suspended_account_is_refused_a_paid_call():
    assert decide("0212345678", active=False) == "account_suspended"


def test_inactive_account_is_refused_a_paid_call_with_its_own_reason():
    """Art. 7.1.1: an account inactive until its first invoice is paid is
    refused paid calls as ``account_inactive``, not as suspended."""
    refusal = policy_refusal(PolicyInput(False, "192.0.2.1", classify("0212345678"), 0, AccountPolicy(),
                                         account_inactive=True))
    assert refusal is not None and refusal.code == "account_inactive"


@pytest.mark.parametrize("number", ["112", "116111", "0800123456"])
def test_inactive_account_still_reaches_always_free_numbers(number):
    """Invariant 3: 112, 116xxx and 0800 connect while the account is inactive."""
    assert policy_refusal(PolicyInput(False, "192.0.2.1", classify(number), 0, AccountPolicy(),
                                      account_inactive=True)) is None


def test_invalid_number_is_refused():
    assert decide("12") == "invalid_number"


def test_premium_needs_the_account_switch():
    assert decide("0900123456") == "premium_not_enabled"
    assert decide("0900123456", premium_enabled=True) is None


def test_international_switch():
    assert decide("0049301234567", international_enabled=False) == "international_not_enabled"
    assert decide("0049301234567") is None


def test_blocked_prefix_matches_the_normalised_number():
    assert decide("+40 21 234 5678", blocked_prefixes=("4021",)) == "blocked_prefix"
    assert decide("0312345678", blocked_prefixes=("4021",)) is None


def test_concurrent_call_limit():
    assert decide("0212345678", live=1, max_concurrent_calls=2) is None
    assert decide("0212345678", live=2, max_concurrent_calls=2) == "too_many_calls"


def test_allowlist_accepts_addresses_and_networks_of_both_families():
    policy = AccountPolicy(allowed_networks=parse_networks("192.0.2.0/28, 2001:db8::1"))
    assert source_allowed(policy, "192.0.2.14")
    assert not source_allowed(policy, "192.0.2.16")
    assert source_allowed(policy, "2001:db8::1")
    assert not source_allowed(policy, "not-an-address")


def test_empty_allowlist_allows_any_source():
    assert source_allowed(AccountPolicy(), "203.0.113.1")


def test_bad_network_is_refused_with_the_entry():
    with pytest.raises(ValueError, match="300.1.1.1"):
        parse_networks("10.0.0.0/8 300.1.1.1")


def test_every_refusal_reason_has_a_cause_and_a_stock_sound():
    for code, reason in REASONS.items():
        assert reason.code == code
        assert reason.hangup_reason in {"rejected", "unallocated", "congestion", "busy", "normal"}
        assert 1 <= reason.q850_cause <= 127 and reason.sound
