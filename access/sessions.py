"""Console sessions (issue 13, item 5): a login in the admin web console.

A session id is 32 random bytes from :mod:`secrets` (URL-safe base64); the
browser holds it in a cookie and only its SHA-256 is stored, so a read of
the database does not give anyone a live login (the same reasoning as
access/tokens.py: 256 random bits need no slow hash). Each session has its
own CSRF token, which every form and htmx request sends back.

A session ends:

- after :data:`IDLE_TIMEOUT` (30 minutes) without a request;
- :data:`ABSOLUTE_TIMEOUT` (12 hours) after its login, however busy;
- at logout (:func:`end_session` deletes it);
- at once when its user is disabled (:func:`current_session` joins the
  user and refuses a disabled one on every request).

The last-seen time is written at most once a minute
(:data:`LAST_SEEN_PRECISION`) so a page full of htmx requests is not a
write each on SQLite's single writer; the idle timeout is therefore exact
to within that minute.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from sqlbase import Db, reading, transaction, utc_now

from .tables import admin_sessions, admin_users

SESSION_BYTES = 32
CSRF_BYTES = 32
# a session id is 43 base64 characters; anything much longer is not one of ours
MAX_SESSION_ID_CHARS = 100
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
LAST_SEEN_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    """A live session: its user (name, role, account for an account admin)
    and its CSRF token. Never its id (the cookie's secret)."""

    id: int
    user_id: int
    username: str
    role: str
    account_id: int | None
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    """A session just opened, with the cookie's value, which exists only here."""

    session: Session
    cookie: str


def session_digest(session_id: str) -> str:
    """The SHA-256 of ``session_id``, hex: what is stored and looked up."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_matches(session: Session, presented: str | None) -> bool:
    """True if ``presented`` is the session's CSRF token (constant time)."""
    if not isinstance(presented, str) or len(presented) > MAX_SESSION_ID_CHARS:
        return False
    return hmac.compare_digest(session.csrf.encode(), presented.encode())


def _joined():
    return (select(admin_sessions, admin_users.c.username, admin_users.c.role, admin_users.c.account_id,
                   admin_users.c.disabled_at)
            .join(admin_users, admin_users.c.id == admin_sessions.c.user_id))


def _session(row) -> Session:
    return Session(id=row.id, user_id=row.user_id, username=row.username, role=row.role,
                   account_id=row.account_id, csrf=row.csrf, created_at=row.created_at,
                   expires_at=row.expires_at)


async def open_session(db: Db, user_id: int, *, now: datetime | None = None) -> NewSession:
    """Open a session for user ``user_id`` (who has just logged in) and return
    it with the cookie's value."""
    now = now or utc_now()
    cookie = secrets.token_urlsafe(SESSION_BYTES)
    async with transaction(db) as conn:
        session_id = await conn.scalar(insert(admin_sessions).values(
            session_hash=session_digest(cookie), user_id=user_id, csrf=secrets.token_urlsafe(CSRF_BYTES),
            created_at=now, last_seen_at=now, expires_at=now + ABSOLUTE_TIMEOUT,
        ).returning(admin_sessions.c.id))
        row = (await conn.execute(_joined().where(admin_sessions.c.id == session_id))).one()
    return NewSession(_session(row), cookie)


async def current_session(db: Db, cookie: str | None, *, now: datetime | None = None) -> Session | None:
    """The live session whose cookie is ``cookie``, its last-seen time moved
    on; None when there is none, it has expired (idle or absolute; it is
    then deleted) or its user is disabled."""
    if not isinstance(cookie, str) or not cookie or len(cookie) > MAX_SESSION_ID_CHARS:
        return None
    now = now or utc_now()
    digest = session_digest(cookie)
    async with reading(db) as conn:
        row = (await conn.execute(_joined().where(admin_sessions.c.session_hash == digest))).first()
    if row is None or not hmac.compare_digest(row.session_hash, digest):
        return None
    if row.disabled_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
        async with transaction(db) as conn:
            await conn.execute(delete(admin_sessions).where(admin_sessions.c.id == row.id))
        return None
    if now - row.last_seen_at >= LAST_SEEN_PRECISION:
        async with transaction(db) as conn:
            await conn.execute(update(admin_sessions).where(admin_sessions.c.id == row.id)
                               .values(last_seen_at=now))
    return _session(row)


async def end_session(db: Db, cookie: str | None) -> bool:
    """Delete the session whose cookie is ``cookie`` (logout); True if there was one."""
    if not isinstance(cookie, str) or not cookie or len(cookie) > MAX_SESSION_ID_CHARS:
        return False
    async with transaction(db) as conn:
        result = await conn.execute(delete(admin_sessions)
                                    .where(admin_sessions.c.session_hash == session_digest(cookie)))
    return bool(result.rowcount)


async def end_sessions_of(db: Db, user_id: int, *, keep: int | None = None) -> int:
    """Delete every session of user ``user_id`` but the session ``keep`` (its
    id; e.g. the one that changed the password); return how many ended."""
    ending = delete(admin_sessions).where(admin_sessions.c.user_id == user_id)
    if keep is not None:
        ending = ending.where(admin_sessions.c.id != keep)
    async with transaction(db) as conn:
        result = await conn.execute(ending)
    return int(result.rowcount or 0)
