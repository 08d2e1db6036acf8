"""Hanging up one live call from the console's account page (issue 13,
item 5), without a browser: the account's live calls listed by admission,
the button's permission, the account scoping, a call not live on the
account (404), a call another instance owns (409), one audit entry."""

from __future__ import annotations

import uuid

import pytest

from access import audit
from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from admission.service import Admission, CallRequest
from tests.integration.admin.support import new_subscriber
from web import admin_operations

from .support import client_login, new_user


async def _live_call(engine, code: str) -> tuple[int, str]:
    """A subscriber ``code`` with credit and one call admitted (live); its account id and the call's ref."""
    created = await new_subscriber(engine, code=code)
    await admin_operations.top_up(engine, created.account.id, 5_000_000)
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    call_ref = f"{code.lower()}-{uuid.uuid4().hex[:12]}"
    try:
        decision = await admission.decide(CallRequest(call_ref=call_ref, endpoint=f"ep-{code}",
                                                      source_address="192.0.2.10", dialled="0712345678"))
    finally:
        admission.close()
    assert decision.allowed, decision
    return created.account.id, call_ref


def _hang_up_path(account_id: int, call_ref: str) -> str:
    return f"/console/accounts/{account_id}/calls/{call_ref}/hang-up"


async def test_the_account_page_lists_its_live_calls_each_with_a_hang_up_button(engine, client) -> None:
    """The live call's ref, class and number dialled are shown with a form posting to its hang-up route."""
    account_id, call_ref = await _live_call(engine, "HANG1")
    await _live_call(engine, "HANG2")  # another account's call is not listed
    login = await client_login(client, await new_user(engine, OPERATOR))
    html = await (await client.get(f"/console/accounts/{account_id}", headers=login.headers)).text()
    assert f'data-call="{call_ref}"' in html and "0712345678" in html
    assert html.count('data-testid="hang-up"') == 1
    assert f'action="{_hang_up_path(account_id, call_ref)}"' in html


async def test_hanging_up_ends_the_call_and_leaves_one_audit_entry(engine, client, plane) -> None:
    """The controller is asked to end exactly that call; the entry names the user, "hang_up", the call."""
    account_id, call_ref = await _live_call(engine, "HANG3")
    name = await new_user(engine, OPERATOR)
    login = await client_login(client, name)
    response = await client.post(_hang_up_path(account_id, call_ref), data={"csrf": login.csrf},
                                 headers=login.headers, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == f"/console/accounts/{account_id}?hung_up=1"
    assert plane.hung_up == [call_ref]
    [entry] = (await audit.list_entries(engine)).entries
    assert (entry.action, entry.resource, entry.resource_id, entry.actor, entry.role) == (
        "hang_up", "call", call_ref, name, OPERATOR)
    assert entry.changes == {"state": {"before": "live", "after": "ended"}}


@pytest.mark.parametrize("role,own,status", [
    (AUDITOR, False, 403),
    (ACCOUNT_ADMIN, True, 403),  # an account admin may see its calls but not end them
    (ACCOUNT_ADMIN, False, 403),
    (SUPPORT, False, 303),
    (OPERATOR, False, 303),
])
async def test_hang_up_answers_by_the_roles_permission(engine, client, plane, role, own, status) -> None:
    """Only roles with accounts.suspend hang up; a refused one ends nothing and leaves no entry."""
    other = await _live_call(engine, "HANG4")
    mine = await _live_call(engine, "HANG5")
    login = await client_login(client, await new_user(engine, role, mine[0]))
    target, ref = mine if own else other
    response = await client.post(_hang_up_path(target, ref), data={"csrf": login.csrf}, headers=login.headers,
                                 allow_redirects=False)
    assert response.status == status, await response.text()
    assert plane.hung_up == ([ref] if status == 303 else [])
    assert len((await audit.list_entries(engine)).entries) == (1 if status == 303 else 0)


async def test_an_account_admin_sees_its_calls_without_buttons_and_not_anothers(engine, client) -> None:
    """Invariant 8: the own account's calls are listed (no hang-up button); a foreign account is 403."""
    mine, call_ref = await _live_call(engine, "HANG7")
    foreign, _ = await _live_call(engine, "HANG8")
    login = await client_login(client, await new_user(engine, ACCOUNT_ADMIN, mine))
    html = await (await client.get(f"/console/accounts/{mine}", headers=login.headers)).text()
    assert f'data-call="{call_ref}"' in html and 'data-testid="hang-up"' not in html
    response = await client.get(f"/console/accounts/{foreign}", headers=login.headers)
    assert response.status == 403
    assert "HANG8" not in await response.text()


@pytest.mark.parametrize("which", ["unknown", "another_accounts", "too_long"])
async def test_a_call_not_live_on_the_account_is_404_and_nothing_is_ended(engine, client, plane, which) -> None:
    """An unknown ref, another account's live call, or an over-long ref: the 404 page, no end, no entry."""
    account_id, _ = await _live_call(engine, "HANG9")
    _, others = await _live_call(engine, "HANG10")
    ref = {"unknown": "no-such-call", "another_accounts": others, "too_long": "x" * 65}[which]
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post(_hang_up_path(account_id, ref), data={"csrf": login.csrf}, headers=login.headers,
                                 allow_redirects=False)
    assert response.status == 404, await response.text()
    assert plane.hung_up == []
    assert (await audit.list_entries(engine)).entries == []


async def test_a_call_another_instance_owns_is_409_with_a_clear_message(engine, client, plane) -> None:
    """The controller here does not own the call: the page says so, and nothing is audited."""
    account_id, call_ref = await _live_call(engine, "HANG11")
    plane.owns_calls = False
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await client.post(_hang_up_path(account_id, call_ref), data={"csrf": login.csrf},
                                 headers=login.headers, allow_redirects=False)
    assert response.status == 409
    assert "handled by another control-plane instance" in await response.text()
    assert plane.hung_up == [call_ref]
    assert (await audit.list_entries(engine)).entries == []
