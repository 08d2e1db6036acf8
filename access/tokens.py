"""Personal API tokens: issued to a user, shown once, stored hashed,
revocable, with the time each was last used.

A token is ``cpt_`` followed by 32 random bytes from :mod:`secrets`
(URL-safe base64). Only its SHA-256 is stored. A fast hash is right here
and wrong for passwords: a password is chosen by a person and guessable, so
its hash must make each guess expensive (argon2id); a token carries 256
bits of randomness, so no guess is worth trying, and one SHA-256 already
makes a stolen hash useless — while letting a request be authenticated by
an indexed lookup instead of hundreds of milliseconds of argon2 per call.
For the same reason the lookup by hash leaks nothing useful through
timing: what it could reveal is a prefix of a hash of an unguessable value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, func, insert, select, update

from sqlbase import Db, reading, transaction, utc_now

from . import inputs
from .errors import InvalidInput, TokenRejected, TooManyTokens, UnknownToken
from .tables import TOKEN_NAME_LENGTH, admin_users, api_tokens
from .users import get_user

TOKEN_PREFIX = "cpt_"
TOKEN_BYTES = 32
# cpt_ + 43 base64 characters; anything much longer is not one of ours
MAX_TOKEN_CHARS = 100
MAX_LIVE_TOKENS_PER_USER = 20
MAX_TOKEN_ID = 2**31 - 1
MAX_NAME_CHARS = TOKEN_NAME_LENGTH
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its value."""

    id: int
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    """A new token with its clear value, which exists only here (shown once)."""

    info: TokenInfo
    token: str


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    user_id: int
    username: str
    role: str
    account_id: int | None
    token_id: int


def token_digest(token: str) -> str:
    """The SHA-256 of ``token``, hex: what is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: Row) -> TokenInfo:
    return TokenInfo(id=row.id, username=row.username, name=row.name, created_at=row.created_at,
                     last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def _with_username():
    return select(*api_tokens.c, admin_users.c.username).join(admin_users, admin_users.c.id == api_tokens.c.user_id)


async def issue_token(db: Db, *, username: str, name: str, now: datetime | None = None) -> IssuedToken:
    """Issue a new token named ``name`` to ``username``; its clear value is
    returned here only. TooManyTokens past MAX_LIVE_TOKENS_PER_USER."""
    inputs.token_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    async with transaction(db) as conn:
        user = await get_user(conn, username)
        live = await conn.scalar(select(func.count()).select_from(api_tokens).where(
            api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None)))
        if live >= MAX_LIVE_TOKENS_PER_USER:
            raise TooManyTokens(f"{username!r} already has {MAX_LIVE_TOKENS_PER_USER} live tokens: revoke one")
        token_id = await conn.scalar(insert(api_tokens).values(
            user_id=user.id, name=name, token_hash=token_digest(token), created_at=now or utc_now(),
        ).returning(api_tokens.c.id))
        row = (await conn.execute(_with_username().where(api_tokens.c.id == token_id))).one()
    return IssuedToken(info=_info(row), token=token)


async def list_tokens(db: Db, username: str) -> list[TokenInfo]:
    """Every token of ``username``, revoked ones included, newest first."""
    async with reading(db) as conn:
        user = await get_user(conn, username)
        rows = (await conn.execute(
            _with_username().where(api_tokens.c.user_id == user.id).order_by(api_tokens.c.id.desc())
            .limit(MAX_LIVE_TOKENS_PER_USER * 50)
        )).all()
    return [_info(row) for row in rows]


async def revoke_token(db: Db, token_id: int, *, now: datetime | None = None) -> tuple[TokenInfo, TokenInfo]:
    """Revoke token ``token_id``: it stops working with the next request.
    Return it before and after (revoking twice keeps the first time)."""
    if isinstance(token_id, bool) or not isinstance(token_id, int) or not 1 <= token_id <= MAX_TOKEN_ID:
        raise InvalidInput(f"id: a token id from 1 to {MAX_TOKEN_ID}", field="id")
    async with transaction(db) as conn:
        row = (await conn.execute(_with_username().where(api_tokens.c.id == token_id))).first()
        if row is None:
            raise UnknownToken(f"no token {token_id}", field="id")
        before = _info(row)
        if before.revoked_at is None:
            await conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                               .values(revoked_at=now or utc_now()))
            row = (await conn.execute(_with_username().where(api_tokens.c.id == token_id))).one()
    return before, _info(row)


async def authenticate(db: Db, token: str, *, now: datetime | None = None) -> Principal:
    """The user a presented token speaks for, and note its use; TokenRejected
    for a malformed, unknown or revoked token or a disabled user (one answer).

    The last-used time is kept to the minute (:data:`LAST_USED_PRECISION`):
    a token used again within it is only read, so a busy client does not
    turn every request into a write (on SQLite, the database's one writer)."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("invalid API token")
    digest = token_digest(token)
    now = now or utc_now()
    async with reading(db) as conn:
        row = (await conn.execute(
            select(api_tokens.c.id, api_tokens.c.token_hash, api_tokens.c.last_used_at,
                   admin_users.c.id.label("user_id"), admin_users.c.username, admin_users.c.role,
                   admin_users.c.account_id)
            .join(admin_users, admin_users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None),
                   admin_users.c.disabled_at.is_(None))
        )).first()
    # the index found it; compare_digest says so without an early exit
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise TokenRejected("invalid API token")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        async with transaction(db) as conn:
            await conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now))
    return Principal(user_id=row.user_id, username=row.username, role=row.role, account_id=row.account_id,
                     token_id=row.id)
