"""The /admin routes stay, authenticated, authorised and audited like
/api/v1 (issue 13): personal API tokens and the admin token through the one
authentication function, a permission per route (staff only: an account
admin gets 403 on every one), and exactly one audit entry per successful
write, in its transaction, naming who made it — never a secret."""

from __future__ import annotations

import inspect
import json

import pytest

from access import audit
from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, ROLE_PERMISSIONS, SUPPORT
from tests.integration.api.roles import bearer

from .support import new_subscriber
from .test_http_admin import AUTH, SUBSCRIBER, client, plane  # noqa: F401 (fixtures)

UNKNOWN_ID = 999_999
"""An id no fixture row has: an allowed role's call answers 404, changing nothing."""


def admin_routes(client) -> list[tuple[str, str, object]]:
    """Every /admin route of the app: method, path pattern, guarded handler."""
    found = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or ""
        if path.startswith("/admin") and route.method != "HEAD":
            found.append((route.method, path, route.handler))
    assert len(found) >= 18, found  # the routes of web.admin_routes' table
    return found


def filled(path: str, account_id: int) -> str:
    """``path`` with its ids filled in: an account's, a plan's name, an invoice number."""
    return (path.replace("{account_id}", str(account_id)).replace("{name}", "basic")
            .replace("{number}", "CP-000001"))


async def newest_entries(engine, count: int = 50) -> list[audit.AuditEntry]:
    return (await audit.list_entries(engine, limit=count)).entries


def test_every_admin_route_needs_a_known_permission_and_every_write_is_audited(client) -> None:
    """Structural: each /admin route's guard names a permission of access.roles,
    and each write's handler makes its change through ``audited(`` (so a new
    route cannot skip either)."""
    for method, path, handler in admin_routes(client):
        permission = getattr(handler, "permission", None)
        assert permission is not None, f"{method} {path} is not guarded by admin_route(permission)"
        assert permission in ROLE_PERMISSIONS[OPERATOR], f"{method} {path}: {permission}"
        if method != "GET":
            source = inspect.getsource(inspect.unwrap(handler))
            assert "audited(" in source, f"{method} {path} changes something without an audited change"


async def test_a_personal_token_of_an_operator_works_on_admin_and_is_audited_by_name(engine, client) -> None:
    """A user's token authenticates on /admin as on /api/v1, and the top-up
    it makes is audited under the user's name with the balance before and after."""
    created = await new_subscriber(engine, code="TOK1")
    headers = await bearer(engine, OPERATOR)
    response = await client.post(f"/admin/accounts/{created.account.id}/top-ups", json={"amount": "10.50"},
                                 headers=headers)
    assert response.status == 201, await response.text()
    (entry,) = (await newest_entries(engine, 1))
    assert entry.actor.startswith("operator-") and entry.role == OPERATOR
    assert (entry.action, entry.resource, entry.resource_id) == ("top_up", "account", str(created.account.id))
    assert entry.changes["balance"] == {"before": "0.000000", "after": "10.500000"}


async def test_a_wrong_personal_token_is_401_in_the_admin_error_shape(client) -> None:
    """A token that is none of ours is refused like a wrong admin token, in /admin's error shape."""
    response = await client.get("/admin/plans", headers={"Authorization": "Bearer cpt_" + "x" * 43})
    assert response.status == 401
    assert isinstance((await response.json())["error"], str)


async def test_an_account_admin_gets_403_on_every_admin_route_even_for_its_own_account(engine, client) -> None:
    """/admin is staff-only: it has no per-account filtering, so an account
    admin is refused everywhere, its own account included, and nothing is audited."""
    own = await new_subscriber(engine, code="OWN9")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    for method, path, _ in admin_routes(client):
        response = await client.request(method, filled(path, own.account.id), json={}, headers=headers)
        assert response.status == 403, f"{method} {path}: {response.status}"
        assert (await response.json())["error"].startswith("forbidden")
    assert await newest_entries(engine) == []


@pytest.mark.parametrize("role", [OPERATOR, SUPPORT, AUDITOR])
async def test_each_admin_route_is_403_exactly_when_the_role_lacks_its_permission(engine, client, role) -> None:
    """Every /admin route × staff role: 403 when the role lacks the route's
    permission, anything else (here 400/404/409: an unknown account) when it holds it."""
    headers = await bearer(engine, role)
    for method, path, handler in admin_routes(client):
        response = await client.request(method, filled(path, UNKNOWN_ID), json={}, headers=headers)
        lacks = handler.permission not in ROLE_PERMISSIONS[role]
        assert (response.status == 403) == lacks, f"{role} {method} {path}: {response.status}"


async def test_each_admin_write_leaves_one_entry_and_never_the_sip_password(engine, client) -> None:
    """Creating a subscriber, a DID, a top-up, a policy change, a suspension,
    a reinstatement and a one-off charge each leave exactly one audit entry
    with the fields changed; the SIP password the creation answers is in none."""
    steps = [
        ("POST", "/admin/subscribers", SUBSCRIBER, ("create", "subscriber")),
        ("POST", "/admin/dids", {"number": "0212345670", "subscriber_id": None}, ("create", "did")),
        ("POST", "/admin/accounts/{a}/top-ups", {"amount": "5"}, ("top_up", "account")),
        ("PATCH", "/admin/accounts/{a}/policy", {"premium_enabled": True}, ("set_policy", "account")),
        ("POST", "/admin/accounts/{a}/suspend", {"cause": "non_payment"}, ("suspend", "account")),
        ("POST", "/admin/accounts/{a}/reinstate", None, ("reinstate", "account")),
        ("POST", "/admin/accounts/{a}/charges", {"description": "Router", "amount": "40"},
         ("create", "one_off_charge")),
    ]
    account_id = subscriber_id = password = None
    for done, (method, path, body, (action, resource)) in enumerate(steps):
        if body is not None and "subscriber_id" in body:
            body = {**body, "subscriber_id": subscriber_id}
        response = await client.request(method, path.replace("{a}", str(account_id)), json=body, headers=AUTH)
        assert response.status in (200, 201), f"{method} {path}: {await response.text()}"
        answer = await response.json()
        if account_id is None:
            account_id, subscriber_id = answer["account"]["id"], answer["subscriber"]["id"]
            password = answer["endpoint"]["password"]
        entries = await newest_entries(engine)
        assert len(entries) == done + 1, f"{method} {path}: not exactly one entry"
        assert (entries[0].action, entries[0].resource, entries[0].actor) == (action, resource, "admin_token")
        assert entries[0].changes, f"{action} {resource} records no fields"
    created = entries[-1]
    assert created.changes["username"] == {"before": None, "after": "ep-ion"}
    assert password and all(password not in json.dumps(e.changes) for e in entries)


async def test_a_refused_admin_write_leaves_no_entry(engine, client) -> None:
    """A write the owner refuses (an unknown account's top-up, 404) rolls
    back with its audit entry, while the accepted one before it left one."""
    created = await new_subscriber(engine, code="REF1")
    accepted = await client.post(f"/admin/accounts/{created.account.id}/top-ups", json={"amount": "5"}, headers=AUTH)
    assert accepted.status == 201
    response = await client.post(f"/admin/accounts/{UNKNOWN_ID}/top-ups", json={"amount": "5"}, headers=AUTH)
    assert response.status == 404
    assert [e.resource_id for e in await newest_entries(engine)] == [str(created.account.id)]
