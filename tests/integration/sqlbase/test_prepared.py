"""sqlbase.prepared.Prepared: a statement run on SQLite's cursor gives the
same values, in and out, as Connection.execute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, bindparam, insert, select
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.exc import IntegrityError

from sqlbase.prepared import Prepared
from sqlbase.types import UtcDateTime

metadata = MetaData()
events = Table(
    "prepared_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20)),
    Column("at", UtcDateTime()),
    Column("flag", Boolean),
)
BUCHAREST = timezone(timedelta(hours=2))


def test_values_round_trip_exactly_as_through_connection_execute(tmp_path):
    """Aware datetimes are stored as UTC and come back aware, booleans come
    back as booleans, constants in the statement are bound — as Core does."""
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    metadata.create_all(engine)
    add = Prepared(insert(events).values(name=bindparam("name"), at=bindparam("at"), flag=bindparam("flag"))
                   .returning(events.c.id, events.c.at))
    since = Prepared(select(events.c.name, events.c.at, events.c.flag)
                     .where(events.c.at >= bindparam("since"), events.c.name != "ignored").order_by(events.c.id))
    local = datetime(2025, 9, 1, 12, 0, tzinfo=BUCHAREST)
    with engine.begin() as conn:
        (first,) = add.rows(conn, {"name": "a", "at": local, "flag": True})
        add.rows(conn, {"name": "ignored", "at": local, "flag": False})
        add.rows(conn, {"name": "b", "at": local + timedelta(hours=1), "flag": False})
    assert first == (1, datetime(2025, 9, 1, 10, 0, tzinfo=UTC))
    with engine.connect() as conn:
        fast = since.rows(conn, {"since": local})
        core = [tuple(r) for r in conn.execute(since.statement, {"since": local})]
    assert fast == core == [
        ("a", datetime(2025, 9, 1, 10, 0, tzinfo=UTC), True),
        ("b", datetime(2025, 9, 1, 11, 0, tzinfo=UTC), False),
    ]
    assert isinstance(fast[0][2], bool)
    engine.dispose()


def test_a_database_error_is_raised_as_sqlalchemys(tmp_path):
    """Callers catch SQLAlchemy's errors: a failing statement on the fast
    path raises one, as Connection.execute would."""
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    metadata.create_all(engine)
    add = Prepared(insert(events).values(id=bindparam("id"), name=bindparam("name")))
    with engine.begin() as conn:
        add.run(conn, {"id": 1, "name": "a"})
        with pytest.raises(IntegrityError):
            add.run(conn, {"id": 1, "name": "again"})
    engine.dispose()
