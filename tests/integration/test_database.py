"""The database foundation on real databases: migrations, the SQLite engine's
settings, and provisioning's tables and services.

Tests taking ``db_url`` or ``engine`` run on SQLite and on PostgreSQL
(see tests/fixtures/postgres.py).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy import Table, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from controlplane import migrate
from controlplane.db import create_engine
from controlplane.migrations import MIGRATIONS_DIR
from provisioning import services
from provisioning.credentials import DEFAULT_REALM, md5_cred
from provisioning.errors import UnknownSubscriberError, UsernameTakenError
from provisioning.records import Endpoint
from provisioning.tables import sip_endpoints, subscribers

PROVISIONING_TABLES = {"subscribers", "sip_endpoints"}
REPO_ROOT = Path(__file__).resolve().parents[2]
UPGRADE_IN_A_NEW_PROCESS = (
    "import asyncio, sys; from controlplane import migrate; "
    "asyncio.run(migrate.upgrade(sys.argv[1]))"
)


# -- helpers ------------------------------------------------------------------


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def row_count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def new_subscriber_id(engine: AsyncEngine, name: str = "Ana Popescu") -> int:
    subscriber = await services.create_subscriber(engine, name=name, email="ana@example.com")
    return subscriber.id


async def add_endpoint(
    db: AsyncEngine | AsyncConnection, subscriber_id: int, username: str, **fields: str
) -> Endpoint:
    """services.add_endpoint, with a caller ID for tests that do not care."""
    fields.setdefault("caller_id_number", "1001")
    return await services.add_endpoint(
        db, subscriber_id=subscriber_id, username=username, **fields
    )


def endpoint_row(subscriber_id: int, username: str) -> dict[str, object]:
    return {
        "subscriber_id": subscriber_id,
        "username": username,
        "md5_cred": md5_cred(username, DEFAULT_REALM, "correct-horse-battery"),
        "realm": DEFAULT_REALM,
        "display_name": username,
        "caller_id_number": "1001",
    }


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}")
    try:
        yield engine
    finally:
        await engine.dispose()


async def pragma_on_two_connections(engine: AsyncEngine, pragma: str) -> list[object]:
    """The pragma's value on two connections open at once: the settings must
    hold for every connection of the pool, not only the first. (Autocommit:
    two open transactions would wait for each other, see controlplane.db.)"""
    async with engine.connect() as first, engine.connect() as second:
        return [
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).scalar(
                text(f"PRAGMA {pragma}")
            )
            for conn in (first, second)
        ]


# -- migrations ---------------------------------------------------------------


async def test_a_fresh_database_has_no_revision(db_url: str) -> None:
    assert await migrate.current(db_url) is None


async def test_upgrade_reaches_the_head_revision(db_url: str) -> None:
    await migrate.upgrade(db_url)

    assert await migrate.current(db_url) == migrate.head()


async def test_upgrade_creates_the_provisioning_tables(db_url: str) -> None:
    await migrate.upgrade(db_url)

    assert PROVISIONING_TABLES <= await table_names(db_url)


async def test_downgrade_to_base_drops_every_table_the_migrations_created(db_url: str) -> None:
    """Only Alembic's own (now empty) version table remains."""
    await migrate.upgrade(db_url)

    await migrate.downgrade(db_url, "base")

    assert await table_names(db_url) == {"alembic_version"}
    assert await migrate.current(db_url) is None


async def test_upgrade_after_downgrade_to_base_recreates_the_tables(db_url: str) -> None:
    await migrate.upgrade(db_url)
    await migrate.downgrade(db_url, "base")

    await migrate.upgrade(db_url)

    assert PROVISIONING_TABLES <= await table_names(db_url)
    assert await migrate.current(db_url) == migrate.head()


async def test_migrated_schema_matches_the_tables_declared_in_code(db_url: str) -> None:
    """Every table change in code comes with its migration."""
    await migrate.upgrade(db_url)

    assert await migrate.schema_differences(db_url) == []


async def test_upgrade_to_0008_keeps_each_endpoints_digest_credential_not_its_password(db_url: str) -> None:
    """Issue 10, defect 8: stored passwords become MD5(user:realm:password)
    in the realm "clickphone"; the password column is gone."""
    await migrate.upgrade(db_url, "0007")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO subscribers (id, name, email) VALUES (1, 'Ana', 'a@example.com')"))
            await conn.execute(text(
                "INSERT INTO sip_endpoints (subscriber_id, username, password, display_name, caller_id_number)"
                " VALUES (1, 'ana', 'correct-horse-battery', 'Ana', '1001')"))

        await migrate.upgrade(db_url)

        [endpoint] = await services.list_endpoints(engine)
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda s: {c["name"] for c in inspect(s).get_columns("sip_endpoints")})
    finally:
        await engine.dispose()
    assert endpoint.realm == "clickphone"
    assert endpoint.md5_cred == md5_cred("ana", "clickphone", "correct-horse-battery")
    assert "password" not in columns


async def test_downgrade_below_0008_refuses_while_endpoints_exist_and_keeps_them(
    engine: AsyncEngine, db_url: str
) -> None:
    """Their passwords cannot be restored: refused, rather than leaving
    every phone with a password nobody knows; nothing is lost."""
    await add_endpoint(engine, await new_subscriber_id(engine), "ana")

    with pytest.raises(RuntimeError, match="passwords cannot be restored"):
        await migrate.downgrade(db_url, "0007")

    assert await migrate.current(db_url) == migrate.head()
    assert [e.username for e in await services.list_endpoints(engine)] == ["ana"]


async def test_control_planes_starting_together_both_migrate_the_fresh_database(
    db_url: str,
) -> None:
    """Several control planes may start at once on one database: their
    upgrades take turns, and the second finds nothing left to do."""
    upgrades = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", UPGRADE_IN_A_NEW_PROCESS, db_url, cwd=REPO_ROOT
        )
        for _ in range(2)
    ]

    assert [await process.wait() for process in upgrades] == [0, 0]
    assert await migrate.current(db_url) == migrate.head()


def copy_of_the_migrations(tmp_path: Path) -> Path:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    return scripts


def scripts_with_extra_revision(tmp_path: Path, upgrade_body: str) -> Path:
    """A copy of the project's migrations plus revision "9999" on top."""
    scripts = copy_of_the_migrations(tmp_path)
    (scripts / "versions" / "9999_extra.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        f"revision = '9999'\ndown_revision = {migrate.head()!r}\n"
        "branch_labels = None\ndepends_on = None\n"
        f"def upgrade():\n    {upgrade_body}\n"
        "def downgrade():\n    pass\n"
    )
    return scripts


async def test_a_failed_upgrade_leaves_the_schema_as_it_was(db_url: str, tmp_path: Path) -> None:
    """All pending migrations run in one transaction, SQLite included: the
    revisions before the failing one are undone too."""
    scripts = scripts_with_extra_revision(
        tmp_path,
        "op.create_table('half_done', sa.Column('id', sa.Integer, primary_key=True)); "
        "raise RuntimeError('migration bug')",
    )

    with pytest.raises(RuntimeError, match="migration bug"):
        await migrate.upgrade(db_url, script_location=scripts)

    assert await table_names(db_url) <= {"alembic_version"}
    assert await migrate.current(db_url) is None


async def test_a_migration_rebuilding_subscribers_keeps_their_endpoints(
    db_url: str, tmp_path: Path
) -> None:
    """On SQLite, batch mode rebuilds a table to change a column type and
    drops the old one; with foreign keys enforced during the migration, the
    ON DELETE CASCADE would delete every endpoint with it."""
    scripts = scripts_with_extra_revision(
        tmp_path,
        "with op.batch_alter_table('subscribers') as batch: "
        "batch.alter_column('name', existing_type=sa.String(128), type_=sa.String(200))",
    )
    await migrate.upgrade(db_url)
    engine = create_engine(db_url)
    try:
        subscriber_id = await new_subscriber_id(engine)
        endpoint = await add_endpoint(engine, subscriber_id, "ana")

        await migrate.upgrade(db_url, script_location=scripts)

        assert await migrate.current(db_url) == "9999"
        assert await services.list_endpoints(engine) == [endpoint]
    finally:
        await engine.dispose()


async def test_revision_writes_a_numbered_file_from_the_difference_with_the_code(
    db_url: str, tmp_path: Path
) -> None:
    """With the database at head and no table changed, the new revision
    changes nothing."""
    scripts = copy_of_the_migrations(tmp_path)
    await migrate.upgrade(db_url)

    path = await migrate.revision(db_url, "nothing new", "0999", script_location=scripts)

    assert path == scripts / "versions" / "0999_nothing_new.py"
    assert "op." not in path.read_text()  # no operation generated
    assert migrate.head(scripts) == "0999"


# -- the SQLite engine --------------------------------------------------------


async def test_sqlite_engine_uses_write_ahead_logging(sqlite_engine: AsyncEngine) -> None:
    assert await pragma_on_two_connections(sqlite_engine, "journal_mode") == ["wal", "wal"]


async def test_sqlite_engine_waits_at_least_five_seconds_for_a_lock(
    sqlite_engine: AsyncEngine,
) -> None:
    timeouts = await pragma_on_two_connections(sqlite_engine, "busy_timeout")

    assert min(timeouts) >= 5000


async def test_sqlite_engine_enforces_foreign_keys(sqlite_engine: AsyncEngine) -> None:
    assert await pragma_on_two_connections(sqlite_engine, "foreign_keys") == [1, 1]


async def test_sqlite_engine_creates_the_missing_folder_of_its_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "clickphone.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE probe (id INTEGER)"))
            await conn.commit()
    finally:
        await engine.dispose()

    assert path.is_file()


async def test_sqlite_read_modify_write_transactions_do_not_lose_updates(
    sqlite_engine: AsyncEngine,
) -> None:
    """A transaction that reads then writes (a balance, a reservation) holds
    the write lock from its first read; concurrent ones wait their turn
    instead of failing with "database is locked" or overwriting each other."""
    async with sqlite_engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (value INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))

    async def increment() -> None:
        async with sqlite_engine.begin() as conn:
            value = await conn.scalar(text("SELECT value FROM counter"))
            await asyncio.sleep(0.01)  # let the others run in between
            await conn.execute(text("UPDATE counter SET value = :v"), {"v": value + 1})

    await asyncio.gather(*(increment() for _ in range(8)))

    async with sqlite_engine.connect() as conn:
        assert await conn.scalar(text("SELECT value FROM counter")) == 8


async def test_sqlite_autocommit_reads_do_not_wait_for_an_open_write_transaction(
    sqlite_engine: AsyncEngine,
) -> None:
    """The documented way for a long read-only report not to hold writers
    back, nor wait for them."""
    async with sqlite_engine.begin() as conn:
        await conn.execute(text("CREATE TABLE probe (id INTEGER)"))

    async with sqlite_engine.begin() as writer, sqlite_engine.connect() as reader:
        await writer.execute(text("INSERT INTO probe VALUES (1)"))
        reader = await reader.execution_options(isolation_level="AUTOCOMMIT")
        count = await asyncio.wait_for(reader.scalar(text("SELECT count(*) FROM probe")), 1)

    assert count == 0  # the write is not committed yet


# -- provisioning -------------------------------------------------------------


async def test_create_subscriber_defaults_the_language_to_romanian(engine: AsyncEngine) -> None:
    subscriber = await services.create_subscriber(engine, name="Ana", email="ana@example.com")

    assert subscriber.language == "ro"


async def test_subscriber_creation_time_is_aware_utc_on_both_databases(
    engine: AsyncEngine,
) -> None:
    subscriber = await services.create_subscriber(engine, name="Ana", email="ana@example.com")

    async with engine.connect() as conn:
        stored = await conn.scalar(select(subscribers.c.created_at))
    assert stored == subscriber.created_at
    assert stored.utcoffset().total_seconds() == 0


async def test_add_endpoint_generates_a_strong_password_when_none_is_given(
    engine: AsyncEngine,
) -> None:
    subscriber_id = await new_subscriber_id(engine)

    first = await add_endpoint(engine, subscriber_id, "ana1")
    second = await add_endpoint(engine, subscriber_id, "ana2")

    assert len(first.password) >= 24
    assert first.password != second.password


async def test_add_endpoint_stores_only_the_given_passwords_digest_credential(engine: AsyncEngine) -> None:
    """Issue 10, defect 8: what Asterisk needs, MD5(user:realm:password), is
    kept; the password is answered once and never stored."""
    subscriber_id = await new_subscriber_id(engine)

    added = await services.add_endpoint(
        engine,
        subscriber_id=subscriber_id,
        username="ana",
        caller_id_number="1001",
        password="correct-horse-battery",
    )

    [stored] = await services.list_endpoints(engine)
    assert added.password == "correct-horse-battery" and stored.password is None
    assert (stored.realm, stored.md5_cred) == (
        DEFAULT_REALM, md5_cred("ana", DEFAULT_REALM, "correct-horse-battery"))


async def test_add_endpoint_shows_the_username_when_no_display_name_is_given(
    engine: AsyncEngine,
) -> None:
    subscriber_id = await new_subscriber_id(engine)

    endpoint = await add_endpoint(engine, subscriber_id, "ana")

    assert endpoint.display_name == "ana"


async def test_list_endpoints_returns_every_endpoint_ordered_by_username(
    engine: AsyncEngine,
) -> None:
    ana = await new_subscriber_id(engine, "Ana")
    ion = await new_subscriber_id(engine, "Ion")
    added = [
        await add_endpoint(engine, ion, "ion"),
        await add_endpoint(engine, ana, "ana"),
        await add_endpoint(engine, ana, "ana-desk"),
    ]

    listed = await services.list_endpoints(engine)

    assert listed == sorted(added, key=lambda endpoint: endpoint.username)


async def test_ensure_demo_subscriber_creates_demo1000_with_caller_id_1000(
    engine: AsyncEngine,
) -> None:
    demo = await services.ensure_demo_subscriber(engine)

    assert (demo.username, demo.caller_id_number) == ("demo1000", "1000")
    assert await services.list_endpoints(engine) == [demo]


async def test_ensure_demo_subscriber_again_returns_the_same_endpoint(
    engine: AsyncEngine,
) -> None:
    """Idempotent: `make run` calls it on every start; the password shown
    the first time stays valid and is not shown again (issue 10, defect 8)."""
    first = await services.ensure_demo_subscriber(engine)

    again = await services.ensure_demo_subscriber(engine)

    assert again == first
    assert first.password is not None and again.password is None
    assert again.md5_cred == md5_cred(again.username, again.realm, first.password)
    assert await row_count(engine, subscribers) == 1


async def test_concurrent_ensure_demo_subscriber_creates_one_subscriber(
    engine: AsyncEngine,
) -> None:
    results = await asyncio.gather(*(services.ensure_demo_subscriber(engine) for _ in range(5)))

    assert len(set(results)) == 1
    assert await row_count(engine, subscribers) == 1
    assert await row_count(engine, sip_endpoints) == 1


async def test_database_refuses_a_second_endpoint_with_the_same_username(
    engine: AsyncEngine,
) -> None:
    """The unique constraint itself, not only the service's check."""
    subscriber_id = await new_subscriber_id(engine)
    async with engine.begin() as conn:
        await conn.execute(insert(sip_endpoints).values(endpoint_row(subscriber_id, "ana")))

    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(sip_endpoints).values(endpoint_row(subscriber_id, "ana")))


async def test_add_endpoint_with_a_taken_username_raises_username_taken(
    engine: AsyncEngine,
) -> None:
    subscriber_id = await new_subscriber_id(engine)
    await add_endpoint(engine, subscriber_id, "ana")

    with pytest.raises(UsernameTakenError):
        await add_endpoint(engine, subscriber_id, "ana")


async def test_a_refused_username_leaves_the_callers_transaction_usable(
    engine: AsyncEngine,
) -> None:
    """PostgreSQL aborts a transaction on a unique violation; the service
    must not cause one."""
    subscriber_id = await new_subscriber_id(engine)
    await add_endpoint(engine, subscriber_id, "ana")

    async with engine.begin() as conn:
        with pytest.raises(UsernameTakenError):
            await add_endpoint(conn, subscriber_id, "ana")
        await add_endpoint(conn, subscriber_id, "ana-desk")

    assert [e.username for e in await services.list_endpoints(engine)] == ["ana", "ana-desk"]


async def test_add_endpoint_for_an_unknown_subscriber_raises_unknown_subscriber(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(UnknownSubscriberError):
        await add_endpoint(engine, 404, "ana")


async def test_database_refuses_an_endpoint_of_a_missing_subscriber(engine: AsyncEngine) -> None:
    """Foreign keys are enforced on both databases (SQLite needs a pragma)."""
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(sip_endpoints).values(endpoint_row(404, "ana")))


async def test_deleting_a_subscriber_deletes_its_endpoints(engine: AsyncEngine) -> None:
    subscriber_id = await new_subscriber_id(engine)
    await add_endpoint(engine, subscriber_id, "ana")

    async with engine.begin() as conn:
        await conn.execute(subscribers.delete().where(subscribers.c.id == subscriber_id))

    assert await services.list_endpoints(engine) == []


async def test_work_on_a_callers_connection_is_undone_by_its_rollback(
    engine: AsyncEngine,
) -> None:
    """Given a connection, the services join its transaction: the caller
    commits or rolls back the whole unit of work."""
    async with engine.connect() as conn:
        subscriber = await services.create_subscriber(conn, name="Ana", email="ana@example.com")
        await add_endpoint(conn, subscriber.id, "ana")
        await conn.rollback()

    assert await row_count(engine, subscribers) == 0
    assert await services.list_endpoints(engine) == []
