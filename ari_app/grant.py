"""When to extend, warn and end a connected call: the schedule, pure.

A connected call may talk for ``granted`` seconds from ``talk_started`` (the
moment just before the caller was answered, so the CDR's billable seconds
never exceed the grant). ``extend_before`` the end, admission is asked for
the next chunk; once nothing more can be granted the schedule is *final*:
``warn_before`` the end the caller hears a warning, and at the end the
call is hung up. Asterisk's own hard cap (TIMEOUT(absolute)) is kept at
the same end, so the call ends there even if this process is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

EXTEND = "extend"
WARN = "warn"
END = "end"


@dataclass
class GrantSchedule:
    talk_started: float  # a monotonic clock's time
    granted: int  # seconds of talk granted so far
    extend_before: float
    warn_before: float
    final: bool = False  # no more seconds will be granted
    warned: bool = False
    retry_extend_at: float | None = None  # after a failed extension

    @property
    def end_at(self) -> float:
        return self.talk_started + self.granted

    def remaining(self, now: float) -> float:
        """Seconds of talk left at ``now`` (never negative)."""
        return max(self.end_at - now, 0.0)

    def next_action(self) -> tuple[str, float]:
        """Return the next thing to do and when: (EXTEND | WARN | END, time)."""
        actions = [(self.end_at, END)]
        if not self.final:
            at = self.retry_extend_at if self.retry_extend_at is not None else self.end_at - self.extend_before
            actions.append((max(at, self.talk_started), EXTEND))
        elif not self.warned and self.warn_before > 0:
            actions.append((self.end_at - self.warn_before, WARN))
        at, action = min(actions, key=lambda pair: (pair[0], pair[1] != EXTEND))
        return action, at

    def extended(self, seconds: int, more_possible: bool) -> bool:
        """Record admission's answer (``seconds`` granted in total); return
        True when the call got more time."""
        self.retry_extend_at = None
        longer = seconds > self.granted
        if longer:
            self.granted = seconds
        if not longer or not more_possible:
            self.final = True
        return longer

    def extension_failed(self, now: float, retry_after: float) -> None:
        """Admission could not answer: retry while there is still time before
        the warning; else give up extending."""
        retry_at = now + retry_after
        if retry_at < self.end_at - self.warn_before:
            self.retry_extend_at = retry_at
        else:
            self.retry_extend_at = None
            self.final = True
