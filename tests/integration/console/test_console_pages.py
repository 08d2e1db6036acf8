"""The console's pages without a browser (issue 13, item 5): keyset pages
that walk every row once in either order, the language (Romanian first),
no open redirect after login, a cross-origin login refused, and a bad
field named on the form's page."""

from __future__ import annotations

import re

import pytest

from access import audit
from access.roles import OPERATOR
from tests.integration.admin.support import new_subscriber
from web import admin_operations
from web.console.subscribers import PAGE_SIZE

from .support import client_login, new_user


async def _walk(client, login, path: str) -> tuple[list[int], int]:
    """The ids of every row, following the "next page" links; and how many pages."""
    ids, pages = [], 0
    while path:
        html = await (await client.get(path, headers=login.headers)).text()
        ids += [int(i) for i in re.findall(r'<td class="num">(\d+)</td>', html)]
        pages += 1
        nxt = re.search(r'data-testid="next-page" href="([^"]+)"', html)
        path = nxt.group(1).replace("&amp;", "&") if nxt else None
    return ids, pages


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_subscriber_pages_walk_every_row_once_in_either_order(engine, client, order) -> None:
    """Cursor pages of PAGE_SIZE: every subscriber once, none missed, in the order asked."""
    made = [(await new_subscriber(engine, code=f"P{i:02d}")).subscriber.id for i in range(PAGE_SIZE + 3)]
    login = await client_login(client, await new_user(engine, OPERATOR))
    ids, pages = await _walk(client, login, f"/console/subscribers?order={order}")
    assert pages == 2
    assert ids == (sorted(made) if order == "asc" else sorted(made, reverse=True))


async def test_the_search_finds_by_account_code(engine, client) -> None:
    """Search looks in name, email, SIP username and account code."""
    await new_subscriber(engine, code="FINDME")
    await new_subscriber(engine, code="OTHER")
    login = await client_login(client, await new_user(engine, OPERATOR))
    html = await (await client.get("/console/subscribers?search=findme", headers=login.headers)).text()
    assert "findme@example.com" in html and "other@example.com" not in html


async def test_the_ledger_is_paged_newest_first(engine, client) -> None:
    """The account page shows 25 ledger entries and links to the older ones."""
    created = await new_subscriber(engine, code="LEDG1")
    for i in range(27):
        await admin_operations.top_up(engine, created.account.id, 1_000_000, reference=f"r{i:02d}")
    login = await client_login(client, await new_user(engine, OPERATOR))
    page = f"/console/accounts/{created.account.id}"
    html = await (await client.get(page, headers=login.headers)).text()
    assert "r26" in html and "r02" in html and "r01" not in html
    older = re.search(r'href="(/console/accounts/\d+\?before=\d+)"', html).group(1)
    html = await (await client.get(older, headers=login.headers)).text()
    assert "r01" in html and "r00" in html and "r02" not in html


async def test_pages_are_in_romanian_unless_the_browser_or_the_user_says_otherwise(engine, client) -> None:
    """Romanian by default, English for an English browser, and the user's pick over both."""
    async def title(headers) -> str:
        return re.search(r"<h1>(.*?)</h1>", await (await client.get("/console/login", headers=headers)).text()).group(1)

    assert await title({"Accept-Language": ""}) == "Autentificare"
    assert await title({"Accept-Language": "en-GB,en;q=0.9"}) == "Log in"
    response = await client.get("/console/lang/ro?next=/console/login", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/console/login"
    assert await title({"Accept-Language": "en", "Cookie": "cp_lang=ro"}) == "Autentificare"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/admin/accounts", "/console\\..\\x"])
async def test_no_redirect_leaves_the_console(client, target) -> None:
    """After a language pick or a login, only a console path is followed (no open redirect)."""
    response = await client.get("/console/lang/en", params={"next": target}, allow_redirects=False)
    assert response.headers["Location"] == "/console/"


async def test_a_login_posted_from_another_origin_is_refused(engine, client) -> None:
    """Login CSRF: the form has no session yet, so another site's Origin is refused."""
    name = await new_user(engine, OPERATOR)
    response = await client.post("/console/login", data={"username": name, "password": "correct horse battery staple"},
                                 headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert response.status == 403
    assert "cp_session" not in response.cookies


async def test_a_bad_email_is_named_on_the_edit_page_and_nothing_changes(engine, client) -> None:
    """A field breaking its rule: 400 naming it, the subscriber unchanged, no audit entry."""
    created = await new_subscriber(engine, code="EDIT1")
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post(f"/console/subscribers/{created.subscriber.id}", headers=login.headers,
                                 data={"csrf": login.csrf, "name": "New Name", "email": "not an email",
                                       "language": "ro"})
    assert response.status == 400
    assert "email" in re.search(r'data-testid="form-error">(.*?)</p>', await response.text(), re.S).group(1)
    html = await (await client.get(f"/console/subscribers/{created.subscriber.id}", headers=login.headers)).text()
    assert "New Name" not in html
    assert (await audit.list_entries(engine)).entries == []


@pytest.mark.parametrize("path", ["/console/accounts/0", "/console/accounts/99999999999", "/console/accounts/x1",
                                  "/console/subscribers/424242"])
async def test_an_unknown_or_impossible_id_is_a_404_page(engine, client, path) -> None:
    """Ids out of range or of nothing answer 404, never 500."""
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.get(path, headers=login.headers)
    assert response.status == 404


async def test_a_subscribers_name_is_shown_as_text_never_markup(engine, client) -> None:
    """Invariant 7: autoescape: a name with HTML in it is shown escaped."""
    created = await admin_operations.create_subscriber(
        engine, name="Ion <b onmouseover=x>", email="xss@example.com", username="ep-xss",
        caller_id_number="1003", account_code="XSS1")
    login = await client_login(client, await new_user(engine, OPERATOR))
    html = await (await client.get(f"/console/subscribers/{created.subscriber.id}", headers=login.headers)).text()
    assert "<b onmouseover" not in html and "Ion &lt;b onmouseover=x&gt;" in html
