"""The console's subscriber termination, SIP endpoint password and profile,
and an account's limits, without a browser (issue 13, item 5): one audit
entry per change (none when refused or unchanged), the field named on bad
input, an account admin kept to its own subscribers and endpoints."""

from __future__ import annotations

import pytest

from access.roles import ACCOUNT_ADMIN, AUDITOR, OPERATOR, SUPPORT
from billing import ledger
from provisioning import services as provisioning
from tests.integration.admin.support import new_subscriber

from .operations import answer, audit_entries, post_form
from .support import client_login, new_user


async def _endpoint_id(engine, created) -> int:
    [endpoint] = await provisioning.endpoints_of_subscriber(engine, created.subscriber.id)
    return endpoint.id


@pytest.mark.parametrize("role,method,path,status", [
    (AUDITOR, "GET", "/console/subscribers/{subscriber}/terminate", 403),
    (SUPPORT, "POST", "/console/subscribers/{subscriber}/terminate", 403),
    (AUDITOR, "POST", "/console/endpoints/{endpoint}/password", 403),
    (SUPPORT, "POST", "/console/endpoints/{endpoint}/profile", 403),
    (AUDITOR, "POST", "/console/accounts/{account}/limits", 403),
    (SUPPORT, "POST", "/console/accounts/{account}/limits", 403),
    (ACCOUNT_ADMIN, "POST", "/console/accounts/{own}/limits", 403),
    (ACCOUNT_ADMIN, "POST", "/console/endpoints/{endpoint}/password", 403),
    (ACCOUNT_ADMIN, "GET", "/console/subscribers/{subscriber}/terminate", 403),
    (ACCOUNT_ADMIN, "POST", "/console/endpoints/{own_endpoint}/password", 200),
    (OPERATOR, "GET", "/console/subscribers/{subscriber}/terminate", 200),
])
async def test_each_subscriber_operation_answers_by_role_and_account(engine, client, role, method, path,
                                                                     status) -> None:
    """The permission per role; an account admin's foreign subscriber or endpoint is 403 with none of its data."""
    other, own = await new_subscriber(engine, code="SOPOTHER"), await new_subscriber(engine, code="SOPOWN")
    login = await client_login(client, await new_user(engine, role, own.account.id))
    url = path.format(subscriber=other.subscriber.id, endpoint=await _endpoint_id(engine, other),
                      account=other.account.id, own=own.account.id, own_endpoint=await _endpoint_id(engine, own))
    response = await answer(client, login, method, url, last_day="2025-09-30", daily_limit="5")
    text = await response.text()
    assert response.status == status, text
    if status == 403:
        assert "You may not open this page." in text and "ep-SOPOTHER" not in text and "sopother@" not in text


async def test_terminating_shows_the_contract_end_disables_the_endpoint_and_is_audited_once(engine, client,
                                                                                            plane) -> None:
    """Confirm with a last day: the subscriber page shows contract_ended_on; one entry; Asterisk told."""
    created = await new_subscriber(engine, code="TERM1")
    name = await new_user(engine, OPERATOR)
    login = await client_login(client, name)
    page = await client.get(f"/console/subscribers/{created.subscriber.id}/terminate", headers=login.headers)
    assert page.status == 200 and await provisioning.find_subscriber(engine, created.subscriber.id) is not None
    response = await post_form(client, login, f"/console/subscribers/{created.subscriber.id}/terminate",
                           last_day="2025-09-30")
    assert response.status == 303, await response.text()
    shown = await (await client.get(response.headers["Location"], headers=login.headers)).text()
    assert "Contract ended on 2025-09-30." in shown and "disabled" in shown
    [entry] = await audit_entries(engine)
    assert (entry.action, entry.resource, entry.actor) == ("terminate", "subscriber", name)
    assert entry.changes["contract_ended_on"] == {"before": None, "after": "2025-09-30"}
    assert plane.provisioning_changes == 1
    again = await post_form(client, login, f"/console/subscribers/{created.subscriber.id}/terminate",
                            last_day="2025-10-01")
    assert again.status == 409 and len(await audit_entries(engine)) == 1


async def test_a_bad_last_day_is_400_naming_it_and_not_audited(engine, client) -> None:
    """A last day that is no day: 400 naming last_day, the subscriber untouched, no entry."""
    created = await new_subscriber(engine, code="TERM2")
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await post_form(client, login, f"/console/subscribers/{created.subscriber.id}/terminate",
                           last_day="30.09.2025")
    assert response.status == 400 and "last_day:" in await response.text()
    assert (await provisioning.find_subscriber(engine, created.subscriber.id)).contract_ended_on is None
    assert await audit_entries(engine) == []


async def test_a_new_sip_password_is_shown_once_and_never_audited(engine, client, plane) -> None:
    """The new password is on the answer only; the credential changed; the entry holds no secret."""
    created = await new_subscriber(engine, code="PWD1")
    endpoint_id = await _endpoint_id(engine, created)
    [before] = await provisioning.endpoints_of_subscriber(engine, created.subscriber.id)
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await post_form(client, login, f"/console/endpoints/{endpoint_id}/password")
    assert response.status == 200
    password = (await response.text()).split('data-testid="secret">')[1].split("<")[0]
    assert len(password) >= 24
    [after] = await provisioning.endpoints_of_subscriber(engine, created.subscriber.id)
    assert after.md5_cred != before.md5_cred
    [entry] = await audit_entries(engine)
    assert (entry.action, entry.resource, entry.resource_id) == ("reset_password", "endpoint", str(endpoint_id))
    assert password not in str(entry.changes) and after.md5_cred not in str(entry.changes)
    page = await (await client.get(f"/console/subscribers/{created.subscriber.id}", headers=login.headers)).text()
    assert password not in page and plane.provisioning_changes == 1


async def test_a_profile_left_as_it_was_leaves_no_entry_and_an_unknown_one_is_400(engine, client) -> None:
    """Saving the same profile changes nothing and audits nothing; an unknown profile names the field."""
    created = await new_subscriber(engine, code="PROF1")
    endpoint_id = await _endpoint_id(engine, created)
    login = await client_login(client, await new_user(engine, OPERATOR))
    same = await post_form(client, login, f"/console/endpoints/{endpoint_id}/profile", profile="standard")
    assert same.status == 303
    refused = await post_form(client, login, f"/console/endpoints/{endpoint_id}/profile", profile="gold")
    assert refused.status == 400 and "profile:" in await refused.text()
    assert await audit_entries(engine) == []


async def test_the_daily_and_credit_limits_are_set_with_one_audit_entry(engine, client) -> None:
    """A postpaid account's daily limit and credit limit, exact; then an empty daily limit means none."""
    created = await new_subscriber(engine, code="LIM1", kind="postpaid")
    account = f"/console/accounts/{created.account.id}"
    login = await client_login(client, await new_user(engine, OPERATOR))
    assert (await post_form(client, login, f"{account}/limits", daily_limit="7.25", credit_limit="50")).status == 303
    got = await ledger.get_account(engine, created.account.id)
    assert (got.daily_limit_micro, got.credit_limit_micro) == (7_250_000, 50_000_000)
    [entry] = await audit_entries(engine)
    assert (entry.action, entry.resource) == ("update", "account")
    assert entry.changes["daily_limit"] == {"before": None, "after": "7.250000"}
    assert 'value="7.25"' in await (await client.get(account, headers=login.headers)).text()
    assert (await post_form(client, login, f"{account}/limits", daily_limit="", credit_limit="50")).status == 303
    assert (await ledger.get_account(engine, created.account.id)).daily_limit_micro is None
    assert len(await audit_entries(engine)) == 2


@pytest.mark.parametrize("fields,named", [
    ({"daily_limit": "-1"}, "daily_limit"),
    ({"daily_limit": "1,5"}, "daily_limit"),
    ({"daily_limit": "5", "credit_limit": "100001"}, "credit_limit"),
])
async def test_bad_limits_are_400_naming_the_field_and_not_audited(engine, client, fields, named) -> None:
    """A negative, malformed or too large limit: 400 naming it, the account unchanged, no entry."""
    created = await new_subscriber(engine, code="LIM2", kind="postpaid")
    login = await client_login(client, await new_user(engine, OPERATOR))
    response = await post_form(client, login, f"/console/accounts/{created.account.id}/limits", **fields)
    assert response.status == 400 and f"{named}:" in await response.text()
    assert (await ledger.get_account(engine, created.account.id)).daily_limit_micro is None
    assert await audit_entries(engine) == []
