"""The console's operations pages without a browser (issue 13, item 5):
DIDs, call search with its CSV export, quarantined CDR lines and the email
outbox — each page's permission per role, an account admin kept to its own
account (another's: 403 with none of its data), exactly one audit entry per
write (none when refused), and bad input answered 400 naming the field."""

from __future__ import annotations

import csv
import io
import re

import pytest

from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from billing import ledger
from notify import outbox
from provisioning import services as provisioning
from tests.integration.admin.support import new_subscriber
from tests.integration.notify.support import alert
from web.console import calls as console_calls

from .operations import answer, audit_entries, dead_email, post_form, quarantined_line, rated_calls
from .support import client_login, new_user


@pytest.mark.parametrize("role,method,path,status", [
    (AUDITOR, "GET", "/console/dids", 200),
    (AUDITOR, "POST", "/console/dids", 403),
    (SUPPORT, "POST", "/console/dids", 403),
    (AUDITOR, "GET", "/console/dids/40312345678/release", 403),
    (ACCOUNT_ADMIN, "GET", "/console/dids", 200),
    (ACCOUNT_ADMIN, "POST", "/console/dids/40312345678/release", 403),
    (AUDITOR, "GET", "/console/calls", 200),
    (AUDITOR, "GET", "/console/calls.csv", 200),
    (ACCOUNT_ADMIN, "GET", "/console/calls", 200),
    (AUDITOR, "GET", "/console/quarantine", 200),
    (AUDITOR, "POST", "/console/quarantine/reprocess", 403),
    (SUPPORT, "POST", "/console/quarantine/reprocess", 303),
    (ACCOUNT_ADMIN, "GET", "/console/quarantine", 403),
    (AUDITOR, "GET", "/console/outbox", 200),
    (AUDITOR, "POST", "/console/outbox/1/retry", 403),
    (SUPPORT, "POST", "/console/outbox/1/retry", 403),
    (ACCOUNT_ADMIN, "GET", "/console/outbox", 403),
])
async def test_each_operations_page_answers_by_the_roles_permission(engine, client, role, method, path,
                                                                    status) -> None:
    """A role without the page's permission gets the 403 page; one with it gets through."""
    own = await new_subscriber(engine, code="OPSROLE")
    login = await client_login(client, await new_user(engine, role, own.account.id))
    response = await answer(client, login, method, path)
    assert response.status == status, await response.text()
    if status == 403:
        assert "You may not open this page." in await response.text()


# -- DIDs -----------------------------------------------------------------------------


async def test_assigning_and_releasing_a_did_are_one_audit_entry_each(engine, client, plane) -> None:
    """Assign a number written as a person would; release it after the confirmation page."""
    created = await new_subscriber(engine, code="DIDA")
    name = await new_user(engine, OPERATOR)
    login = await client_login(client, name)
    response = await post_form(client, login, "/console/dids", number="+40 31 234 5678",
                           subscriber_id=str(created.subscriber.id), ring_seconds="30", voicemail_enabled="on")
    assert response.status == 303 and response.headers["Location"] == "/console/dids?assigned=40312345678"
    [did] = await provisioning.list_dids(engine)
    assert (did.number, did.subscriber_id, did.ring_seconds) == ("40312345678", created.subscriber.id, 30)
    [entry] = await audit_entries(engine)
    assert (entry.action, entry.resource, entry.resource_id, entry.actor) == ("assign", "did", "40312345678", name)
    listed = await (await client.get(f"/console/dids?subscriber={created.subscriber.id}", headers=login.headers)).text()
    assert "+40312345678" in listed

    confirm = await client.get("/console/dids/40312345678/release", headers=login.headers)
    assert confirm.status == 200 and "Release +40312345678" in await confirm.text()
    assert await provisioning.list_dids(engine) != []  # the confirmation page changes nothing
    response = await post_form(client, login, "/console/dids/40312345678/release")
    assert response.status == 303
    assert await provisioning.list_dids(engine) == []
    entries = await audit_entries(engine)
    assert len(entries) == 2 and (entries[0].action, entries[0].resource) == ("release", "did")
    assert plane.provisioning_changes == 2


@pytest.mark.parametrize("fields,named", [
    ({"number": "12"}, "number"),
    ({"number": "0312345678", "ring_seconds": "500"}, "ring_seconds"),
    ({"number": "0312345678", "subscriber_id": "abc"}, "subscriber_id"),
])
async def test_a_bad_did_assignment_is_400_naming_the_field_and_not_audited(engine, client, fields, named) -> None:
    """A number that is not ours, ring seconds out of range, a subscriber id that is no id."""
    created = await new_subscriber(engine, code="DIDB")
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await post_form(client, login, "/console/dids",
                               **{"subscriber_id": str(created.subscriber.id), **fields})
    assert response.status == 400, await response.text()
    assert f"{named}:" in await response.text()
    assert await audit_entries(engine) == [] and await provisioning.list_dids(engine) == []


async def test_an_account_admin_lists_only_its_own_accounts_numbers(engine, client) -> None:
    """Its list has its subscribers' numbers only; asking for another account is 403 with none of them."""
    own, other = await new_subscriber(engine, code="DIDOWN"), await new_subscriber(engine, code="DIDOTHER")
    await provisioning.add_did(engine, number="40312000001", subscriber_id=own.subscriber.id)
    await provisioning.add_did(engine, number="40312000002", subscriber_id=other.subscriber.id)
    login = await client_login(client, await new_user(engine, ACCOUNT_ADMIN, own.account.id))
    text = await (await client.get("/console/dids", headers=login.headers)).text()
    assert "40312000001" in text and "40312000002" not in text
    refused = await client.get(f"/console/dids?account={other.account.id}", headers=login.headers)
    assert refused.status == 403 and "40312000002" not in await refused.text()


# -- calls ----------------------------------------------------------------------------


async def test_the_call_search_filters_by_days_and_disposition_and_the_csv_has_the_same_calls(engine, client) -> None:
    """Days from..to inclusive (Bucharest), one disposition: the page and the CSV export agree."""
    created = await new_subscriber(engine, code="CALLF")
    await rated_calls(engine, "CALLF", days=4)
    await rated_calls(engine, "CALLF", days=4, answered=False)
    login = await client_login(client, await new_user(engine, AUDITOR))
    query = f"account={created.account.id}&from=2025-08-03&to=2025-08-04&disposition=ANSWERED"
    page = await (await client.get(f"/console/calls?{query}", headers=login.headers)).text()
    assert page.count("ANSWERED</td>") == 2 and "NO ANSWER</td>" not in page
    assert f'href="/console/calls.csv?{query.replace("&", "&amp;")}"' in page
    exported = await client.get(f"/console/calls.csv?{query}", headers=login.headers)
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [(r["uniqueid"], r["disposition"]) for r in rows] == [("CALLF-a-2-0", "ANSWERED"),
                                                                 ("CALLF-a-1-0", "ANSWERED")]


@pytest.mark.parametrize("query,named", [
    ("from=2025-13-01", "from"),
    ("from=2025-08-05&to=2025-08-01", "to"),
    ("from=2024-01-01&to=2025-08-01", "to"),
    ("class=gold", "class"),
    ("disposition=MAYBE", "disposition"),
    ("account=x1", "account"),
])
async def test_a_bad_call_search_is_400_naming_the_field(engine, client, query, named) -> None:
    """The page and the export both refuse it, naming the field."""
    login = await client_login(client, await new_user(engine, AUDITOR))
    for path in ("/console/calls", "/console/calls.csv"):
        response = await client.get(f"{path}?{query}", headers=login.headers)
        assert response.status == 400, (path, await response.text())
        assert f"{named}:" in await response.text()


async def test_an_account_admins_call_search_and_export_are_its_own_account_only(engine, client) -> None:
    """Without an account it gets its own calls; another account's is 403 with none of its calls."""
    own, other = await new_subscriber(engine, code="CALLOWN"), await new_subscriber(engine, code="CALLOTHER")
    await rated_calls(engine, "CALLOWN", days=1)
    await rated_calls(engine, "CALLOTHER", days=1)
    login = await client_login(client, await new_user(engine, ACCOUNT_ADMIN, own.account.id))
    page = await (await client.get("/console/calls", headers=login.headers)).text()
    assert "CALLOWN" in page and "CALLOTHER" not in page
    exported = await (await client.get("/console/calls.csv", headers=login.headers)).text()
    assert "CALLOWN" in exported and "CALLOTHER" not in exported
    for path in ("/console/calls", "/console/calls.csv"):
        refused = await client.get(f"{path}?account={other.account.id}", headers=login.headers)
        assert refused.status == 403 and "CALLOTHER" not in await refused.text()


async def test_the_call_search_pages_walk_every_call_once(engine, client, monkeypatch) -> None:
    """Pages of the page size, newest first, each call once."""
    monkeypatch.setattr(console_calls, "PAGE_SIZE", 2)
    await new_subscriber(engine, code="CALLP")
    await rated_calls(engine, "CALLP", days=5)
    login = await client_login(client, await new_user(engine, AUDITOR))
    seen, path = [], "/console/calls?account="
    while path:
        text = await (await client.get(path, headers=login.headers)).text()
        seen += [line for line in text.split("<tr>") if "CALLP</td>" in line]
        marker = 'data-testid="next-page" href="'
        path = text.split(marker)[1].split('"')[0].replace("&amp;", "&") if marker in text else None
    assert len(seen) == 5 and len(set(seen)) == 5


# -- quarantine -----------------------------------------------------------------------


async def test_reprocessing_quarantine_charges_once_and_is_audited_once_per_click(engine, client) -> None:
    """Waiting line listed; re-process it after its account exists: charged, one entry; again: nothing more."""
    await quarantined_line(engine, "QLATE")
    name = await new_user(engine, SUPPORT)
    login = await client_login(client, name)
    page = await (await client.get("/console/quarantine", headers=login.headers)).text()
    assert "QLATE" in page and "waiting" in page
    line_id = int(re.search(r"/console/quarantine/([0-9]+)/reprocess", page).group(1))
    account = await ledger.open_account(engine, code="QLATE")
    response = await post_form(client, login, f"/console/quarantine/{line_id}/reprocess")
    assert response.status == 303 and response.headers["Location"] == "/console/quarantine?resolved=1&left=0"
    assert await ledger.balance_micro(engine, account.id) == -15_000
    [entry] = await audit_entries(engine)
    assert (entry.action, entry.resource, entry.resource_id, entry.actor) == ("reprocess", "quarantine",
                                                                             str(line_id), name)
    assert entry.changes == {"resolved": {"before": 0, "after": 1}}
    await post_form(client, login, "/console/quarantine/reprocess")
    assert await ledger.balance_micro(engine, account.id) == -15_000
    assert len(await audit_entries(engine)) == 2


async def test_reprocessing_an_unknown_line_is_404_and_not_audited(engine, client) -> None:
    """No such quarantined line: the 404 page, no entry."""
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await post_form(client, login, "/console/quarantine/424242/reprocess")
    assert response.status == 404
    assert await audit_entries(engine) == []


# -- outbox ---------------------------------------------------------------------------


async def test_a_dead_email_is_listed_and_sent_again_with_one_audit_entry(engine, client) -> None:
    """The dead tab shows kind, recipient, attempts and the last error; retry makes it pending, once audited."""
    email_id = await dead_email(engine, "console:dead:1")
    name = await new_user(engine, OPERATOR)
    login = await client_login(client, name)
    page = await (await client.get("/console/outbox?state=dead", headers=login.headers)).text()
    assert "low_balance" in page and "ana@example.ro" in page and "550 5.1.1 no such mailbox" in page
    response = await post_form(client, login, f"/console/outbox/{email_id}/retry")
    assert response.status == 303
    assert (await outbox.outbox_entry(engine, email_id)).state == outbox.PENDING
    [entry] = await audit_entries(engine)
    assert (entry.action, entry.resource, entry.resource_id, entry.actor) == ("retry", "outbox", str(email_id), name)
    pending = await (await client.get("/console/outbox", headers=login.headers)).text()
    assert "ana@example.ro" in pending


async def test_retrying_an_email_that_is_not_dead_is_409_and_not_audited(engine, client) -> None:
    """A pending email is not sent 'again': 409, no entry; an unknown one 404."""
    email_id = await outbox.enqueue(engine, alert("console:pending:1"))
    login = await client_login(client, await new_user(engine, OPERATOR))
    assert (await post_form(client, login, f"/console/outbox/{email_id}/retry")).status == 409
    assert (await post_form(client, login, "/console/outbox/424242/retry")).status == 404
    assert await audit_entries(engine) == []
