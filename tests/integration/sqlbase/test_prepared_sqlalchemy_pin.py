"""The SQLAlchemy internals sqlbase.prepared relies on, pinned to the release
it was checked against.

``Prepared`` runs Core's compiled SQL straight on SQLite's cursor, so it
leans on parts of SQLAlchemy that are not its documented API: the
compiler's ``positiontup`` and ``binds`` (a bind's ``required`` and
``effective_value``), ``DBAPIError.instance``, and the exact values the
type processors produce. An upgrade must fail here, loudly, with what to
re-check — not silently bind a value in the wrong place.
"""

from __future__ import annotations

import re
import sqlite3
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import Boolean, bindparam, insert, select
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from sqlbase import prepared
from sqlbase.types import UtcDateTime

from .test_prepared import BUCHAREST, events  # the table prepared's own tests run on

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"

RECHECK = (
    "sqlbase/prepared.py was checked against SQLAlchemy {checked}; installed is {installed}. "
    "Re-check what it uses of SQLAlchemy's internals against the new release: "
    "SQLCompiler.positiontup (bind names in the order of the '?' marks), SQLCompiler.binds "
    "(BindParameter.required and .effective_value for literals Core made parameters), "
    "TypeEngine.dialect_impl(dialect).bind_processor/result_processor on SQLite, "
    "exported_columns of a SELECT and of INSERT ... RETURNING, "
    "Connection.connection.driver_connection, DBAPIError.instance. "
    "Then run tests/integration/sqlbase and set CHECKED_SQLALCHEMY_VERSION in "
    "sqlbase/prepared.py and the SQLAlchemy pin in pyproject.toml to the new release."
)

DIALECT = sqlite.dialect()


def recheck() -> str:
    """The failure message: the two versions and what to re-check."""
    return RECHECK.format(checked=prepared.CHECKED_SQLALCHEMY_VERSION, installed=sqlalchemy.__version__)


def test_the_installed_sqlalchemy_is_the_one_prepared_was_checked_against():
    """The installed SQLAlchemy is exactly the release prepared.py's internals
    were checked against; any other fails with what to re-check."""
    assert sqlalchemy.__version__ == prepared.CHECKED_SQLALCHEMY_VERSION, recheck()


def test_pyproject_pins_the_checked_release_exactly():
    """pyproject.toml installs exactly that release (``==``), so a fresh
    install cannot bring another one in unnoticed."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [pin] = [d for d in dependencies if re.match(r"sqlalchemy\b", d, re.IGNORECASE)]

    assert re.fullmatch(r"SQLAlchemy(\[asyncio\])?==" + re.escape(prepared.CHECKED_SQLALCHEMY_VERSION), pin), (
        f"pyproject.toml has {pin!r}: pin SQLAlchemy=={prepared.CHECKED_SQLALCHEMY_VERSION}. " + recheck()
    )


def test_positiontup_names_the_question_marks_in_their_order():
    """On SQLite a compiled statement's ``positiontup`` lists the bind names in
    the order of the ``?`` marks of its SQL: prepared.py binds by it."""
    statement = select(events.c.id).where(events.c.name == bindparam("b"), events.c.flag == bindparam("a"))

    compiled = statement.compile(dialect=DIALECT)

    assert list(compiled.positiontup) == ["b", "a"], recheck()
    assert str(compiled).count("?") == 2, recheck()


def test_a_literal_is_a_bind_not_required_carrying_its_value():
    """A literal Core turned into a parameter is in ``binds`` under its
    ``positiontup`` name, not required, with the literal as ``effective_value``;
    a named bindparam is required (prepared.py fills constants from this)."""
    statement = select(events.c.id).where(events.c.name != "ignored", events.c.flag == bindparam("flag"))

    compiled = statement.compile(dialect=DIALECT)
    literal_name, named = compiled.positiontup

    assert named == "flag", recheck()
    assert (compiled.binds[literal_name].required, compiled.binds[literal_name].effective_value) == (False, "ignored"), recheck()
    assert compiled.binds["flag"].required is True, recheck()


def test_the_type_processors_give_what_core_stores_and_returns():
    """The SQLite processors of the bind and result types: an aware time is
    stored as its UTC text and read back aware UTC; a boolean is stored as an
    integer and read back as a bool."""
    at = UtcDateTime().dialect_impl(DIALECT)
    flag = Boolean().dialect_impl(DIALECT)

    stored = at.bind_processor(DIALECT)(datetime(2025, 9, 1, 12, 0, tzinfo=BUCHAREST))
    read = at.result_processor(DIALECT, None)(stored)

    assert stored == "2025-09-01 10:00:00.000000", recheck()
    assert read == datetime(2025, 9, 1, 10, 0, tzinfo=UTC), recheck()
    assert flag.bind_processor(DIALECT)(True) == 1, recheck()
    assert flag.result_processor(DIALECT, None)(1) is True, recheck()


def test_exported_columns_are_what_a_statement_returns():
    """``exported_columns`` of a SELECT and of an INSERT ... RETURNING are the
    returned columns in order: prepared.py takes their result processors."""
    returning = insert(events).values(name=bindparam("name")).returning(events.c.id, events.c.at)
    query = select(events.c.name, events.c.flag)

    assert [c.name for c in returning.exported_columns] == ["id", "at"], recheck()
    assert [c.name for c in query.exported_columns] == ["name", "flag"], recheck()


def test_the_sqlite3_connection_and_its_errors_are_reached_as_prepared_expects(tmp_path):
    """A pysqlite connection's ``connection.driver_connection`` is the sqlite3
    connection itself, and ``DBAPIError.instance`` wraps a sqlite3 error as
    SQLAlchemy's own class (IntegrityError here), as Connection.execute raises."""
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'pin.sqlite3'}")
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert (conn.dialect.name, conn.dialect.driver) == ("sqlite", "pysqlite"), recheck()
            assert isinstance(driver, sqlite3.Connection), recheck()
    finally:
        engine.dispose()

    wrapped = DBAPIError.instance("INSERT ...", [1], sqlite3.IntegrityError("UNIQUE constraint failed"), sqlite3.Error)

    assert isinstance(wrapped, IntegrityError), recheck()
