"""Admin users: create, read, list, disable, set a password, and log in.

Passwords are hashed with argon2id (argon2-cffi's default parameters): slow
and memory-hard on purpose, because people choose guessable passwords and a
stolen database must not make guessing cheap. Hashing runs in a worker
thread so the event loop keeps serving.

A login takes the same path whatever the username: an unknown or disabled
user is verified against a dummy hash made with the same parameters, so
the time taken does not tell which usernames exist. When argon2-cffi's
defaults change, a successful login rehashes the password with the new ones.

Every function takes an engine (its own transaction) or a connection (the
caller's transaction, so an audit entry can join it: see access/audit.py).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from sqlbase import Db, reading, transaction, utc_now

from . import inputs, lockout
from .errors import LockedOut, LoginRefused, UnknownUser, UserExists
from .tables import admin_users

MAX_USERS_LISTED = 1000
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits


@dataclass(frozen=True)
class User:
    """An admin user, without the password hash."""

    id: int
    username: str
    role: str
    account_id: int | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        """True unless disabled."""
        return self.disabled_at is None


def default_hasher() -> PasswordHasher:
    """An argon2id hasher with argon2-cffi's default parameters."""
    return PasswordHasher()


def generated_password() -> str:
    """A new random password for a user created without one (shown once)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int, hash_len: int, salt_len: int) -> str:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                            hash_len=hash_len, salt_len=salt_len)
    return hasher.hash(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


def dummy_hash_for(hasher: PasswordHasher) -> str:
    """A hash of a random password, with ``hasher``'s parameters: what an
    unknown user's login is verified against."""
    return _dummy_hash(hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len)


def _user(row: Row) -> User:
    return User(id=row.id, username=row.username, role=row.role, account_id=row.account_id,
                created_at=row.created_at, disabled_at=row.disabled_at)


async def create_user(db: Db, *, username: str, password: str, role: str, account_id: int | None = None,
                      hasher: PasswordHasher | None = None, now: datetime | None = None) -> User:
    """Create a user; UserExists if the username is taken, InvalidInput for a bad value."""
    inputs.new_username(username)
    inputs.password(password)
    inputs.role_and_account(role, account_id)
    password_hash = await asyncio.to_thread((hasher or default_hasher()).hash, password)
    async with transaction(db) as conn:
        if await conn.scalar(select(admin_users.c.id).where(admin_users.c.username == username)) is not None:
            raise UserExists(f"user {username!r} already exists", field="username")
        try:
            # a savepoint: a racing twin's unique violation must not abort the caller's transaction
            async with conn.begin_nested():
                row = (await conn.execute(
                    insert(admin_users).values(
                        username=username, password_hash=password_hash, role=role, account_id=account_id,
                        created_at=now or utc_now(),
                    ).returning(*admin_users.c)
                )).one()
        except IntegrityError as exc:
            raise UserExists(f"user {username!r} already exists", field="username") from exc
    return _user(row)


async def get_user(db: Db, username: str) -> User:
    """The user ``username``; UnknownUser if there is none."""
    inputs.username(username)
    async with reading(db) as conn:
        row = (await conn.execute(select(admin_users).where(admin_users.c.username == username))).first()
    if row is None:
        raise UnknownUser(f"no user {username!r}", field="username")
    return _user(row)


async def list_users(db: Db) -> list[User]:
    """Every user (at most MAX_USERS_LISTED), by username."""
    async with reading(db) as conn:
        rows = (await conn.execute(
            select(admin_users).order_by(admin_users.c.username).limit(MAX_USERS_LISTED))).all()
    return [_user(row) for row in rows]


async def disable_user(db: Db, username: str, *, now: datetime | None = None) -> tuple[User, User]:
    """Disable ``username`` (its logins and tokens stop working at once);
    return the user before and after. Disabling a disabled user keeps its
    first time."""
    async with transaction(db) as conn:
        before = await get_user(conn, username)
        if before.disabled_at is not None:
            return before, before
        row = (await conn.execute(
            update(admin_users).where(admin_users.c.id == before.id)
            .values(disabled_at=now or utc_now()).returning(*admin_users.c)
        )).one()
    return before, _user(row)


async def set_password(db: Db, username: str, password: str, *, hasher: PasswordHasher | None = None) -> User:
    """Replace the password of ``username``."""
    inputs.password(password)
    password_hash = await asyncio.to_thread((hasher or default_hasher()).hash, password)
    async with transaction(db) as conn:
        user = await get_user(conn, username)
        await conn.execute(update(admin_users).where(admin_users.c.id == user.id)
                           .values(password_hash=password_hash))
    return user


async def verify_login(db: Db, username: str, password: str, *, source: str, now: datetime | None = None,
                       hasher: PasswordHasher | None = None,
                       policy: lockout.LockoutPolicy = lockout.LockoutPolicy()) -> User:
    """The active user ``username`` if ``password`` is theirs.

    Refused with LockedOut while the username or the source is locked, and
    with LoginRefused for a wrong password, an unknown or a disabled user
    (each verified against a hash, the same work); a refusal counts a
    failure (committed even though the login fails: given a connection,
    the caller must commit after catching it), a success clears them.
    """
    inputs.username(username)
    inputs.login_password(password)
    inputs.source(source)
    now = now or utc_now()
    hasher = hasher or default_hasher()
    async with reading(db) as conn:
        until = await lockout.locked_until(conn, username, source, now)
        row = (await conn.execute(select(admin_users).where(admin_users.c.username == username))).first()
    if until is not None:
        raise LockedOut(f"too many failed logins: try again after {until.isoformat()}", until=until)
    usable = row is not None and row.disabled_at is None
    stored_hash = row.password_hash if usable else dummy_hash_for(hasher)
    # always verified, for an unknown user too: the same work whatever the username
    matched = await asyncio.to_thread(_verify, hasher, stored_hash, password)
    succeeded = usable and matched
    # hashed before the transaction: on SQLite it holds the write lock
    new_hash = (await asyncio.to_thread(hasher.hash, password)
                if succeeded and hasher.check_needs_rehash(stored_hash) else None)
    async with transaction(db) as conn:
        if not succeeded:
            await lockout.record_failure(conn, username, source, now, policy)
        else:
            await lockout.clear(conn, username, source)
            if new_hash is not None:
                await conn.execute(update(admin_users).where(admin_users.c.id == row.id)
                                   .values(password_hash=new_hash))
    if not succeeded:
        raise LoginRefused("wrong username or password")
    return _user(row)


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
