"""Issue 13, item 3: repeated failed logins are locked out for a growing,
bounded time."""

from __future__ import annotations

from datetime import timedelta

from access.lockout import FIRST_LOCK, LONGEST_LOCK, THRESHOLD, LockoutPolicy


def test_fewer_failures_than_the_threshold_do_not_lock():
    """Four mistyped passwords in a row lock nothing."""
    assert all(LockoutPolicy().lock_after(n) is None for n in range(THRESHOLD))


def test_the_lock_doubles_with_each_further_failure():
    """30 s after the 5th failure, 60 s after the 6th, 120 s after the 7th."""
    policy = LockoutPolicy()
    assert [policy.lock_after(THRESHOLD + n) for n in range(3)] == [FIRST_LOCK, 2 * FIRST_LOCK, 4 * FIRST_LOCK]


def test_the_lock_is_bounded():
    """However many failures, a lock lasts at most 15 minutes."""
    assert LockoutPolicy().lock_after(10_000) == LONGEST_LOCK == timedelta(minutes=15)
