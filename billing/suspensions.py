"""Accounts' suspensions, each with its cause, as data.

A suspension is a stretch of ``account_suspensions``: its cause
(:mod:`billing.suspension_causes`), an optional note, when it started and
when it ended (none while it lasts). :func:`suspend` marks the account
suspended and opens a stretch, :func:`reinstate` marks it active and closes
the stretch, each in one transaction under the account's lock, so the
status and the open stretch change together.

Refusals, not no-ops: suspending an account that is not active (already
suspended, or in any other state) or reinstating one that is not suspended
raises :class:`~billing.errors.SuspensionStateError`. A second suspension
would otherwise silently keep the first one's cause, and the month's fee
depends on the cause. At most one stretch per account is open (a partial
unique index holds it too).

Accounts suspended before suspensions were recorded (migration 0017) have
no open stretch; :func:`reinstate` makes them active all the same, closing
nothing.

Days suspended (:func:`days_suspended`)
    A Europe/Bucharest calendar day counts as suspended when the account
    was suspended at **any moment** of it (a stretch is the half-open
    interval ``[started_at, ended_at)``; an empty one touches no day). A day
    touched by several stretches counts once. The subscriber is thus never
    charged for a day on which the operator cut the service for its own
    reasons, even for an hour. The month's fee is reduced only for the days
    of stretches whose cause is not the subscriber's fault
    (:func:`excused_days`, :func:`billing.invoicing.recurring.recurring_fee`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.accounts import ACTIVE, SUSPENDED
from billing.errors import InvalidSuspensionError, SuspensionStateError
from billing.suspension_causes import (
    MAX_NOTE_CHARS,
    SUSPENSION_CAUSES,
    causes_listed,
    fee_due_while_suspended,
)
from billing.tables import account_suspensions, accounts
from billing.tariffs import CONTRACT_TZ
from sqlbase import Db, reading, transaction, utc_now


@dataclass(frozen=True, slots=True)
class Suspension:
    """One stretch of an account's suspension; ``ended_at`` is None while it lasts."""

    id: int
    account_id: int
    cause: str
    note: str
    started_at: datetime
    ended_at: datetime | None

    @property
    def fee_due(self) -> bool:
        """True when the month's fee stays due for its days (art. 9.2: the subscriber's doing)."""
        return fee_due_while_suspended(self.cause)


_COLUMNS = [account_suspensions.c[f.name] for f in fields(Suspension)]


def checked_cause(cause: object) -> str:
    """Return ``cause`` if it names a suspension cause; otherwise raise
    :class:`InvalidSuspensionError` naming ``cause`` and listing the causes."""
    if not isinstance(cause, str) or cause not in SUSPENSION_CAUSES:
        shown = repr(cause)[:40]
        raise InvalidSuspensionError("cause", f"must be one of {causes_listed()}, not {shown}")
    return cause


def checked_note(note: str | None) -> str:
    """Return ``note`` with its whitespace collapsed to single spaces; raise
    :class:`InvalidSuspensionError` naming ``note`` past
    :data:`~billing.suspension_causes.MAX_NOTE_CHARS` characters or with
    control characters."""
    text = " ".join((note or "").split())
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidSuspensionError("note", f"at most {MAX_NOTE_CHARS} characters, not {len(text)}")
    if not text.isprintable():
        raise InvalidSuspensionError("note", "must not contain control characters")
    return text


async def suspend(db: Db, account_id: int, cause: str, note: str | None = None, *,
                  now: datetime | None = None) -> Suspension:
    """Suspend the active account ``account_id`` for ``cause`` from ``now``
    and return the open stretch. Raise :class:`UnknownAccountError`,
    :class:`InvalidSuspensionError` (cause, note) or
    :class:`SuspensionStateError` when the account is not active."""
    cause, note = checked_cause(cause), checked_note(note)
    opening = insert(account_suspensions).values(
        account_id=account_id, cause=cause, note=note, started_at=now or utc_now())
    row = await _switch_status(db, account_id, ACTIVE, SUSPENDED, opening,
                               "only an active account can be suspended")
    assert row is not None  # an INSERT returns its row
    return Suspension(*row)


async def reinstate(db: Db, account_id: int, *, now: datetime | None = None) -> Suspension | None:
    """Make the suspended account ``account_id`` active from ``now``; return
    the stretch this closed (None for a suspension recorded before 0017).
    Raise :class:`UnknownAccountError`, or :class:`SuspensionStateError`
    when the account is not suspended."""
    closing = (
        update(account_suspensions)
        .where(account_suspensions.c.account_id == account_id, account_suspensions.c.ended_at.is_(None))
        .values(ended_at=now or utc_now())
    )
    row = await _switch_status(db, account_id, SUSPENDED, ACTIVE, closing,
                               "only a suspended account can be reinstated")
    return None if row is None else Suspension(*row)


async def _switch_status(db: Db, account_id: int, before: str, after: str, stretch_change: Any,
                         refusal: str) -> Row[Any] | None:
    """Under the account's lock: refuse unless its status is ``before``,
    apply ``stretch_change`` (opening or closing a stretch) and set the
    status ``after``, in one transaction; return the stretch's row, if any."""
    async with transaction(db) as conn:
        account = await ledger.locked_account(conn, account_id)
        if account.status != before:
            raise SuspensionStateError(account_id, f"is {account.status}: {refusal}")
        row = (await conn.execute(stretch_change.returning(*_COLUMNS))).first()
        await conn.execute(update(accounts).where(accounts.c.id == account_id).values(status=after))
    return row


async def open_suspension(db: Db, account_id: int) -> Suspension | None:
    """Return the account's suspension that still lasts, or None."""
    async with reading(db) as conn:
        row = (
            await conn.execute(
                select(*_COLUMNS).where(
                    account_suspensions.c.account_id == account_id, account_suspensions.c.ended_at.is_(None))
            )
        ).first()
    return None if row is None else Suspension(*row)


async def suspension_history(db: Db, account_id: int) -> list[Suspension]:
    """Return every suspension of the account, oldest first; raise
    :class:`UnknownAccountError` when there is no such account."""
    async with reading(db) as conn:
        await ledger.get_account(conn, account_id)
        rows = await conn.execute(
            select(*_COLUMNS)
            .where(account_suspensions.c.account_id == account_id)
            .order_by(account_suspensions.c.started_at, account_suspensions.c.id)
        )
        return [Suspension(*row) for row in rows]


async def excused_days(conn: AsyncConnection, account_id: int, first: date, last: date) -> set[date]:
    """Return the days ``first`` .. ``last`` on which the account was
    suspended for a cause that leaves the fee not due (art. 9.2): the days
    that reduce the month's fee."""
    excused = [name for name, cause in SUSPENSION_CAUSES.items() if not cause.fee_due]
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    rows = await conn.execute(
        select(*_COLUMNS).where(
            account_suspensions.c.account_id == account_id,
            account_suspensions.c.cause.in_(excused),
            account_suspensions.c.started_at < end,
            (account_suspensions.c.ended_at.is_(None)) | (account_suspensions.c.ended_at > start),
        )
    )
    return days_suspended((Suspension(*row) for row in rows), first, last)


def days_suspended(stretches: Iterable[Suspension], first: date, last: date) -> set[date]:
    """Return the Europe/Bucharest days ``first`` .. ``last`` touched by any
    of ``stretches``: suspended at any moment of the day, each day once.
    A stretch still open runs past ``last``."""
    days: set[date] = set()
    for stretch in stretches:
        if stretch.ended_at is not None and stretch.ended_at <= stretch.started_at:
            continue  # suspended at no moment
        begins = stretch.started_at.astimezone(CONTRACT_TZ).date()
        # [started_at, ended_at): the instant it ended is not suspended
        ends = last if stretch.ended_at is None else (
            (stretch.ended_at - timedelta(microseconds=1)).astimezone(CONTRACT_TZ).date())
        day = max(begins, first)
        while day <= min(ends, last):
            days.add(day)
            day += timedelta(days=1)
    return days


def _day_start(day: date) -> datetime:
    """00:00 Europe/Bucharest of ``day``."""
    return datetime.combine(day, time(), CONTRACT_TZ)

