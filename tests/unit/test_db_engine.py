"""controlplane.db without a database: which URLs make which engines."""

from __future__ import annotations

import pytest

from controlplane.db import UnsupportedDatabaseError, async_url, create_engine, session_factory


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///var/clickphone.sqlite3", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///var/clickphone.sqlite3", "sqlite+aiosqlite"),
        ("postgresql://clickphone@db/clickphone", "postgresql+asyncpg"),
        ("postgresql+asyncpg://clickphone@db/clickphone", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver_of_their_database(given: str, driver: str) -> None:
    assert async_url(given).drivername == driver


def test_url_keeps_everything_but_the_driver() -> None:
    url = async_url("postgresql://clickphone:s3cret@db.example:6432/billing?ssl=require")

    assert (url.username, url.password, url.host, url.port, url.database) == (
        "clickphone", "s3cret", "db.example", 6432, "billing"
    )
    assert url.query == {"ssl": "require"}


@pytest.mark.parametrize(
    "url",
    ["mysql://clickphone@db/clickphone", "oracle://clickphone@db/clickphone"],
)
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseError, match="use sqlite or postgresql"):
        async_url(url)


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg2://clickphone@db/clickphone", "sqlite+pysqlite:///clickphone.sqlite3"],
)
def test_blocking_drivers_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseError, match="unsupported driver"):
        async_url(url)


def test_postgresql_engine_uses_asyncpg() -> None:
    engine = create_engine("postgresql://clickphone@db/clickphone")  # connects lazily

    assert engine.dialect.driver == "asyncpg"


def test_sessions_keep_their_objects_readable_after_commit() -> None:
    """No expire on commit: async code cannot reload attributes lazily."""
    engine = create_engine("sqlite://")

    factory = session_factory(engine)

    assert factory.kw["expire_on_commit"] is False
    assert factory.kw["bind"] is engine
