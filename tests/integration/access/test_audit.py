"""The audit log (issue 13, item 4), on SQLite and PostgreSQL: written in
the change's own transaction, never a secret, listed with filters and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from access import audit
from access.errors import InvalidInput, SecretInAudit
from tests.integration.access.support import T0

OPERATOR = audit.Actor(name="ana", role="operator", source="192.0.2.1")


class Rollback(Exception):
    """Raised inside a transaction to roll it back."""


async def test_an_entry_commits_with_its_change(engine):
    """The entry is part of the caller's transaction: committed with it, read back as written."""
    async with engine.begin() as conn:
        await audit.record(conn, OPERATOR, action="top_up", resource="account", resource_id=7,
                           changes=audit.changed({"balance": "1.000000"}, {"balance": "11.000000"}), now=T0)
    [entry] = (await audit.list_entries(engine)).entries
    assert (entry.actor, entry.role, entry.source, entry.resource, entry.resource_id, entry.at) == (
        "ana", "operator", "192.0.2.1", "account", "7", T0)
    assert entry.changes == {"balance": {"before": "1.000000", "after": "11.000000"}} and entry.outcome == "ok"


async def test_a_rolled_back_change_leaves_no_entry(engine):
    """A failed change leaves no audit entry: the entry rolls back with it."""
    with pytest.raises(Rollback):
        async with engine.begin() as conn:
            await audit.record(conn, OPERATOR, action="suspend", resource="account", resource_id=7)
            raise Rollback
    assert (await audit.list_entries(engine)).entries == []


async def test_fields_that_only_contain_a_secret_word_are_audited(engine):
    """Words, not substrings: a credit limit or a hashed-looking name is no secret."""
    async with engine.begin() as conn:
        await audit.record(conn, OPERATOR, action="update", resource="account",
                           changes={"credit_limit": {"before": "0.000000", "after": "5.000000"},
                                    "keyboard_layout": {"before": None, "after": "ro"}})
    (entry,) = (await audit.list_entries(engine)).entries
    assert set(entry.changes) == {"credit_limit", "keyboard_layout"}


async def test_record_refuses_an_engine(engine):
    """Given an engine, the entry would commit apart from the change: refused."""
    with pytest.raises(TypeError):
        await audit.record(engine, OPERATOR, action="suspend", resource="account")


@pytest.mark.parametrize("field", ["password", "password_hash", "token", "token_hash", "md5_cred", "smtp_secret",
                                   "api_key", "security_pin", "ari.password"])
async def test_secret_fields_are_refused(engine, field):
    """Never secrets: a change naming a secret field is refused, and nothing is written."""
    with pytest.raises(SecretInAudit) as refused:
        async with engine.begin() as conn:
            await audit.record(conn, OPERATOR, action="update", resource="user",
                               changes={field: {"before": None, "after": "s3cret"}})
    assert refused.value.field == field
    assert (await audit.list_entries(engine)).entries == []


@pytest.mark.parametrize(("options", "field"), [
    ({"action": "Drop Table"}, "action"),
    ({"resource": "r" * 33}, "resource"),
    ({"resource_id": "i" * 65}, "resource_id"),
    ({"changes": {"amount": {"before": 1.5, "after": 2.5}}}, "changes"),
    ({"changes": {"name": {"after": "x"}}}, "changes"),
    ({"changes": {"name": {"before": None, "after": "x" * 1001}}}, "changes"),
])
async def test_out_of_bounds_entries_are_refused_naming_the_field(engine, options, field):
    """Every string is bounded; values are JSON scalars (never a float: money goes as a decimal string)."""
    values = {"action": "update", "resource": "account", **options}
    with pytest.raises(InvalidInput) as refused:
        async with engine.begin() as conn:
            await audit.record(conn, OPERATOR, **values)
    assert refused.value.field == field


async def test_entries_are_filtered_and_paged_newest_first(engine):
    """Filters by resource and time; pages of at most 200 follow each other by cursor."""
    async with engine.begin() as conn:
        for n in range(5):
            await audit.record(conn, audit.CLI_ACTOR, action="update", resource="account" if n % 2 else "user",
                               resource_id=n, now=T0 + timedelta(hours=n))
    first = await audit.list_entries(engine, audit.AuditFilter(resource="user"), limit=2)
    second = await audit.list_entries(engine, audit.AuditFilter(resource="user"), cursor=first.next_cursor, limit=2)
    recent = await audit.list_entries(engine, audit.AuditFilter(since=T0 + timedelta(hours=3)))
    assert [e.resource_id for e in first.entries] == ["4", "2"] and [e.resource_id for e in second.entries] == ["0"]
    assert second.next_cursor is None
    assert [e.resource_id for e in recent.entries] == ["4", "3"]
    with pytest.raises(InvalidInput) as refused:
        await audit.list_entries(engine, limit=audit.MAX_PAGE + 1)
    assert refused.value.field == "limit"
