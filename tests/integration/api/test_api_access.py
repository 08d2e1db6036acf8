"""Who may call /api/v1 (issue 13, item 3): personal tokens speak for
their user and role, the admin token is the bootstrap operator, a role
without a route's permission gets 403, an account admin sees only its own
account (invariant 8), a revoked token stops at once, and a change leaves
exactly one audit entry naming who made it (item 4)."""

from __future__ import annotations

from access import audit, tokens
from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from tests.integration.admin.support import new_subscriber
from tests.integration.admin.test_http_admin import AUTH

from .roles import bearer

API = "/api/v1"


async def test_a_personal_token_of_an_operator_reads_an_account(engine, client) -> None:
    """A user's token authenticates as that user: an operator reads any account."""
    created = await new_subscriber(engine, code="OPS1")
    response = await client.get(f"{API}/accounts/{created.account.id}", headers=await bearer(engine, OPERATOR))
    assert response.status == 200, await response.text()
    assert (await response.json())["code"] == "OPS1"


async def test_an_unknown_personal_token_is_401_in_the_error_shape(client) -> None:
    """A token that is none of ours is refused like a wrong admin token."""
    response = await client.get(f"{API}/subscribers", headers={"Authorization": "Bearer cpt_" + "x" * 43})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthenticated"


async def test_a_revoked_token_stops_working_with_the_next_request(engine, client) -> None:
    """Issue 13 tests: a revoked token stops working at once."""
    headers = await bearer(engine, AUDITOR)
    assert (await client.get(f"{API}/subscribers", headers=headers)).status == 200
    token_id = (await tokens.authenticate(engine, headers["Authorization"].split()[1])).token_id
    await tokens.revoke_token(engine, token_id)
    assert (await client.get(f"{API}/subscribers", headers=headers)).status == 401


async def test_an_auditor_may_read_but_not_reprocess_quarantine(engine, client) -> None:
    """The auditor role is read-only: a write route answers 403 forbidden."""
    headers = await bearer(engine, AUDITOR)
    assert (await client.get(f"{API}/quarantine", headers=headers)).status == 200
    response = await client.post(f"{API}/quarantine/reprocess", json={}, headers=headers)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_an_account_admin_reads_its_own_account_and_not_another(engine, client) -> None:
    """Invariant 8: an account admin's token opens its own account, and
    another account's id answers 403 with none of that account's data."""
    own = await new_subscriber(engine, code="OWN1")
    other = await new_subscriber(engine, code="OTHER1")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    assert (await client.get(f"{API}/accounts/{own.account.id}", headers=headers)).status == 200
    response = await client.get(f"{API}/accounts/{other.account.id}", headers=headers)
    assert response.status == 403
    assert "OTHER1" not in await response.text()
    response = await client.get(f"{API}/subscribers/{other.subscriber.id}", headers=headers)
    assert response.status == 403


async def test_an_account_admin_lists_only_its_own_subscribers_and_calls(engine, client) -> None:
    """Lists are filtered to the account admin's account; asking for another's calls is 403."""
    own = await new_subscriber(engine, code="OWN2")
    other = await new_subscriber(engine, code="OTHER2")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    listed = await (await client.get(f"{API}/subscribers", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [own.subscriber.id]
    response = await client.get(f"{API}/calls", params={"account": str(other.account.id)}, headers=headers)
    assert response.status == 403
    response = await client.get(f"{API}/calls.csv", params={"account": str(other.account.id)}, headers=headers)
    assert response.status == 403


async def test_support_reprocessing_leaves_one_audit_entry_naming_the_user(engine, client) -> None:
    """Issue 13 item 4: a change through the API is audited with who, role and source."""
    headers = await bearer(engine, SUPPORT)
    before = (await audit.list_entries(engine)).entries
    response = await client.post(f"{API}/quarantine/reprocess", json={}, headers=headers)
    assert response.status == 200, await response.text()
    entries = (await audit.list_entries(engine)).entries
    assert len(entries) == len(before) + 1
    entry = entries[0]
    assert (entry.action, entry.resource, entry.role) == ("reprocess", "quarantine", SUPPORT)
    assert entry.actor.startswith("support-") and entry.source == "127.0.0.1"


async def test_the_admin_token_acts_as_the_bootstrap_operator_in_the_audit_log(engine, client) -> None:
    """The shared admin token is the bootstrap credential: it may do
    everything and its changes are audited under its own reserved name."""
    response = await client.post(f"{API}/quarantine/reprocess", json={}, headers=AUTH)
    assert response.status == 200
    entry = (await audit.list_entries(engine)).entries[0]
    assert (entry.actor, entry.role) == ("admin_token", OPERATOR)
