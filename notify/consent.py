"""Marketing consent, per account: recorded with where it was given,
withdrawn without erasing that it was given.

Marketing email is never queued for an account without consent on record
(``enqueue`` asks ``require_marketing_consent`` in its own transaction),
and withdrawing consent cancels the marketing email still waiting.
Service email (voicemail, invoices, alerts) needs no consent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sqlbase import Db, dialect_insert, reading, transaction, utc_now
from notify.errors import InvalidEmailError, MarketingConsentMissingError
from notify.tables import DEAD, PENDING, marketing_consent, outbox

CONSENT_WITHDRAWN = "marketing consent withdrawn before sending"


async def record_marketing_consent(
    db: Db, account_id: int, *, source: str, at: datetime | None = None
) -> None:
    """Record that the account consented to marketing email, where
    (``source``: the form, call or contract clause) and when. Recording it
    again after a withdrawal renews it."""
    if not source or len(source) > 200:
        raise InvalidEmailError("consent source", "1 to 200 characters")
    granted_at = at or utc_now()
    async with transaction(db) as conn:
        statement = dialect_insert(conn, marketing_consent).values(
            account_id=account_id, granted_at=granted_at, source=source, withdrawn_at=None
        )
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[marketing_consent.c.account_id],
                set_={"granted_at": granted_at, "source": source, "withdrawn_at": None},
            )
        )


async def withdraw_marketing_consent(db: Db, account_id: int, *, at: datetime | None = None) -> int:
    """Withdraw the account's marketing consent and cancel (``dead``, with
    the reason) its marketing email not yet claimed; return how many were
    cancelled."""
    async with transaction(db) as conn:
        await conn.execute(
            update(marketing_consent)
            .where(
                marketing_consent.c.account_id == account_id,
                marketing_consent.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=at or utc_now())
        )
        # after the consent row's lock: an enqueue that read the consent
        # before has committed by now, so its email is cancelled here
        cancelled = await conn.execute(
            update(outbox)
            .where(
                outbox.c.account_id == account_id,
                outbox.c.marketing.is_(True),
                outbox.c.state == PENDING,
            )
            .values(state=DEAD, next_attempt_at=None, last_error=CONSENT_WITHDRAWN)
        )
    return cancelled.rowcount


async def has_marketing_consent(db: Db, account_id: int) -> bool:
    """Return True if the account's marketing consent is on record and not
    withdrawn."""
    async with reading(db) as conn:
        return await _consent_given(conn, account_id, lock=False)


async def require_marketing_consent(conn: AsyncConnection, account_id: int | None) -> None:
    """Raise MarketingConsentMissingError unless the account has consent on
    record. Holds the consent row (FOR SHARE on PostgreSQL) until the
    caller's transaction ends, so a withdrawal waits for the email being
    queued and then cancels it."""
    if account_id is None or not await _consent_given(conn, account_id, lock=True):
        raise MarketingConsentMissingError(account_id)


async def _consent_given(conn: AsyncConnection, account_id: int, *, lock: bool) -> bool:
    query = select(marketing_consent.c.withdrawn_at).where(
        marketing_consent.c.account_id == account_id
    )
    if lock:
        query = query.with_for_update(read=True)
    row = (await conn.execute(query)).first()
    return row is not None and row.withdrawn_at is None
