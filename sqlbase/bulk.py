"""INSERT and SELECT helpers for hot paths, on SQLite and PostgreSQL alike.

``insert_or_skip`` and ``upsert_adding`` build the ON CONFLICT statements
both databases speak; ``bulk_insert_or_skip`` and ``select_where_in`` send
many rows, or a list of keys, in one statement with driver-native values
(billing's CDR ingestion is their main user).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, count
from typing import Any

from sqlalchemy import Column, Row, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from .sessions import dialect_insert


def insert_or_skip(conn: AsyncConnection, table: Table, *conflict_columns: Column[Any]) -> Any:
    """Return ``INSERT INTO table ... ON CONFLICT (conflict_columns) DO NOTHING``."""
    return dialect_insert(conn, table).on_conflict_do_nothing(
        index_elements=list(conflict_columns)
    )


def upsert_adding(conn: AsyncConnection, table: Table, key: list[Column[Any]], counter: str) -> Any:
    """Return an INSERT that, on a key conflict, adds its ``counter`` value to the stored one."""
    statement = dialect_insert(conn, table)
    return statement.on_conflict_do_update(
        index_elements=key,
        set_={counter: table.c[counter] + statement.excluded[counter]},
    )


# -- the bulk path: ingestion's hot loop ----------------------------------------------
#
# SQLAlchemy processes every parameter of every row in Python; at tens of
# thousands of CDRs a second that is most of the time. These helpers send
# driver-native values straight to the driver, many rows per statement.

_MAX_PARAMETERS = 30_000  # both drivers allow 32,766 / 32,767 per statement


def native_time(conn: AsyncConnection) -> Callable[[datetime], Any]:
    """Return the function turning an aware datetime into what ``conn``'s driver
    stores for a :class:`UtcDateTime` column (the same as SQLAlchemy would)."""
    if conn.dialect.name == "sqlite":
        return _sqlite_time
    return lambda value: value.astimezone(UTC)


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime text, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC;
    # isoformat is several times faster than strftime.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


async def bulk_insert_or_skip(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    conflict: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """INSERT ``rows`` (tuples of driver-native values in ``columns`` order),
    skipping those that conflict on ``conflict``; return the ``returning``
    columns of the rows inserted.

    SQLite: multi-row ``VALUES`` statements (fewer, larger statements are
    faster). PostgreSQL: one statement whose parameters are one array per
    column (``unnest``): no parameter limit, one prepared statement, about
    twice as fast as many rows of parameters.
    """
    if not rows:
        return []
    key = (table, tuple(columns), tuple(conflict), tuple(returning))
    if conn.dialect.name == "postgresql":
        sql = _unnest_insert_sql(conn.dialect, *key)
        result = await conn.exec_driver_sql(
            sql, tuple(list(column) for column in zip(*rows, strict=True))
        )
        return list(result.all()) if returning else []
    inserted: list[Row[Any]] = []
    start = 0
    for size in _statement_sizes(len(rows), _MAX_PARAMETERS // len(columns)):
        chunk = rows[start : start + size]
        start += size
        result = await conn.exec_driver_sql(
            _values_insert_sql(*key, size), tuple(chain.from_iterable(chunk))
        )
        if returning:
            inserted.extend(result.all())
    return inserted


def _statement_sizes(rows: int, largest: int) -> list[int]:
    # Full statements of `largest` rows, the rest in powers of two: a bounded
    # set of distinct statements, so the drivers' statement caches (a
    # prepared multi-row INSERT is large) stay small.
    sizes = [largest] * (rows // largest)
    rest = rows % largest
    while rest:
        power = 1 << (rest.bit_length() - 1)
        sizes.append(power)
        rest -= power
    return sizes


async def select_where_in(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    key: str,
    values: Sequence[Any],
    *,
    order_by: str | None = None,
    for_update: bool = False,
    **equal: Any,
) -> list[Row[Any]]:
    """Return ``columns`` of the rows whose ``key`` is one of ``values`` (and
    whose other columns equal ``equal``), the list sent as ONE parameter (a
    JSON array on SQLite, an array on PostgreSQL). Rows come as the driver
    returns them (SQLite: times as text). ``for_update`` locks them on
    PostgreSQL (SQLite's BEGIN IMMEDIATE already holds the database)."""
    if not values:
        return []
    conditions = [f"{name} = ?" for name in equal]
    parameters: tuple[Any, ...] = tuple(equal.values())
    if conn.dialect.name == "sqlite":
        conditions.append(f"{key} IN (SELECT value FROM json_each(?))")
        parameters += (json.dumps(list(values)),)
    else:
        conditions.append(f"{key} = ANY(?)")
        parameters += (list(values),)
    sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {' AND '.join(conditions)}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    if for_update and conn.dialect.name == "postgresql":
        sql += " FOR UPDATE"
    return list((await conn.exec_driver_sql(_for_driver(conn.dialect.name, sql), parameters)).all())


@lru_cache(maxsize=64)
def _values_insert_sql(
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
    rows: int,
) -> str:
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return _insert_sql(table, columns, f"VALUES {', '.join([row] * rows)}", conflict, returning)


@lru_cache(maxsize=64)
def _unnest_insert_sql(
    dialect: Any,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    arrays = ", ".join(f"?::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns)
    return _for_driver(
        "postgresql",
        _insert_sql(table, columns, f"SELECT * FROM unnest({arrays})", conflict, returning),
    )


def _insert_sql(
    table: Table,
    columns: tuple[str, ...],
    rows_sql: str,
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) {rows_sql}"
        f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    )
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return sql


def _for_driver(dialect: str, sql: str) -> str:
    # Written with ? (SQLite's qmark style); asyncpg numbers them $1, $2...
    if dialect == "sqlite":
        return sql
    numbers = count(1)
    return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)
