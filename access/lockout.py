"""Failed-login lockout, per username and per source address (issue 13,
item 3: repeated failed logins are slowed and locked out for a while).

After ``THRESHOLD`` failures in a row for one username, or from one source
address, further logins for it are refused until ``locked_until``: 30 s
after the 5th failure, doubling with each further failure, at most 15
minutes (an attacker is slowed to a crawl; a legitimate user who mistyped
is never locked out for long). A successful login deletes both counters.
Usernames are counted whether or not they exist, so the lockout tells
nothing about which do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sqlbase import dialect_insert

from .tables import login_failures

THRESHOLD = 5
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failures lock, for how long at first, and at most."""

    threshold: int = THRESHOLD
    first_lock: timedelta = FIRST_LOCK
    longest_lock: timedelta = LONGEST_LOCK

    def lock_after(self, failures: int) -> timedelta | None:
        """How long ``failures`` consecutive failures lock for (None: not locked)."""
        if failures < self.threshold:
            return None
        # capped exponent: the multiplication cannot grow without bound
        doublings = min(failures - self.threshold, 20)
        return min(self.first_lock * (2**doublings), self.longest_lock)


def _subjects(username: str, source: str) -> list[tuple[str, str]]:
    return [("user", username), ("source", source)]


def _matching(username: str, source: str):
    return or_(*(and_(login_failures.c.kind == kind, login_failures.c.subject == subject)
                 for kind, subject in _subjects(username, source)))


async def locked_until(conn: AsyncConnection, username: str, source: str, now: datetime) -> datetime | None:
    """The latest time until which the username or the source is locked, if after ``now``."""
    until = await conn.scalar(
        select(login_failures.c.locked_until).where(_matching(username, source))
        .order_by(login_failures.c.locked_until.desc()).limit(1)
    )
    return until if until is not None and until > now else None


async def record_failure(conn: AsyncConnection, username: str, source: str, now: datetime,
                         policy: LockoutPolicy = LockoutPolicy()) -> None:
    """Count one more failure for the username and for the source, locking
    each that reached the threshold."""
    for kind, subject in _subjects(username, source):
        await conn.execute(
            dialect_insert(conn, login_failures)
            .values(kind=kind, subject=subject, failures=0, last_failure_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "subject"])
        )
        key = and_(login_failures.c.kind == kind, login_failures.c.subject == subject)
        failures = await conn.scalar(
            update(login_failures).where(key)
            .values(failures=login_failures.c.failures + 1, last_failure_at=now)
            .returning(login_failures.c.failures)
        )
        lock = policy.lock_after(int(failures))
        if lock is not None:
            await conn.execute(update(login_failures).where(key).values(locked_until=now + lock))


async def clear(conn: AsyncConnection, username: str, source: str) -> None:
    """Forget the failures of the username and the source (a successful login)."""
    await conn.execute(delete(login_failures).where(_matching(username, source)))
