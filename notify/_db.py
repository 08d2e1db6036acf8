"""Engine-or-connection plumbing shared by notify's services.

Every service takes either an ``AsyncEngine`` or an ``AsyncConnection``:
given an engine, it runs in its own transaction and commits it; given a
connection, it joins that connection's transaction and the caller commits
or rolls back (an email then goes out only if what caused it committed).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeAlias

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Db: TypeAlias = AsyncEngine | AsyncConnection

# INSERT ... ON CONFLICT DO NOTHING, which both databases speak through
# their own dialect's insert()
DIALECT_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction: a new one committed on success
    for an engine, the caller's own for a connection."""
    if isinstance(db, AsyncEngine):
        async with db.begin() as conn:
            yield conn
    else:
        yield db


@asynccontextmanager
async def reading(db: Db) -> AsyncIterator[AsyncConnection]:
    """Yield a connection for reads. For an engine, without a transaction:
    on SQLite every transaction takes the write lock, which a read that
    only looks has no reason to hold."""
    if isinstance(db, AsyncEngine):
        async with db.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        yield db
