"""/api/v1's email outbox: pending and dead emails listed with their
attempts and last error in cursor pages, and a dead one sent again
(audited once; 409 for one that is not dead, 404 for none, not audited)."""

from __future__ import annotations

from access.roles import AUDITOR, SUPPORT
from notify import outbox
from notify.outbox import RetryPolicy
from tests.integration.admin.test_http_admin import AUTH
from tests.integration.notify.support import alert

from .audit_support import audit_count, one_entry_since
from .roles import bearer

API = "/api/v1"
REFUSED = "550 5.1.1 no such mailbox"


async def dead_email(engine, key: str) -> int:
    """An email the server refused for good: enqueued, claimed, failed permanently."""
    email_id = await outbox.enqueue(engine, alert(key))
    [claim] = [c for c in await outbox.claim_due(engine, limit=100, policy=RetryPolicy()) if c.id == email_id]
    assert await outbox.record_failure(engine, claim, REFUSED, policy=RetryPolicy(), permanent=True) == outbox.DEAD
    return email_id


async def test_dead_and_pending_emails_are_listed_with_their_last_error_in_pages(engine, client) -> None:
    """GET /outbox?state=dead: each with kind, recipient, attempts and last error; pages of one."""
    first, second = await dead_email(engine, "a:1"), await dead_email(engine, "a:2")
    waiting = await outbox.enqueue(engine, alert("a:3"))
    page = await (await client.get(f"{API}/outbox", params={"state": "dead", "limit": "1"}, headers=AUTH)).json()
    [entry] = page["items"]
    assert (entry["id"], entry["state"], entry["attempts"], entry["last_error"]) == (first, "dead", 1, REFUSED)
    assert entry["kind"] and "@" in entry["recipient"]
    rest = await (await client.get(f"{API}/outbox", params={"state": "dead", "cursor": page["next_cursor"]},
                                   headers=AUTH)).json()
    assert [e["id"] for e in rest["items"]] == [second] and rest["next_cursor"] is None
    pending = await (await client.get(f"{API}/outbox", params={"state": "pending"}, headers=AUTH)).json()
    assert [e["id"] for e in pending["items"]] == [waiting]
    response = await client.get(f"{API}/outbox", params={"state": "sent"}, headers=AUTH)
    assert (response.status, (await response.json())["error"]["field"]) == (400, "state")
    assert (await client.get(f"{API}/outbox", headers=await bearer(engine, AUDITOR))).status == 200


async def test_a_dead_email_is_sent_again_and_audited_once(engine, client) -> None:
    """POST /outbox/{id}/retry: pending again, due now, attempts from zero; one entry with before/after."""
    email_id = await dead_email(engine, "b:1")
    count = await audit_count(engine)
    response = await client.post(f"{API}/outbox/{email_id}/retry", headers=AUTH)
    assert response.status == 200, await response.text()
    assert ((await response.json())["state"], (await response.json())["attempts"]) == ("pending", 0)
    assert (await outbox.outbox_entry(engine, email_id)).state == "pending"
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("retry", "outbox", str(email_id))
    assert entry.changes == {"state": {"before": "dead", "after": "pending"}, "attempts": {"before": 1, "after": 0}}


async def test_retrying_an_email_that_is_not_dead_is_409_and_an_unknown_one_404(engine, client) -> None:
    """Only a dead email is sent again; neither refusal is audited; support may not retry."""
    waiting = await outbox.enqueue(engine, alert("c:1"))
    count = await audit_count(engine)
    response = await client.post(f"{API}/outbox/{waiting}/retry", headers=AUTH)
    assert response.status == 409 and "pending" in (await response.json())["error"]["message"]
    assert (await client.post(f"{API}/outbox/999999/retry", headers=AUTH)).status == 404
    assert await audit_count(engine) == count
    dead = await dead_email(engine, "c:2")
    assert (await client.post(f"{API}/outbox/{dead}/retry", headers=await bearer(engine, SUPPORT))).status == 403
    assert (await outbox.outbox_entry(engine, dead)).state == "dead"
