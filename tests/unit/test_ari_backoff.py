"""The ARI reconnect schedule: bounded, jittered, capped, never zero."""

from __future__ import annotations

import itertools
import random

import pytest

from ari_app.backoff import Backoff


def delays(backoff: Backoff, count: int) -> list[float]:
    return [backoff.next_delay() for _ in range(count)]


def test_nominal_delays_double_from_a_quarter_second_up_to_two_seconds():
    backoff = Backoff(rand=lambda: 0.0)  # no jitter drawn: the nominal schedule
    assert delays(backoff, 6) == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_no_delay_exceeds_the_cap():
    """The cap is what bounds reconnecting to within 5 s of Asterisk's return."""
    backoff = Backoff(initial=0.25, maximum=2.0)
    assert max(delays(backoff, 1000)) <= 2.0


def test_every_delay_is_at_least_the_shortest_so_a_reconnect_loop_never_spins():
    backoff = Backoff(initial=0.25, maximum=2.0, jitter=0.5, rand=lambda: 0.999999)
    assert min(delays(backoff, 50)) >= backoff.shortest > 0.1


def test_delays_are_jittered_between_half_and_all_of_the_nominal_delay():
    backoff = Backoff(initial=0.25, maximum=2.0, jitter=0.5, rand=random.Random(7).random)
    capped = delays(backoff, 200)[4:]  # past the doubling, nominal is 2.0
    assert all(1.0 < d <= 2.0 for d in capped)
    assert len(set(capped)) > 100


def test_two_clients_drift_apart_rather_than_reconnect_in_lock_step():
    first = Backoff(rand=random.Random(1).random)
    second = Backoff(rand=random.Random(2).random)
    assert delays(first, 10) != delays(second, 10)


def test_reset_starts_again_from_the_initial_delay():
    backoff = Backoff(rand=lambda: 0.0)
    delays(backoff, 5)
    backoff.reset()
    assert backoff.next_delay() == 0.25


def test_the_worst_case_wait_after_asterisk_returns_stays_under_five_seconds():
    """Worst case: Asterisk returns just after an attempt failed; the next
    attempt comes after at most one (capped) delay."""
    backoff = Backoff()
    assert max(itertools.islice(iter(backoff.next_delay, None), 500)) < 5.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"initial": -1},
        {"initial": 1.0, "maximum": 0.5},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
    ],
)
def test_a_schedule_that_could_spin_or_never_grow_is_refused(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)
