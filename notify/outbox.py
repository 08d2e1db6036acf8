"""The durable outbox: queue an email, claim the due ones, record how
sending went.

Life of an email::

    pending ──claim──► sending ──sent──► sent
       ▲                  │
       └──── failure ─────┤ (after backoff)
                          └── failure N, or permanent ──► dead

- **At least once** (invariant 5): a claim is a lease. A dispatcher that
  dies mid-send leaves the email in ``sending`` with ``next_attempt_at`` at
  the lease's end, when any dispatcher may claim it again. SMTP down is a
  failure like another: the email waits for its next attempt, delayed, not
  lost; after ``max_attempts`` it is ``dead``, kept with its last error,
  listed by ``list_dead`` and sent again by ``requeue_dead``.
- **At most once per dedup key**: the key is UNIQUE, ``enqueue`` of a known
  key returns the existing email, and a sent email is never claimed again.
  The one way to a second copy is a dispatcher that loses its lease
  mid-send or dies between the SMTP server's "250" and ``mark_sent``; both
  copies then carry the same Message-ID, which mail clients fold into one.
- **Several processes**: on PostgreSQL a claim takes rows with
  ``FOR UPDATE SKIP LOCKED``, so dispatchers never wait for nor share an
  email; on SQLite the engine's ``BEGIN IMMEDIATE`` serialises claims.

Services take an engine (own transaction) or a connection (the caller's
transaction, see ``sqlbase.sessions``). No transaction is held while SMTP talks.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sqlbase import Db, dialect_insert, reading, transaction, utc_now
from notify.consent import require_marketing_consent
from notify.messages import Attachment, ClaimedEmail, OutboxEntry, OutgoingEmail, checked
from notify.tables import DEAD, LIVE_STATES, PENDING, SENDING, SENT, attachments, outbox

SENDER_LOST = "the dispatcher sending it stopped before its last attempt ended; delivery unknown"
LAST_ERROR_LENGTH = 2000
# 2**30 first delays is years: more doubling only risks overflow
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class RetryPolicy:
    """How often and for how long an email is retried, and how long a claim
    lasts. The defaults retry for about two days: delays of 30 s, 1 min,
    2 min... capped at 1 h, each shortened at random by up to a quarter so
    that emails failing together do not retry together."""

    max_attempts: int = 48
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.25
    # longer than any one send (SmtpConfig.send_timeout) can take
    lease: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.first_delay <= timedelta(0) or self.max_delay < self.first_delay:
            raise ValueError("delays must be positive, max_delay >= first_delay")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.lease <= timedelta(0):
            raise ValueError("lease must be positive")

    def delay_after(self, failed_attempts: int, random_fraction: float) -> timedelta:
        """Return the wait before the next attempt after ``failed_attempts``
        failures: ``first_delay`` doubled per failure, capped at
        ``max_delay``, minus ``jitter * random_fraction`` of it
        (``random_fraction`` in [0, 1))."""
        doublings = min(max(failed_attempts - 1, 0), _MAX_DOUBLINGS)
        delay = min(self.first_delay * 2**doublings, self.max_delay)
        return delay * (1 - self.jitter * random_fraction)


async def enqueue(db: Db, email: OutgoingEmail, *, wake: asyncio.Event | None = None) -> int:
    """Queue ``email`` and return its outbox id. Idempotent by dedup key:
    a key already queued (in any state) returns the existing email's id and
    stores nothing.

    Raises InvalidEmailError for an email that could not be sent, and
    MarketingConsentMissingError for marketing email to an account without
    recorded consent (checked in the same transaction as the insert).
    ``wake`` is set once the email is committed: here for an engine; for a
    connection, the caller sets it after its own commit (until then a
    dispatcher could not see the email anyway)."""
    checked(email)
    async with transaction(db) as conn:
        if email.marketing:
            await require_marketing_consent(conn, email.account_id)
        email_id = await _insert_unless_known(conn, email)
    if wake is not None and isinstance(db, AsyncEngine):
        wake.set()
    return email_id


async def claim_due(db: Db, *, limit: int, policy: RetryPolicy) -> list[ClaimedEmail]:
    """Claim up to ``limit`` due emails (oldest due first) for one lease and
    return them with their attachments, ordered by id. Also gives up
    (``dead``) on emails whose last allowed attempt's sender vanished."""
    now = utc_now()
    token = uuid.uuid4().hex
    lease_end = now + policy.lease
    async with transaction(db) as conn:
        await _give_up_on_lost_last_attempts(conn, now, policy)
        due = (
            select(outbox.c.id)
            .where(outbox.c.state.in_(LIVE_STATES), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
        )
        claimed = (
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(due))
                .values(
                    state=SENDING,
                    attempts=outbox.c.attempts + 1,
                    next_attempt_at=lease_end,
                    claim_token=token,
                )
                .returning(*_CLAIMED_COLUMNS)
            )
        ).all()
        files = await _attachments_of(conn, [row.id for row in claimed])
    return sorted(
        (_claimed_email(row, token, lease_end, files.get(row.id, ())) for row in claimed),
        key=lambda claim: claim.id,
    )


async def mark_sent(db: Db, claim: ClaimedEmail) -> bool:
    """Record that the SMTP server accepted ``claim``; return False if it
    was already recorded as sent. Accepted even from a claim whose lease
    ran out: the email did go, and saying so stops another copy. Its
    attachments' bytes are deleted."""
    async with transaction(db) as conn:
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.id == claim.id, outbox.c.state != SENT)
            .values(state=SENT, sent_at=utc_now(), next_attempt_at=None, claim_token=None)
        )
        await conn.execute(delete(attachments).where(attachments.c.email_id == claim.id))
    return result.rowcount == 1


async def record_failure(
    db: Db,
    claim: ClaimedEmail,
    error: str,
    *,
    policy: RetryPolicy,
    permanent: bool = False,
    rng: random.Random | None = None,
) -> str | None:
    """Record a failed attempt and return the email's new state: ``pending``
    with its next attempt after the policy's backoff, or ``dead`` after the
    last allowed attempt or a ``permanent`` failure. Returns None, changing
    nothing, if the claim is no longer the email's (its lease ran out and
    another dispatcher holds it)."""
    give_up = permanent or claim.attempts >= policy.max_attempts
    if give_up:
        values: dict[str, Any] = {"state": DEAD, "next_attempt_at": None}
    else:
        fraction = (rng or random.Random()).random()
        values = {
            "state": PENDING,
            "next_attempt_at": utc_now() + policy.delay_after(claim.attempts, fraction),
        }
    async with transaction(db) as conn:
        result = await conn.execute(
            update(outbox)
            .where(_still_held(claim))
            .values(**values, claim_token=None, last_error=error[:LAST_ERROR_LENGTH])
        )
    return values["state"] if result.rowcount == 1 else None


async def release(db: Db, claims: Iterable[ClaimedEmail]) -> int:
    """Hand claims back unsent (a dispatcher stopping): due again now, and
    the attempt does not count. Returns how many were still held."""
    released = 0
    now = utc_now()
    async with transaction(db) as conn:
        for claim in claims:
            result = await conn.execute(
                update(outbox)
                .where(_still_held(claim))
                .values(
                    state=PENDING,
                    attempts=outbox.c.attempts - 1,
                    next_attempt_at=now,
                    claim_token=None,
                )
            )
            released += result.rowcount
    return released


async def list_dead(db: Db, *, limit: int = 100) -> list[OutboxEntry]:
    """Return up to ``limit`` emails given up on, oldest first, each with
    its last error."""
    async with reading(db) as conn:
        rows = await conn.execute(
            _entry_query().where(outbox.c.state == DEAD).order_by(outbox.c.id).limit(limit)
        )
        return [OutboxEntry(**row._mapping) for row in rows]


async def entries_in_state(db: Db, state: str, *, after_id: int = 0, limit: int = 50) -> list[OutboxEntry]:
    """Return up to ``limit`` emails in ``state`` after the one with id
    ``after_id``, by id (oldest first), each with its attempts and last
    error: a keyset page (``list_dead``'s, for any state)."""
    async with reading(db) as conn:
        rows = await conn.execute(
            _entry_query().where(outbox.c.state == state, outbox.c.id > after_id).order_by(outbox.c.id).limit(limit)
        )
        return [OutboxEntry(**row._mapping) for row in rows]


async def requeue_dead(db: Db, email_id: int) -> bool:
    """Make a dead email pending again, due now, with a fresh count of
    attempts; return False if it is not dead."""
    async with transaction(db) as conn:
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.id == email_id, outbox.c.state == DEAD)
            .values(state=PENDING, attempts=0, next_attempt_at=utc_now(), claim_token=None)
        )
    return result.rowcount == 1


async def outbox_entry(db: Db, email_id: int) -> OutboxEntry | None:
    """Return where the email with this id stands, or None."""
    async with reading(db) as conn:
        row = (await conn.execute(_entry_query().where(outbox.c.id == email_id))).first()
    return None if row is None else OutboxEntry(**row._mapping)


@dataclass(frozen=True)
class OutboxCounts:
    """How many emails are in each state."""

    pending: int
    sending: int
    sent: int
    dead: int


async def count_by_state(db: Db) -> OutboxCounts:
    """How many emails are pending, being sent, sent and dead (failed for good)."""
    async with reading(db) as conn:
        rows = (await conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))).all()
    counts = dict.fromkeys((PENDING, SENDING, SENT, DEAD), 0)
    counts.update({state: int(count) for state, count in rows})
    return OutboxCounts(counts[PENDING], counts[SENDING], counts[SENT], counts[DEAD])


async def next_due_at(db: Db) -> datetime | None:
    """Return when the next email becomes due (pending, or a lease ending),
    or None if nothing is waiting."""
    async with reading(db) as conn:
        return await conn.scalar(
            select(func.min(outbox.c.next_attempt_at)).where(outbox.c.state.in_(LIVE_STATES))
        )


async def purge_sent(db: Db, *, sent_before: datetime) -> int:
    """Delete emails sent before ``sent_before`` and return how many. Their
    dedup keys are forgotten with them: keep them longer than any event
    could be reported twice."""
    async with transaction(db) as conn:
        result = await conn.execute(
            delete(outbox).where(outbox.c.state == SENT, outbox.c.sent_at < sent_before)
        )
    return result.rowcount


# -- internals -----------------------------------------------------------------

_CLAIMED_COLUMNS = (
    outbox.c.id,
    outbox.c.attempts,
    outbox.c.dedup_key,
    outbox.c.kind,
    outbox.c.recipient,
    outbox.c.subject,
    outbox.c.text_body,
    outbox.c.html_body,
    outbox.c.account_id,
    outbox.c.language,
    outbox.c.marketing,
)


async def _insert_unless_known(conn: AsyncConnection, email: OutgoingEmail) -> int:
    # DO NOTHING rather than catching IntegrityError: PostgreSQL would
    # abort the caller's whole transaction on a unique violation.
    now = utc_now()
    statement = (
        dialect_insert(conn, outbox)
        .values(
            dedup_key=email.dedup_key,
            kind=email.kind,
            account_id=email.account_id,
            language=email.language,
            recipient=email.recipient,
            subject=email.subject,
            text_body=email.text,
            html_body=email.html,
            marketing=email.marketing,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[outbox.c.dedup_key])
        .returning(outbox.c.id)
    )
    email_id = (await conn.execute(statement)).scalar()
    if email_id is None:  # known key: the first one stands
        known = await conn.scalar(select(outbox.c.id).where(outbox.c.dedup_key == email.dedup_key))
        assert known is not None, "a dedup key conflicted with no row"
        return known
    if email.attachments:
        await conn.execute(
            insert(attachments),
            [
                {
                    "email_id": email_id,
                    "position": position,
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "content": attachment.content,
                }
                for position, attachment in enumerate(email.attachments)
            ],
        )
    return email_id


async def _give_up_on_lost_last_attempts(
    conn: AsyncConnection, now: datetime, policy: RetryPolicy
) -> None:
    # SKIP LOCKED here too: two dispatchers giving up on two such emails in
    # opposite orders must not deadlock.
    lost = (
        select(outbox.c.id)
        .where(
            outbox.c.state == SENDING,
            outbox.c.next_attempt_at <= now,
            outbox.c.attempts >= policy.max_attempts,
        )
        .with_for_update(skip_locked=True)
    )
    await conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(lost))
        .values(state=DEAD, next_attempt_at=None, claim_token=None, last_error=SENDER_LOST)
    )


async def _attachments_of(
    conn: AsyncConnection, email_ids: list[int]
) -> dict[int, tuple[Attachment, ...]]:
    if not email_ids:
        return {}
    rows = await conn.execute(
        select(attachments)
        .where(attachments.c.email_id.in_(email_ids))
        .order_by(attachments.c.email_id, attachments.c.position)
    )
    found: dict[int, list[Attachment]] = {}
    for row in rows:
        found.setdefault(row.email_id, []).append(
            Attachment(row.filename, row.content_type, bytes(row.content))
        )
    return {email_id: tuple(files) for email_id, files in found.items()}


def _claimed_email(
    row: Row[Any], token: str, lease_end: datetime, files: tuple[Attachment, ...]
) -> ClaimedEmail:
    return ClaimedEmail(
        id=row.id,
        claim_token=token,
        attempts=row.attempts,
        lease_expires_at=lease_end,
        email=OutgoingEmail(
            dedup_key=row.dedup_key,
            kind=row.kind,
            recipient=row.recipient,
            subject=row.subject,
            text=row.text_body,
            html=row.html_body,
            attachments=files,
            account_id=row.account_id,
            language=row.language,
            marketing=row.marketing,
        ),
    )


def _still_held(claim: ClaimedEmail) -> Any:
    return (
        (outbox.c.id == claim.id)
        & (outbox.c.claim_token == claim.claim_token)
        & (outbox.c.state == SENDING)
    )


def _entry_query() -> Any:
    return select(
        outbox.c.id,
        outbox.c.dedup_key,
        outbox.c.kind,
        outbox.c.recipient,
        outbox.c.account_id,
        outbox.c.state,
        outbox.c.attempts,
        outbox.c.next_attempt_at,
        outbox.c.last_error,
        outbox.c.created_at,
        outbox.c.sent_at,
    )
