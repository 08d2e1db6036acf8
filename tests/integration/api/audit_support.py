"""The audit log as the /api/v1 write tests read it."""

from __future__ import annotations

from access import audit

API = "/api/v1"


async def entries(engine) -> list[audit.AuditEntry]:
    """Every audit entry, newest first (the tests make fewer than a page)."""
    return (await audit.list_entries(engine, limit=200)).entries


async def one_new_entry(engine, before: list[audit.AuditEntry]) -> audit.AuditEntry:
    """The one entry written since ``before`` was read (fails unless exactly one)."""
    now = await entries(engine)
    assert len(now) == len(before) + 1, [(e.action, e.resource) for e in now[: len(now) - len(before)]]
    return now[0]


async def refused(response, status: int, field: str | None) -> dict:
    """Assert ``response`` is the error shape with ``status`` naming ``field``; return its error."""
    assert response.status == status, await response.text()
    error = (await response.json())["error"]
    assert error.get("field") == field, error
    return error


async def audit_count(engine) -> int:
    """How many entries the audit log holds (at most 200 in these tests)."""
    return len(await entries(engine))


async def one_entry_since(engine, count_before: int) -> audit.AuditEntry:
    """The one entry written since the log held ``count_before`` (fails unless exactly one)."""
    now = await entries(engine)
    assert len(now) == count_before + 1, [(e.action, e.resource) for e in now[: len(now) - count_before]]
    return now[0]
