"""How long a failed email waits before its next attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.outbox import RetryPolicy

NO_JITTER = RetryPolicy(
    first_delay=timedelta(seconds=30), max_delay=timedelta(hours=1), jitter=0
)


def test_the_first_retry_waits_the_first_delay() -> None:
    assert NO_JITTER.delay_after(1, 0.5) == timedelta(seconds=30)


def test_each_failure_doubles_the_delay() -> None:
    delays = [NO_JITTER.delay_after(n, 0.0) for n in range(1, 6)]

    assert delays == [timedelta(seconds=30 * 2**k) for k in range(5)]


def test_the_delay_is_capped() -> None:
    assert NO_JITTER.delay_after(8, 0.0) == timedelta(hours=1)
    assert NO_JITTER.delay_after(10_000, 0.0) == timedelta(hours=1)


@given(failures=st.integers(1, 200), fraction=st.floats(0, 1, exclude_max=True))
def test_jitter_only_shortens_the_delay_and_by_at_most_its_share(
    failures: int, fraction: float
) -> None:
    """Emails that failed together spread out, and the cap stays a cap."""
    policy = RetryPolicy(jitter=0.25)
    plain = RetryPolicy(jitter=0).delay_after(failures, 0)

    delay = policy.delay_after(failures, fraction)

    assert plain * 0.75 <= delay <= plain <= policy.max_delay


def test_the_default_policy_keeps_retrying_for_about_two_days() -> None:
    """SMTP down over a weekend night delays email; it does not kill it."""
    policy = RetryPolicy()
    total = sum((policy.delay_after(n, 0) for n in range(1, policy.max_attempts)), timedelta())

    assert timedelta(days=1.5) < total < timedelta(days=2.5)


@pytest.mark.parametrize(
    "changes",
    [
        {"max_attempts": 0},
        {"first_delay": timedelta(0)},
        {"max_delay": timedelta(seconds=1), "first_delay": timedelta(seconds=2)},
        {"jitter": 1.0},
        {"lease": timedelta(0)},
    ],
)
def test_a_policy_that_cannot_work_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**changes)  # type: ignore[arg-type]
