"""/api/v1's users, personal tokens, /me and the audit log (issue 13,
items 3 and 4): operators manage users and tokens, every role manages its
own tokens only, a token issued through the API works and its revocation
stops it at once, each change leaves one audit entry (never a secret)."""

from __future__ import annotations

import json

from access import tokens
from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from tests.integration.admin.support import new_subscriber
from tests.integration.admin.test_http_admin import AUTH

from .audit_support import audit_count, one_entry_since
from .roles import bearer

API = "/api/v1"


async def test_an_operator_creates_a_user_with_a_generated_password_shown_once(engine, client) -> None:
    """POST /users without a password answers a generated one; the audit entry names the role, no password."""
    count = await audit_count(engine)
    response = await client.post(f"{API}/users", json={"username": "ana.pop", "role": SUPPORT}, headers=AUTH)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["user"]["username"] == "ana.pop" and created["user"]["role"] == SUPPORT
    assert len(created["password"]) >= 12
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("create", "user", "ana.pop")
    assert entry.changes["role"] == {"before": None, "after": SUPPORT}
    assert created["password"] not in json.dumps(entry.changes)
    listed = await (await client.get(f"{API}/users", headers=AUTH)).json()
    assert "ana.pop" in [user["username"] for user in listed["items"]]
    assert "password" not in json.dumps(listed)


async def test_a_user_with_a_given_password_is_not_answered_the_password(client) -> None:
    """A password the operator chose is not echoed back."""
    response = await client.post(f"{API}/users", json={"username": "ion.pop", "role": AUDITOR,
                                                       "password": "long enough password"}, headers=AUTH)
    assert response.status == 201
    assert (await response.json())["password"] is None


async def test_a_bad_user_is_400_naming_the_field_and_leaves_no_entry(engine, client) -> None:
    """Bad username, unknown role, an account admin without its account, a short password:
    each 400 with its field; none is audited."""
    count = await audit_count(engine)
    cases = [({"username": "A!", "role": SUPPORT}, "username"),
             ({"username": "good.name", "role": "root"}, "role"),
             ({"username": "good.name", "role": ACCOUNT_ADMIN}, "account"),
             ({"username": "good.name", "role": ACCOUNT_ADMIN, "account": 999999}, "account"),
             ({"username": "good.name", "role": SUPPORT, "password": "short"}, "password"),
             ({"username": "good.name", "role": SUPPORT, "extra": 1}, "extra")]
    for body, field in cases:
        response = await client.post(f"{API}/users", json=body, headers=AUTH)
        assert response.status == 400, (body, await response.text())
        assert (await response.json())["error"]["field"] == field, body
    assert await audit_count(engine) == count


async def test_a_taken_username_is_409_and_leaves_no_entry(engine, client) -> None:
    """Creating a user twice: the second is a conflict, not audited."""
    assert (await client.post(f"{API}/users", json={"username": "twice", "role": SUPPORT}, headers=AUTH)).status == 201
    count = await audit_count(engine)
    response = await client.post(f"{API}/users", json={"username": "twice", "role": SUPPORT}, headers=AUTH)
    assert response.status == 409
    assert await audit_count(engine) == count


async def test_a_token_issued_through_the_api_works_and_its_revocation_stops_it_at_once(engine, client) -> None:
    """Issue 13 tests: POST /users/{u}/tokens gives a working token; DELETE /tokens/{id} stops it
    with the next request; each leaves one audit entry without the token's value."""
    await client.post(f"{API}/users", json={"username": "tok.user", "role": AUDITOR}, headers=AUTH)
    count = await audit_count(engine)
    response = await client.post(f"{API}/users/tok.user/tokens", json={"name": "ci"}, headers=AUTH)
    assert response.status == 201, await response.text()
    issued = await response.json()
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("create", "token", str(issued["token"]["id"]))
    assert entry.changes == {"name": {"before": None, "after": "ci"}, "user": {"before": None, "after": "tok.user"}}
    assert issued["value"] not in json.dumps(entry.changes)
    headers = {"Authorization": f"Bearer {issued['value']}"}
    me = await (await client.get(f"{API}/me", headers=headers)).json()
    assert (me["name"], me["role"]) == ("tok.user", AUDITOR)
    count = await audit_count(engine)
    response = await client.delete(f"{API}/tokens/{issued['token']['id']}", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["revoked_at"] is not None
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource) == ("revoke", "token")
    assert entry.changes["revoked_at"]["before"] is None and entry.changes["revoked_at"]["after"]
    assert (await client.get(f"{API}/me", headers=headers)).status == 401
    listed = await (await client.get(f"{API}/users/tok.user/tokens", headers=AUTH)).json()
    assert [t["id"] for t in listed["items"]] == [issued["token"]["id"]] and "value" not in listed["items"][0]


async def test_revoking_a_revoked_token_changes_nothing_and_is_not_audited_again(engine, client) -> None:
    """A second revocation answers the token as it is and leaves no entry."""
    headers = await bearer(engine, SUPPORT)
    token_id = (await tokens.authenticate(engine, headers["Authorization"].split()[1])).token_id
    assert (await client.delete(f"{API}/tokens/{token_id}", headers=AUTH)).status == 200
    count = await audit_count(engine)
    assert (await client.delete(f"{API}/tokens/{token_id}", headers=AUTH)).status == 200
    assert await audit_count(engine) == count
    assert (await client.delete(f"{API}/tokens/2147483647", headers=AUTH)).status == 404


async def test_disabling_a_user_stops_its_tokens_and_is_audited_once(engine, client) -> None:
    """POST /users/{u}/disable: the user's token answers 401 at once; one entry with disabled_at."""
    headers = await bearer(engine, SUPPORT)
    me = await (await client.get(f"{API}/me", headers=headers)).json()
    count = await audit_count(engine)
    response = await client.post(f"{API}/users/{me['name']}/disable", headers=AUTH)
    assert response.status == 200 and (await response.json())["disabled_at"] is not None
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource_id) == ("disable", me["name"])
    assert entry.changes["disabled_at"]["before"] is None
    assert (await client.get(f"{API}/me", headers=headers)).status == 401
    assert (await client.post(f"{API}/users/{me['name']}/disable", headers=AUTH)).status == 200
    assert await audit_count(engine) == count + 1
    assert (await client.post(f"{API}/users/no.such.user/disable", headers=AUTH)).status == 404


async def test_an_operator_may_not_disable_itself(engine, client) -> None:
    """Disabling oneself is refused (409) rather than locking oneself out."""
    headers = await bearer(engine, OPERATOR)
    me = await (await client.get(f"{API}/me", headers=headers)).json()
    response = await client.post(f"{API}/users/{me['name']}/disable", headers=headers)
    assert response.status == 409


async def test_only_operators_manage_users(engine, client) -> None:
    """users.write is the operator's: support, auditors and account admins get 403; only the
    auditor (every read) may list them."""
    own = await new_subscriber(engine, code="USR1")
    for role in (SUPPORT, AUDITOR, ACCOUNT_ADMIN):
        headers = await bearer(engine, role, own.account.id)
        assert (await client.get(f"{API}/users", headers=headers)).status == (200 if role == AUDITOR else 403), role
        response = await client.post(f"{API}/users", json={"username": "x.y.z", "role": OPERATOR}, headers=headers)
        assert response.status == 403, role


async def test_every_role_manages_its_own_tokens_and_no_one_elses(engine, client) -> None:
    """self.read/self.write: an auditor lists, issues and revokes its own tokens; another user's
    token id under /me is 404 and stays live."""
    mine = await bearer(engine, AUDITOR)
    theirs = await bearer(engine, AUDITOR)
    their_id = (await tokens.authenticate(engine, theirs["Authorization"].split()[1])).token_id
    response = await client.post(f"{API}/me/tokens", json={"name": "rotated"}, headers=mine)
    assert response.status == 201, await response.text()
    new = await response.json()
    listed = await (await client.get(f"{API}/me/tokens", headers=mine)).json()
    assert new["token"]["id"] in [t["id"] for t in listed["items"]] and len(listed["items"]) == 2
    assert (await client.delete(f"{API}/me/tokens/{their_id}", headers=mine)).status == 404
    assert (await client.get(f"{API}/me", headers=theirs)).status == 200
    count = await audit_count(engine)
    old_id = (await tokens.authenticate(engine, mine["Authorization"].split()[1])).token_id
    fresh = {"Authorization": f"Bearer {new['value']}"}
    assert (await client.delete(f"{API}/me/tokens/{old_id}", headers=fresh)).status == 200
    assert (await one_entry_since(engine, count)).resource_id == str(old_id)
    assert (await client.get(f"{API}/me", headers=mine)).status == 401
    assert (await client.get(f"{API}/me", headers=fresh)).status == 200


async def test_a_token_name_out_of_bounds_is_400_naming_name(client, engine) -> None:
    """A token's name is 1 to 64 printable characters."""
    headers = await bearer(engine, SUPPORT)
    for name in ("", "x" * 65, "tab\there"):
        response = await client.post(f"{API}/me/tokens", json={"name": name}, headers=headers)
        assert response.status == 400, name
        assert (await response.json())["error"]["field"] == "name"


async def test_the_admin_token_is_no_user_and_has_no_tokens(client) -> None:
    """/me answers the bootstrap operator; its /me/tokens is a 409 saying to create an operator."""
    me = await (await client.get(f"{API}/me", headers=AUTH)).json()
    assert (me["name"], me["role"], me["credential"]) == ("admin_token", OPERATOR, "admin_token")
    assert (await client.get(f"{API}/me/tokens", headers=AUTH)).status == 409


async def test_the_audit_log_is_listed_filtered_and_paged(engine, client) -> None:
    """GET /audit: newest first, by resource and actor, in cursor pages; audit.read only."""
    for name in ("pg.one", "pg.two", "pg.three"):
        await client.post(f"{API}/users", json={"username": name, "role": SUPPORT}, headers=AUTH)
    first = await (await client.get(f"{API}/audit", params={"resource": "user", "actor": "admin_token",
                                                            "limit": "2"}, headers=AUTH)).json()
    assert [e["resource_id"] for e in first["items"]] == ["pg.three", "pg.two"]
    assert first["items"][0]["changes"]["role"] == {"before": None, "after": SUPPORT}
    second = await (await client.get(f"{API}/audit", params={"resource": "user", "limit": "2",
                                                             "cursor": first["next_cursor"]}, headers=AUTH)).json()
    assert [e["resource_id"] for e in second["items"]] == ["pg.one"] and second["next_cursor"] is None
    none = await (await client.get(f"{API}/audit", params={"resource_id": "pg.two", "since": "2999-01-01T00:00:00Z"},
                                   headers=AUTH)).json()
    assert none["items"] == []
    auditor = await bearer(engine, AUDITOR)
    assert (await client.get(f"{API}/audit", headers=auditor)).status == 200
    own = await new_subscriber(engine, code="AUD1")
    assert (await client.get(f"{API}/audit", headers=await bearer(engine, ACCOUNT_ADMIN, own.account.id))).status == 403
    for params, field in (({"since": "yesterday"}, "since"), ({"cursor": "bogus"}, "cursor"),
                          ({"resource": "Bad Name"}, "resource"), ({"limit": "201"}, "limit")):
        response = await client.get(f"{API}/audit", params=params, headers=AUTH)
        assert response.status == 400, params
        assert (await response.json())["error"]["field"] == field
