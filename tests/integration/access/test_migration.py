"""Migrations 0019 (the access tables) and 0021 (console sessions) upgrade and downgrade on SQLite and PostgreSQL."""

from __future__ import annotations

from controlplane import migrate
from tests.integration.test_database import table_names

ACCESS_TABLES = {"admin_users", "api_tokens", "login_failures", "audit_log"}


async def test_0019_downgrades_to_0018_and_upgrades_again(db_url):
    """A working downgrade: 0018 has none of the access tables; head has them all again."""
    await migrate.upgrade(db_url)
    await migrate.downgrade(db_url, "0018")
    assert not ACCESS_TABLES & await table_names(db_url)
    await migrate.upgrade(db_url)
    assert ACCESS_TABLES <= await table_names(db_url)
    assert await migrate.schema_differences(db_url) == []


async def test_0021_adds_console_sessions_and_downgrades_without_them(db_url):
    """Migration 0021: admin_sessions appears at head and goes with a downgrade to 0019."""
    await migrate.upgrade(db_url)
    assert "admin_sessions" in await table_names(db_url)
    await migrate.downgrade(db_url, "0019")
    assert "admin_sessions" not in await table_names(db_url)
    assert ACCESS_TABLES <= await table_names(db_url)
    await migrate.upgrade(db_url)
    assert await migrate.schema_differences(db_url) == []
