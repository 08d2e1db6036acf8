"""A Core statement compiled once and run straight on SQLite's cursor.

On a hot path (call admission: a few statements per call) SQLAlchemy's
per-execution work — cache lookup, parameter and result set-up — costs
several times what SQLite itself does. A :class:`Prepared` statement keeps
the statement defined once, in Core, and on SQLite executes its compiled
SQL on the DB-API cursor, with the column types' own bind and result
processors for the dialect (the public ``TypeEngine`` API), so values go in and come out
exactly as ``Connection.execute`` would give them. With any other driver
(asyncpg, or aiosqlite through ``run_sync``) it is ``Connection.execute``:
there the round trip dominates.

Only plain named parameters are supported (no expanding ``IN`` lists).

Beyond the public API it relies on the compiler's ``positiontup`` and
``binds`` (``BindParameter.required`` / ``effective_value``) and on
``DBAPIError.instance``: :data:`CHECKED_SQLALCHEMY_VERSION` is the release
they were checked against, pinned in pyproject.toml, and
tests/integration/sqlbase/test_prepared_sqlalchemy_pin.py fails on any
other, saying what to re-check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

CHECKED_SQLALCHEMY_VERSION = "2.1.9"
"""The SQLAlchemy release whose internals this module was checked against."""

_Processor = Callable[[Any], Any] | None


class Prepared:
    """``statement``, executable by :meth:`rows` / :meth:`run` on a sync connection."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple]:
        """Return the statement's rows (plain tuples, values processed)."""
        if not _plain_sqlite(conn):
            return [tuple(row) for row in conn.execute(self.statement, dict(params))]
        compiled = self._compiled_for(conn.dialect)
        values = compiled.bind(params)
        with _as_sqlalchemy_error(compiled.sql, values):
            raw_rows = conn.connection.driver_connection.execute(compiled.sql, values).fetchall()
        return [compiled.result(raw) for raw in raw_rows]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Execute the statement (an INSERT, UPDATE or DELETE) for its effect."""
        if not _plain_sqlite(conn):
            conn.execute(self.statement, dict(params))
            return
        compiled = self._compiled_for(conn.dialect)
        values = compiled.bind(params)
        with _as_sqlalchemy_error(compiled.sql, values):
            conn.connection.driver_connection.execute(compiled.sql, values)

    def _compiled_for(self, dialect: Dialect) -> "_Compiled":
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return found


@contextmanager
def _as_sqlalchemy_error(sql: str, values: list[Any]) -> Iterator[None]:
    # callers catch SQLAlchemy's errors ("database is locked" included), as
    # Connection.execute would have raised them
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc


def _plain_sqlite(conn: Connection) -> bool:
    # the sync sqlite3 driver (sqlbase.worker's); an async driver's
    # connection, reached through run_sync, takes the ordinary path
    return conn.dialect.name == "sqlite" and conn.dialect.driver == "pysqlite"


class _Compiled:
    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        self.sql = str(compiled)
        self._names = list(compiled.positiontup)
        # values fixed in the statement itself (literals Core made parameters)
        self._constants = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        self._binds: list[_Processor] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._names
        ]
        # a SELECT's columns, or what an INSERT … RETURNING returns
        self._results: list[_Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.exported_columns
        ]
        self._any_result_processor = any(self._results)

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, process in zip(self._names, self._binds):
            value = params[name] if name in params else self._constants[name]
            values.append(process(value) if process is not None else value)
        return values

    def result(self, raw: tuple) -> tuple:
        if not self._any_result_processor:
            return raw
        return tuple(value if process is None else process(value) for value, process in zip(raw, self._results))
