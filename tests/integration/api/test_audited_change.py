"""web.audited.audited_change: a change and its one audit entry commit
together; a failing change leaves neither; a change that calls
``unchanged()`` leaves neither and raises nothing."""

from __future__ import annotations

import pytest

from access import audit
from web.audited import audited_change

from .audit_support import audit_count

ACTOR = audit.Actor(name="tester", source="127.0.0.1", role="operator")


async def test_a_change_commits_with_exactly_one_entry(engine) -> None:
    count = await audit_count(engine)
    async with audited_change(engine, ACTOR, None, action="set", resource="thing", resource_id=1) as change:
        change.fields({"size": 1}, {"size": 2})
    entries = (await audit.list_entries(engine, limit=200)).entries
    assert len(entries) == count + 1 and entries[0].changes == {"size": {"before": 1, "after": 2}}


async def test_a_failing_change_leaves_no_entry(engine) -> None:
    count = await audit_count(engine)
    with pytest.raises(RuntimeError):
        async with audited_change(engine, ACTOR, None, action="set", resource="thing") as change:
            change.fields(None, {"size": 2})
            raise RuntimeError("refused")
    assert await audit_count(engine) == count


async def test_an_unchanged_change_ends_quietly_without_an_entry(engine) -> None:
    """unchanged() leaves the block: what follows it in the block does not run, nothing is recorded."""
    count = await audit_count(engine)
    reached = []
    async with audited_change(engine, ACTOR, None, action="set", resource="thing") as change:
        change.unchanged()
        reached.append("after")  # pragma: no cover (never runs)
    assert reached == [] and await audit_count(engine) == count
