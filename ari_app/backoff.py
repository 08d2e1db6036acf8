"""The reconnect delay schedule: exponential, capped, jittered, never zero.

Nominal delays double from ``initial`` up to ``maximum``; each actual delay
is the nominal one scaled by a random factor in ``[1 - jitter, 1]``, so
clients that lost Asterisk together do not come back in lock-step, and no
delay is ever shorter than ``initial * (1 - jitter)`` — a reconnect loop
built on it cannot spin while Asterisk is down. The cap bounds how late a
client notices that Asterisk is back: at most ``maximum`` seconds plus one
connection attempt.
"""

from __future__ import annotations

import random as _random
from typing import Callable


class Backoff:
    """A reconnect delay schedule; ``next_delay()`` returns the next sleep.

    ``rand`` returns floats in [0, 1); it is injectable so tests can pin it.
    """

    def __init__(
        self,
        initial: float = 0.25,
        maximum: float = 2.0,
        *,
        factor: float = 2.0,
        jitter: float = 0.5,
        rand: Callable[[], float] = _random.random,
    ) -> None:
        if initial <= 0:
            raise ValueError(f"initial delay must be > 0, not {initial}")
        if maximum < initial:
            raise ValueError(f"maximum delay {maximum} is below the initial {initial}")
        if factor < 1:
            raise ValueError(f"factor must be >= 1, not {factor}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {jitter}")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rand = rand
        self._nominal = initial

    @property
    def shortest(self) -> float:
        """The smallest delay the schedule can return."""
        return self.initial * (1 - self.jitter)

    def next_delay(self) -> float:
        """Return the next delay in seconds and advance the schedule."""
        nominal = self._nominal
        self._nominal = min(self._nominal * self.factor, self.maximum)
        return nominal * (1 - self.jitter * self._rand())

    def reset(self) -> None:
        """Start again from ``initial`` (after a connection that held)."""
        self._nominal = self.initial
