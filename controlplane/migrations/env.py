"""Alembic environment. ``controlplane.migrate`` opens an async connection
and runs Alembic inside ``connection.run_sync``, handing the (sync-facing)
connection over in ``config.attributes["connection"]``.

All pending migrations run in one transaction, on SQLite as on PostgreSQL.
Around them:

- PostgreSQL: a transaction-scoped advisory lock, so control planes starting
  together migrate one after the other (the second finds nothing to do).
  SQLite gets the same from the engine's ``BEGIN IMMEDIATE``.
- SQLite: foreign keys are switched off while tables are rebuilt (batch
  mode drops and recreates a table; with them on, dropping ``subscribers``
  would cascade to every endpoint), then checked before commit.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from controlplane.migrations import TARGET_METADATA

# any fixed 64-bit number, the same in every process
MIGRATION_LOCK_ID = 0x636C69636B70686F  # "clickpho"


def run_migrations(connection: Connection) -> None:
    with _foreign_keys_off_on_sqlite(connection):
        context.configure(
            connection=connection,
            target_metadata=list(TARGET_METADATA),
            render_as_batch=True,  # SQLite alters tables by rebuilding them
            compare_type=True,
            # The engine sends BEGIN itself on SQLite too, which makes its
            # DDL transactional: a failed upgrade leaves no half-done schema.
            transactional_ddl=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            context.run_migrations()
            _refuse_broken_foreign_keys_on_sqlite(connection)


@contextmanager
def _foreign_keys_off_on_sqlite(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "sqlite":
        yield
        return
    # The pragma is ignored inside a transaction, so it goes straight to the
    # driver before Alembic begins one.
    _sqlite_pragma(connection, "foreign_keys=OFF")
    try:
        yield
    finally:
        _sqlite_pragma(connection, "foreign_keys=ON")


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _refuse_broken_foreign_keys_on_sqlite(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows with dangling foreign keys: {broken}")


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations through controlplane.migrate, which passes a connection")
run_migrations(_connection)
