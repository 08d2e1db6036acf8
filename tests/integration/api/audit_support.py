"""Audit-log checks shared by the /api/v1 write tests: a write leaves
exactly one entry (with its before/after), a refused one none."""

from __future__ import annotations

from access import audit


async def audit_count(engine) -> int:
    """How many entries the audit log holds (at most 200 in these tests)."""
    return len((await audit.list_entries(engine, limit=200)).entries)


async def one_new_entry(engine, count_before: int) -> audit.AuditEntry:
    """The one entry written since ``count_before``; fails if there is not exactly one."""
    entries = (await audit.list_entries(engine, limit=200)).entries
    assert len(entries) == count_before + 1, [(e.action, e.resource) for e in entries]
    return entries[0]
