"""Data for the console's operations tests: rated calls, quarantined lines, dead emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from access import audit
from billing.ingest import CdrSource, ingest_lines
from notify import outbox
from notify.outbox import RetryPolicy
from tests.integration.billing.cdrs import master_line
from tests.integration.notify.support import alert

START = datetime(2025, 8, 2, 10, 0, tzinfo=UTC)  # 13:00 in Bucharest: the day is 2025-08-02 there too
SOURCE = CdrSource("Master.csv", "pbx1")


async def rated_calls(engine, code: str, days: int, *, per_day: int = 1, answered: bool = True) -> None:
    """``per_day`` calls of account ``code`` on each of ``days`` days from START, rated."""
    lines = [master_line(f"{code}-{'a' if answered else 'n'}-{day}-{i}", account=code,
                         start=START + timedelta(days=day, minutes=i), answered=answered)
             for day in range(days) for i in range(per_day)]
    report = await ingest_lines(engine, lines, SOURCE)
    assert report.quarantined == 0 and report.charged == len(lines), report


async def quarantined_line(engine, code: str) -> None:
    """A line quarantined because its account ``code`` does not exist (yet)."""
    report = await ingest_lines(engine, [master_line(f"late-{code}", account=code)], SOURCE)
    assert report.quarantined == 1


async def dead_email(engine, key: str) -> int:
    """An email the server refused for good: enqueued, claimed, failed permanently."""
    email_id = await outbox.enqueue(engine, alert(key))
    [claim] = [c for c in await outbox.claim_due(engine, limit=100, policy=RetryPolicy()) if c.id == email_id]
    assert await outbox.record_failure(engine, claim, "550 5.1.1 no such mailbox", policy=RetryPolicy(),
                                       permanent=True) == outbox.DEAD
    return email_id


async def audit_entries(engine) -> list:
    """Every audit entry, newest first."""
    return (await audit.list_entries(engine)).entries


async def post_form(client, login, path: str, **data):
    """POST a console form with the session's cookie and CSRF token, redirects not followed."""
    return await client.post(path, data={"csrf": login.csrf, **data}, headers=login.headers, allow_redirects=False)


async def answer(client, login, method: str, path: str, **data):
    """The console's answer to ``login``'s GET or form POST of ``path`` (redirects not followed)."""
    if method == "POST":
        return await post_form(client, login, path, **data)
    return await client.get(path, headers=login.headers, allow_redirects=False)
