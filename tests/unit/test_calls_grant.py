"""When a connected call is extended, warned and ended (ari_app.grant).

Invariant 2: a call never talks past what admission granted — the end is
always scheduled at the grant, and a warning comes only once nothing more
can be granted."""

from __future__ import annotations

from ari_app.calls import CallTiming
from ari_app.grant import END, EXTEND, WARN, GrantSchedule

import pytest


def schedule(granted: int = 300, final: bool = False) -> GrantSchedule:
    return GrantSchedule(talk_started=1000.0, granted=granted, extend_before=20, warn_before=10, final=final)


def test_the_next_chunk_is_asked_for_20_s_before_the_grant_runs_out():
    assert schedule().next_action() == (EXTEND, 1280.0)


def test_a_longer_grant_moves_the_end_and_the_next_extension():
    s = schedule()
    assert s.extended(600, more_possible=True)
    assert (s.end_at, s.next_action()) == (1600.0, (EXTEND, 1580.0))


def test_when_nothing_more_is_granted_the_caller_is_warned_10_s_before_the_end_then_the_call_ends():
    s = schedule()
    assert not s.extended(300, more_possible=False)
    assert s.final and s.next_action() == (WARN, 1290.0)
    s.warned = True
    assert s.next_action() == (END, 1300.0)


def test_a_partial_last_chunk_is_still_used_and_then_the_schedule_is_final():
    s = schedule()
    assert s.extended(345, more_possible=False)  # the credit paid 45 s more, and no more
    assert s.final and s.next_action() == (WARN, 1335.0)


def test_a_free_call_is_final_from_the_start_and_ends_at_the_longest_call():
    s = schedule(granted=4 * 3600, final=True)
    assert s.next_action() == (WARN, 1000.0 + 4 * 3600 - 10)


def test_a_grant_shorter_than_the_lead_is_extended_at_once_not_in_the_past():
    s = GrantSchedule(talk_started=50.0, granted=4, extend_before=20, warn_before=1)
    assert s.next_action() == (EXTEND, 50.0)


def test_an_extension_that_failed_is_retried_while_there_is_time_before_the_warning():
    s = schedule()
    s.extension_failed(now=1280.0, retry_after=2.0)
    assert not s.final and s.next_action() == (EXTEND, 1282.0)
    s.extension_failed(now=1289.0, retry_after=2.0)  # 1291 is past the warning at 1290
    assert s.final and s.next_action() == (WARN, 1290.0)


def test_remaining_talk_time_never_goes_negative():
    s = schedule(granted=10)
    assert s.remaining(1004.0) == 6.0 and s.remaining(2000.0) == 0.0


def test_the_warning_must_not_come_before_the_last_extension_is_asked_for():
    with pytest.raises(ValueError):
        CallTiming(extend_before=5, warn_before=10)
