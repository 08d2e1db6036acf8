"""The console without a browser (issue 13, item 5): the session cookie's
flags, idle and absolute expiry, logout, a disabled user, the CSRF check,
each route's permission, and exactly one audit entry per console write."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from access import audit, sessions, users
from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from billing import ledger
from sqlbase import utc_now
from tests.integration.admin.support import new_subscriber

from .support import Session, client_login, new_user


def _session_cookie_header(response) -> str:
    [header] = [value for value in response.headers.getall("Set-Cookie") if value.startswith("cp_session=")]
    return header


async def test_the_session_cookie_is_httponly_samesite_strict_secure_for_console_only(engine, client) -> None:
    """The cookie no script reads, no other site sends, only over HTTPS or loopback, only to /console."""
    name = await new_user(engine, OPERATOR)
    response = await client.post("/console/login", data={"username": name, "password": "correct horse battery staple"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/console/"
    flags = [part.strip().lower() for part in _session_cookie_header(response).split(";")]
    assert {"httponly", "secure", "samesite=strict", "path=/console"} <= set(flags)


async def test_a_wrong_password_is_refused_with_one_message(engine, client) -> None:
    """A wrong password and an unknown user get the same answer and no cookie."""
    name = await new_user(engine, OPERATOR)
    for username in (name, "nobody-here"):
        response = await client.post("/console/login", data={"username": username, "password": "wrong"},
                                     allow_redirects=False)
        assert response.status == 401
        assert "Wrong username or password." in await response.text()
        assert "cp_session" not in response.cookies


async def test_repeated_failures_lock_the_login_and_say_until_when(engine, client) -> None:
    """After five failures the login says it is locked and until when (access.lockout)."""
    name = await new_user(engine, OPERATOR)
    for _ in range(5):
        await client.post("/console/login", data={"username": name, "password": "wrong"})
    response = await client.post("/console/login", data={"username": name, "password": "correct horse battery staple"},
                                 headers={"Accept-Language": "en"})
    assert response.status == 429
    assert "locked, try after" in await response.text()


async def test_a_session_idle_for_thirty_minutes_has_ended(engine, client) -> None:
    """A session last seen 31 minutes ago sends the browser to the login page."""
    user = await users.get_user(engine, await new_user(engine, OPERATOR))
    opened = await sessions.open_session(engine, user.id, now=utc_now() - timedelta(minutes=31))
    response = await client.get("/console/", headers={"Cookie": f"cp_session={opened.cookie}"},
                                allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/console/login")


async def test_a_session_ends_twelve_hours_after_login_however_busy(engine) -> None:
    """Used every 20 minutes, a session still ends 12 hours after its login."""
    user = await users.get_user(engine, await new_user(engine, OPERATOR))
    start = utc_now() - timedelta(hours=13)
    opened = await sessions.open_session(engine, user.id, now=start)
    at = start
    while at < start + timedelta(hours=12) - timedelta(minutes=20):
        at += timedelta(minutes=20)
        assert await sessions.current_session(engine, opened.cookie, now=at) is not None, at - start
    assert await sessions.current_session(engine, opened.cookie, now=start + timedelta(hours=12)) is None


async def test_logout_deletes_the_session(engine, client) -> None:
    """After logout the old cookie opens nothing, even if replayed."""
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post("/console/logout", data={"csrf": login.csrf}, headers=login.headers,
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/console/login"
    response = await client.get("/console/", headers=login.headers, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/console/login")


async def test_a_disabled_users_session_stops_at_once(engine, client) -> None:
    """Disabling a user ends their console session with the next request."""
    name = await new_user(engine, OPERATOR)
    login = await client_login(client, name)
    assert (await client.get("/console/", headers=login.headers, allow_redirects=False)).status == 200
    await users.disable_user(engine, name)
    response = await client.get("/console/", headers=login.headers, allow_redirects=False)
    assert response.status == 303


async def test_the_session_id_is_never_logged(engine, client, caplog) -> None:
    """Nothing the console logs, at any level, contains the session cookie's value."""
    caplog.set_level(logging.DEBUG)
    login = await client_login(client, await new_user(engine, OPERATOR))
    await client.get("/console/subscribers", headers=login.headers)
    await client.post("/console/accounts/999999/top-up", data={"amount": "1"}, headers=login.headers)
    assert login.cookie not in caplog.text


@pytest.mark.parametrize("csrf", [None, "wrong-token"])
async def test_a_post_without_the_right_csrf_token_is_403_and_changes_nothing(engine, client, csrf) -> None:
    """A top-up without its session's CSRF token: 403, no credit, no audit entry."""
    created = await new_subscriber(engine, code="CSRF2")
    login = await client_login(client, await new_user(engine, OPERATOR))
    data = {"amount": "5"} if csrf is None else {"amount": "5", "csrf": csrf}
    response = await client.post(f"/console/accounts/{created.account.id}/top-up", data=data, headers=login.headers)
    assert response.status == 403
    assert await ledger.balance_micro(engine, created.account.id) == 0
    assert (await audit.list_entries(engine, audit.AuditFilter(resource="account"))).entries == []


async def test_another_sessions_csrf_token_is_refused(engine, client) -> None:
    """A CSRF token is its own session's: another user's token is refused."""
    created = await new_subscriber(engine, code="CSRF3")
    mine = await client_login(client, await new_user(engine, OPERATOR))
    theirs = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post(f"/console/accounts/{created.account.id}/top-up",
                                 data={"amount": "5", "csrf": theirs.csrf}, headers=mine.headers)
    assert response.status == 403


async def test_an_htmx_request_may_send_the_token_as_a_header(engine, client) -> None:
    """The X-CSRF-Token header (hx-headers on <body>) counts as the form field."""
    created = await new_subscriber(engine, code="HTMX1")
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post(f"/console/accounts/{created.account.id}/top-up", data={"amount": "1"},
                                 headers={**login.headers, "X-CSRF-Token": login.csrf}, allow_redirects=False)
    assert response.status == 303
    assert await ledger.balance_micro(engine, created.account.id) == 1_000_000


@pytest.mark.parametrize("role,method,path,status", [
    (AUDITOR, "POST", "/console/accounts/{account}/top-up", 403),
    (AUDITOR, "POST", "/console/accounts/{account}/suspend", 403),
    (AUDITOR, "GET", "/console/subscribers/new", 403),
    (SUPPORT, "POST", "/console/accounts/{account}/allowlist", 403),
    (SUPPORT, "POST", "/console/subscribers/{subscriber}", 403),
    (ACCOUNT_ADMIN, "GET", "/console/subscribers/new", 403),
    (ACCOUNT_ADMIN, "POST", "/console/accounts/{own}/top-up", 403),
    (ACCOUNT_ADMIN, "GET", "/console/subscribers/{subscriber}", 403),
    (AUDITOR, "GET", "/console/accounts/{account}", 200),
    (SUPPORT, "POST", "/console/accounts/{account}/top-up", 303),
])
async def test_each_route_answers_by_the_roles_permission(engine, client, role, method, path, status) -> None:
    """A role without the route's permission gets the 403 page; one with it gets through."""
    other = await new_subscriber(engine, code="ROLE1")
    own = await new_subscriber(engine, code="ROLE2")
    login = await client_login(client, await new_user(engine, role, own.account.id))
    url = path.format(account=other.account.id, subscriber=other.subscriber.id, own=own.account.id)
    data = {"csrf": login.csrf, "amount": "1"}
    response = await (client.post(url, data=data, headers=login.headers, allow_redirects=False)
                      if method == "POST" else client.get(url, headers=login.headers, allow_redirects=False))
    assert response.status == status, await response.text()
    if status == 403:
        text = await response.text()
        assert "You may not open this page." in text or "Nu aveți voie" in text
        assert "ROLE1" not in text and "role1@example.com" not in text


async def test_the_nav_shows_only_what_the_role_may_open(engine, client) -> None:
    """An account admin's nav links its own account; staff's has no such link."""
    own = await new_subscriber(engine, code="NAV1")
    admin = await client_login(client, await new_user(engine, ACCOUNT_ADMIN, own.account.id))
    assert f'href="/console/accounts/{own.account.id}"' in await (
        await client.get("/console/", headers=admin.headers)).text()
    staff = await client_login(client, await new_user(engine, AUDITOR))
    assert "/console/accounts/" not in await (await client.get("/console/", headers=staff.headers)).text()


async def _post(client, login: Session, path: str, **data):
    response = await client.post(path, data={"csrf": login.csrf, **data}, headers=login.headers,
                                 allow_redirects=False)
    assert response.status in (201, 303), await response.text()
    return response


async def test_each_console_write_leaves_exactly_one_audit_entry_naming_the_user(engine, client) -> None:
    """Issue 13 item 4: every console change is one audit entry with who, role, source and the fields."""
    created = await new_subscriber(engine, code="AUD1")
    name = await new_user(engine, OPERATOR)
    login = await client_login(client, name)
    account = f"/console/accounts/{created.account.id}"
    writes = [
        ("create", "subscriber", "/console/subscribers", {
            "name": "Ana Pop", "email": "ana@example.com", "language": "en", "username": "ep-ana",
            "caller_id_number": "1002", "account_code": "ANA1"}),
        ("update", "subscriber", f"/console/subscribers/{created.subscriber.id}", {
            "name": "Ion Popescu-Nou", "email": "aud1@example.com", "language": "en"}),
        ("top_up", "account", f"{account}/top-up", {"amount": "3.25", "idempotency_key": "k-aud1"}),
        ("update", "account", f"{account}/allowlist", {"allowed_networks": "192.0.2.0/24"}),
        ("suspend", "account", f"{account}/suspend", {"cause": "breach"}),
        ("reinstate", "account", f"{account}/reinstate", {}),
        ("end_calls", "account", f"{account}/end-calls", {}),
    ]
    for action, resource, path, data in writes:
        before = (await audit.list_entries(engine)).entries
        await _post(client, login, path, **data)
        after = (await audit.list_entries(engine)).entries
        assert len(after) == len(before) + 1, action
        entry = after[0]
        assert (entry.action, entry.resource, entry.actor, entry.role, entry.source) == (
            action, resource, name, OPERATOR, "127.0.0.1"), entry
        assert entry.changes, entry
    entries = (await audit.list_entries(engine)).entries
    assert entries[4].changes == {"balance": {"before": "0.000000", "after": "3.250000"}}
    assert entries[5].changes == {"name": {"before": "Ion Popescu", "after": "Ion Popescu-Nou"},
                                  "language": {"before": "ro", "after": "en"}}


async def test_a_refused_console_write_leaves_no_audit_entry(engine, client) -> None:
    """A top-up of a negative amount is a 400 page naming the field, and no entry."""
    created = await new_subscriber(engine, code="AUD2")
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post(f"/console/accounts/{created.account.id}/top-up",
                                 data={"csrf": login.csrf, "amount": "-5"}, headers=login.headers)
    assert response.status == 400
    assert "amount" in await response.text()
    assert (await audit.list_entries(engine)).entries == []


async def test_a_top_up_submitted_twice_credits_once_and_is_audited_once(engine, client) -> None:
    """The form's idempotency key: a double submit credits once, and the replay leaves no entry."""
    created = await new_subscriber(engine, code="TWICE1")
    login = await client_login(client, await new_user(engine, OPERATOR))
    for _ in range(2):
        await _post(client, login, f"/console/accounts/{created.account.id}/top-up", amount="2",
                    idempotency_key="same-form")
    assert await ledger.balance_micro(engine, created.account.id) == 2_000_000
    assert len((await audit.list_entries(engine, audit.AuditFilter(resource="account"))).entries) == 1
