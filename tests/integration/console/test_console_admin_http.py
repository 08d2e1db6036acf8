"""The console's tariff, invoice, audit, user and token pages without a
browser (issue 13, item 5): each page's permission per role, an account
admin kept to its own invoices (a foreign one 403 with nothing of it
shown), exactly one audit entry per write and none when refused, and a
bad field named on the page."""

from __future__ import annotations

import re

import pytest
from aiohttp import FormData

from access import audit, tokens, users
from access.audit import Actor
from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from billing import tariff_store
from tests.integration.access.support import PASSWORD
from tests.integration.api.audit_support import audit_count, one_entry_since
from tests.integration.api.test_api_invoices import july  # noqa: F401  (the fixture: two July invoices)
from web.console.audit_page import PAGE_SIZE as AUDIT_PAGE

from .support import client_login, new_user

ROLES = (OPERATOR, SUPPORT, AUDITOR, ACCOUNT_ADMIN)
# page → the roles that may open it (the rest: 403)
PAGES = {
    "/console/tariffs": {OPERATOR, SUPPORT, AUDITOR},
    "/console/tariffs/annex_b": {OPERATOR, SUPPORT, AUDITOR},
    "/console/tariffs/annex_b/export": {OPERATOR, SUPPORT, AUDITOR},
    "/console/invoices": set(ROLES),
    "/console/audit": {OPERATOR, SUPPORT, AUDITOR},
    "/console/users": {OPERATOR, AUDITOR},
    "/console/me/tokens": set(ROLES),
    "/console/me/password": set(ROLES),
}
HEADER = "plan,version,effective_from,effective_to,service,destination,price_eur\n"
BUSINESS = HEADER + "business,1,2025-01-01,,voice,ro_fixed,0.008\nbusiness,1,2025-01-01,,voice,ro_mobile,0.0125\n"


async def _login(engine, client, role=OPERATOR, account_id=None):
    return await client_login(client, await new_user(engine, role, account_id))


async def _post(client, login, path: str, data: dict | FormData):
    if isinstance(data, dict):
        data = {"csrf": login.csrf, **data}
    else:
        data.add_field("csrf", login.csrf)
    return await client.post(path, data=data, headers=login.headers, allow_redirects=False)


@pytest.mark.parametrize("role", ROLES)
async def test_each_page_opens_for_the_roles_holding_its_permission_only(engine, client, role) -> None:
    """200 for a role with the page's permission, 403 without; the nav shows only what opens."""
    login = await _login(engine, client, role, account_id=None if role != ACCOUNT_ADMIN else 1)
    for path, allowed in PAGES.items():
        response = await client.get(path, headers=login.headers, allow_redirects=False)
        assert response.status == (200 if role in allowed else 403), (path, role, response.status)
    home = await (await client.get("/console/", headers=login.headers)).text()
    assert ('href="/console/users"' in home) == (role in PAGES["/console/users"])


@pytest.mark.parametrize("path,permitted", [("/console/users", {OPERATOR}), ("/console/me/tokens", set(ROLES)),
                                            ("/console/tariffs", {OPERATOR})])
async def test_each_write_is_refused_without_its_permission_and_leaves_no_entry(engine, client, path,
                                                                                 permitted) -> None:
    """users.write, self.write, tariffs.write: the others get 403 and nothing is audited."""
    for role in set(ROLES) - permitted:
        login = await _login(engine, client, role, account_id=1 if role == ACCOUNT_ADMIN else None)
        count = await audit_count(engine)
        response = await _post(client, login, path, {"username": "x-user", "role": OPERATOR, "name": "t"})
        assert response.status == 403, (path, role)
        assert await audit_count(engine) == count


async def test_an_account_admin_sees_its_own_invoices_and_not_another_s(engine, client, july) -> None:  # noqa: F811
    """Invariant 8: the list holds its invoice only; another's page and document are 403 with nothing of it."""
    login = await _login(engine, client, ACCOUNT_ADMIN, july["ana"])
    listed = await (await client.get("/console/invoices", headers=login.headers)).text()
    assert "CP-000001" in listed and "CP-000002" not in listed
    foreign = await (await client.get(f"/console/invoices?account={july['ion']}", headers=login.headers)).text()
    assert "CP-000002" not in foreign
    for path in ("/console/invoices/CP-000002", "/console/invoices/CP-000002/document"):
        response = await client.get(path, headers=login.headers)
        body = await response.text()
        assert response.status == 403, path
        assert "Ion Ionescu" not in body and "12.10" not in body
    own = await client.get("/console/invoices/CP-000001", headers=login.headers)
    assert own.status == 200 and "record-payment" not in await own.text()  # invoices.write is the operator's


async def test_the_invoice_list_filters_and_names_a_bad_filter(engine, client, july) -> None:  # noqa: F811
    """By account, month, kind and state; a bad month, kind or state is 400 naming it."""
    login = await _login(engine, client)
    for query, shown in (("", {"CP-000001", "CP-000002"}), (f"account={july['ion']}", {"CP-000002"}),
                         ("month=2025-06", set()), ("state=paid", set()), ("state=unpaid", {"CP-000001", "CP-000002"}),
                         ("kind=interim", set())):
        html = await (await client.get(f"/console/invoices?{query}", headers=login.headers)).text()
        assert set(re.findall(r">(CP-\d{6})</a>", html)) == shown, query
    for query, field in (("month=July", "month"), ("kind=x", "kind"), ("state=late", "state"),
                         ("account=x", "account")):
        response = await client.get(f"/console/invoices?{query}", headers=login.headers)
        assert response.status == 400 and f"{field}:" in await response.text(), query


async def test_the_invoice_document_is_served_sandboxed_for_an_iframe(engine, client, july) -> None:  # noqa: F811
    """The page frames the document in an <iframe sandbox>; the document runs, loads and submits nothing."""
    login = await _login(engine, client)
    page = await (await client.get("/console/invoices/CP-000001", headers=login.headers)).text()
    assert '<iframe sandbox src="/console/invoices/CP-000001/document"' in page
    document = await client.get("/console/invoices/CP-000001/document", headers=login.headers)
    assert document.status == 200 and "CP-000001" in await document.text()
    policy = document.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "frame-ancestors 'self'" in policy


async def test_a_payment_is_recorded_once_and_a_bad_one_names_its_field(engine, client, july) -> None:  # noqa: F811
    """60.50 RON on time pays CP-000001 with one audit entry; a bad amount or day names the field and leaves none."""
    login = await _login(engine, client)
    count = await audit_count(engine)
    for form, field in (({"amount": "-5"}, "amount"), ({"amount": "1.1234567"}, "amount"),
                        ({"amount": "5", "currency": "USD"}, "currency"),
                        ({"amount": "5", "paid_on": "someday"}, "paid_on")):
        response = await _post(client, login, "/console/invoices/CP-000001/payments",
                               {"currency": "RON", "paid_on": "2025-08-05", **form})
        assert response.status == 400 and f"{field}:" in await response.text(), form
    assert await audit_count(engine) == count
    response = await _post(client, login, "/console/invoices/CP-000001/payments",
                           {"amount": "60.50", "currency": "RON", "paid_on": "2025-08-05", "reference": "OP 1"})
    assert response.status == 303, await response.text()
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("record_payment", "invoice", "CP-000001")
    assert entry.changes["amount"] == {"before": None, "after": "60.500000"}
    page = await (await client.get("/console/invoices/CP-000001", headers=login.headers)).text()
    assert 'data-testid="state">paid<' in page


async def test_a_tariff_csv_imports_once_audited_and_a_bad_one_names_the_line(engine, client) -> None:
    """All or nothing: a bad line is named with its field and nothing is stored nor audited;
    the good file adds its version with one entry; importing it again changes nothing and audits nothing."""
    login = await _login(engine, client)

    def upload(text: str) -> FormData:
        form = FormData()
        form.add_field("file", text.encode(), filename="business.csv", content_type="text/csv")
        return form

    count = await audit_count(engine)
    bad = BUSINESS + "business,1,2025-01-01,,voice,ro_premium,cheap\n"
    response = await _post(client, login, "/console/tariffs", upload(bad))
    html = await response.text()
    assert response.status == 400 and "line 4" in html and "price_eur" in html, html
    assert "business" not in await tariff_store.stored_plan_names(engine)
    assert await audit_count(engine) == count
    response = await _post(client, login, "/console/tariffs", upload(BUSINESS))
    assert response.status == 201, await response.text()
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("import", "tariff", "business")
    again = await _post(client, login, "/console/tariffs", upload(BUSINESS))
    assert again.status == 200 and await audit_count(engine) == count + 1
    export = await client.get("/console/tariffs/business/export", headers=login.headers)
    assert "ro_mobile" in await export.text()
    missing = await _post(client, login, "/console/tariffs", {"nothing": "here"})
    assert missing.status == 400 and "file:" in await missing.text()


async def test_an_operator_creates_and_disables_a_user_each_audited_once(engine, client) -> None:
    """A generated password shown once and never audited; a taken or bad username named; disabling twice audits once."""
    login = await _login(engine, client)
    count = await audit_count(engine)
    response = await _post(client, login, "/console/users", {"username": "new-op", "role": SUPPORT})
    assert response.status == 201
    password = re.search(r'data-testid="secret">([^<]+)<', await response.text()).group(1)
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("create", "user", "new-op")
    assert password not in str(entry.changes)
    assert (await users.verify_login(engine, "new-op", password, source="test")).role == SUPPORT
    for form, status, field in (({"username": "new-op", "role": SUPPORT}, 409, "username"),
                                ({"username": "Bad Name!", "role": SUPPORT}, 400, "username"),
                                ({"username": "other", "role": "king"}, 400, "role"),
                                ({"username": "other", "role": ACCOUNT_ADMIN, "account": "x"}, 400, "account"),
                                ({"username": "other", "role": SUPPORT, "password": "short"}, 400, "password")):
        refused = await _post(client, login, "/console/users", form)
        assert refused.status == status and field in await refused.text(), form
    assert await audit_count(engine) == count + 1
    for _ in range(2):
        assert (await _post(client, login, "/console/users/new-op/disable", {})).status == 303
    entry = await one_entry_since(engine, count + 1)
    assert (entry.action, entry.resource_id) == ("disable", "new-op")


async def test_an_operator_issues_and_revokes_a_user_s_token_each_audited_once(engine, client) -> None:
    """The value shown once, never audited; revoking twice audits once."""
    holder = await new_user(engine, AUDITOR)
    login = await _login(engine, client)
    count = await audit_count(engine)
    response = await _post(client, login, f"/console/users/{holder}/tokens", {"name": "ci"})
    assert response.status == 201
    value = re.search(r'data-testid="secret">([^<]+)<', await response.text()).group(1)
    assert (await tokens.authenticate(engine, value)).username == holder
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource) == ("create", "token") and value not in str(entry.changes)
    listed = await (await client.get(f"/console/users/{holder}/tokens", headers=login.headers)).text()
    assert value not in listed and "ci" in listed
    revoke = f"/console/users/{holder}/tokens/{entry.resource_id}/revoke"
    for _ in range(2):
        assert (await _post(client, login, revoke, {})).status == 303
    revoked = await one_entry_since(engine, count + 1)
    assert (revoked.action, revoked.resource_id) == ("revoke", entry.resource_id)


async def test_my_tokens_are_my_own(engine, client) -> None:
    """Anyone issues and revokes their own token; another user's token id is 404 and stays live."""
    other = await new_user(engine, OPERATOR)
    theirs = await tokens.issue_token(engine, username=other, name="theirs")
    login = await _login(engine, client, ACCOUNT_ADMIN, 1)
    count = await audit_count(engine)
    response = await _post(client, login, "/console/me/tokens", {"name": "mine"})
    assert response.status == 201
    assert (await _post(client, login, f"/console/me/tokens/{theirs.info.id}/revoke", {})).status == 404
    assert (await tokens.authenticate(engine, theirs.token)).username == other
    refused = await _post(client, login, "/console/me/tokens", {"name": ""})
    assert refused.status == 400 and "name:" in await refused.text()
    assert await audit_count(engine) == count + 1


async def test_changing_my_password_needs_the_current_one(engine, client) -> None:
    """A wrong current password, a mismatch or a short new one is named and changes nothing; then one entry."""
    name = await new_user(engine, AUDITOR)
    login = await client_login(client, name)
    count = await audit_count(engine)
    new = "a much longer new password"
    for form, field in (({"current": "wrong one", "new": new, "again": new}, "current"),
                        ({"current": PASSWORD, "new": new, "again": new + "x"}, "again"),
                        ({"current": PASSWORD, "new": "short", "again": "short"}, "new")):
        response = await _post(client, login, "/console/me/password", form)
        assert response.status == 400 and f"{field}:" in await response.text(), form
    assert await audit_count(engine) == count
    response = await _post(client, login, "/console/me/password", {"current": PASSWORD, "new": new, "again": new})
    assert response.status == 303
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("change_password", "user", name)
    assert (await users.verify_login(engine, name, new, source="test")).username == name


async def test_changing_my_password_ends_my_other_sessions_but_this_one(engine, client) -> None:
    """A password changed because it leaked must not leave another session (the thief's) open."""
    name = await new_user(engine, AUDITOR)
    mine, other = await client_login(client, name), await client_login(client, name)
    new = "a much longer new password"
    response = await _post(client, mine, "/console/me/password", {"current": PASSWORD, "new": new, "again": new})
    assert response.status == 303
    assert (await client.get("/console/", headers=mine.headers, allow_redirects=False)).status == 200
    assert (await client.get("/console/", headers=other.headers, allow_redirects=False)).status == 303


async def test_the_audit_log_filters_pages_and_shows_before_and_after(engine, client) -> None:
    """Filtered by resource and id; pages of PAGE_SIZE walk every entry once; a bad day is named."""
    actor = Actor(name="someone", source="127.0.0.1", role=OPERATOR)
    async with engine.begin() as conn:
        for i in range(AUDIT_PAGE + 5):
            await audit.record(conn, actor, action="update", resource="widget", resource_id=str(i),
                               changes={"colour": {"before": f"red{i}", "after": f"blue{i}"}})
    login = await _login(engine, client, AUDITOR)
    one = await (await client.get("/console/audit?resource=widget&resource_id=7", headers=login.headers)).text()
    assert "red7" in one and "blue7" in one and "red8" not in one
    seen, path, pages = [], "/console/audit?resource=widget", 0
    while path and pages < 5:  # two pages expected: a cursor that goes nowhere must not loop forever
        pages += 1
        html = await (await client.get(path, headers=login.headers)).text()
        seen += re.findall(r"blue(\d+)<", html)
        found = re.search(r'data-testid="next-page" href="([^"]+)"', html)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert pages == 2 and sorted(map(int, seen)) == list(range(AUDIT_PAGE + 5))
    response = await client.get("/console/audit?since=yesterday", headers=login.headers)
    assert response.status == 400 and "since:" in await response.text()
