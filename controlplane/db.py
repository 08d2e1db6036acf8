"""The database engine: SQLite (aiosqlite, WAL) embedded, PostgreSQL (asyncpg)
when several control planes share one database.

The composition root builds one engine per process with ``create_engine``
and hands it (or connections from it) to the packages that own tables.
Nothing here is global: each call returns a new engine the caller disposes.

SQLite transactions: Python's sqlite3 driver only sends ``BEGIN`` before
INSERT/UPDATE/DELETE, so a SELECT followed by an UPDATE is not one
transaction, and DDL is not transactional. We take over: the driver's own
BEGIN is disabled and every SQLAlchemy transaction starts with
``BEGIN IMMEDIATE``. A read-modify-write (a reservation against a balance)
then holds the write lock from its first read, and a second writer waits
up to ``SQLITE_BUSY_TIMEOUT_MS`` instead of failing with "database is
locked" when it upgrades its read lock. The price: on SQLite, transactions
are serialised, readers included; a long read-only report that must not hold
writers back can run with ``execution_options(isolation_level="AUTOCOMMIT")``
(WAL gives each statement a consistent snapshot without a lock). And code
holding a transaction must not await work that needs a second connection:
on SQLite that work waits for the first transaction, which waits for it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from sqlbase.worker import SQLITE_BUSY_TIMEOUT_MS, begin_immediate

if TYPE_CHECKING:
    import aiosqlite

# backend → the only async driver we ship for it
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


class UnsupportedDatabaseError(ValueError):
    """The URL names a database or driver the control plane does not support."""


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """Return a new async engine for ``url``; the caller disposes it.

    ``sqlite:///path`` and ``postgresql://...`` are accepted as shorthands for
    their async drivers (``sqlite+aiosqlite``, ``postgresql+asyncpg``).
    For a SQLite file, its parent folder is created (0700) if missing, and
    the file is private: created 0600, or tightened to it (see
    ``private_sqlite_file``). ``options`` go to SQLAlchemy's
    ``create_async_engine`` (``echo``, ``poolclass``...).
    """
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed, options)
    return create_async_engine(parsed, pool_pre_ping=True, **options)


def async_url(url: str) -> URL:
    """Return ``url`` parsed, with the async driver filled in; raise
    UnsupportedDatabaseError for any other backend or driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise UnsupportedDatabaseError(
            f"unsupported database {backend!r}: use sqlite or postgresql"
        )
    if "+" not in parsed.drivername:
        return parsed.set(drivername=f"{backend}+{driver}")
    if parsed.get_driver_name() != driver:
        raise UnsupportedDatabaseError(
            f"unsupported driver {parsed.drivername!r}: use {backend}+{driver}"
        )
    return parsed


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a session factory bound to ``engine``. Objects stay readable
    after commit (no implicit reload, which async code cannot do lazily)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_file(url: URL) -> Path | None:
    # None for in-memory and URI-style databases: nothing to create
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("uri") or database.startswith("file:"):
        return None
    return Path(database)


# SQLite's own companions of a database file, which hold its pages too
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite database at ``path`` readable by its owner only:
    created empty with mode 0600 if absent (an empty file is an empty
    database), otherwise tightened to 0600 with its -wal, -shm and -journal.
    SQLite gives the companions it creates the database file's mode, so
    they follow; a file not ours is left as it is."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for each in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        try:
            status = each.stat()
            if status.st_mode & 0o077 and status.st_uid == os.geteuid():
                each.chmod(0o600)
        except FileNotFoundError:
            continue


def _create_sqlite_engine(url: URL, options: dict[str, Any]) -> AsyncEngine:
    path = _sqlite_file(url)
    if path is not None:
        private_sqlite_file(path)
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # None: the driver never sends BEGIN itself; begin_immediate does.
    dbapi_connection.isolation_level = None
    dbapi_connection.run_async(_apply_sqlite_pragmas)


async def _apply_sqlite_pragmas(connection: aiosqlite.Connection) -> None:
    # busy_timeout first, so that what follows waits for a busy database
    await _pragma(connection, f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    await _switch_to_wal(connection)
    await _pragma(connection, "foreign_keys=ON")


async def _switch_to_wal(connection: aiosqlite.Connection) -> None:
    # Leaving rollback-journal mode needs an exclusive lock, for which SQLite
    # does not call its busy handler: two processes opening a brand-new file
    # at once can get "database is locked". The mode is stored in the file,
    # so this only happens on first use; retry within the busy timeout.
    deadline = asyncio.get_running_loop().time() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await _pragma(connection, "journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.02)


async def _pragma(connection: aiosqlite.Connection, pragma: str) -> None:
    async with connection.execute(f"PRAGMA {pragma}"):
        pass


