"""The engine-or-connection convention of every service function.

Given an ``AsyncEngine``, a service runs in its own transaction and commits
it; given an ``AsyncConnection``, it joins that connection's transaction
and the caller commits or rolls back (several calls then form one unit of
work).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeAlias

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Db: TypeAlias = AsyncEngine | AsyncConnection

# Each dialect's own insert(), which can say ON CONFLICT DO NOTHING: a unique
# violation would abort a whole PostgreSQL transaction, a skipped row does not.
_DIALECT_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction: the engine's own (committed at
    the end), or the caller's connection as is (the caller commits)."""
    if isinstance(db, AsyncEngine):
        async with db.begin() as conn:
            yield conn
    else:
        yield db


@asynccontextmanager
async def reading(db: Db) -> AsyncIterator[AsyncConnection]:
    """Yield a connection for reads. For an engine, without a transaction:
    on SQLite every transaction takes the write lock, which a read that only
    looks has no reason to hold."""
    if isinstance(db, AsyncEngine):
        async with db.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        yield db


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    """Return the dialect's ``INSERT INTO table`` that can take
    ``.on_conflict_do_nothing(...)`` (and ``.on_conflict_do_update``)."""
    return _DIALECT_INSERTS[conn.dialect.name](table)
