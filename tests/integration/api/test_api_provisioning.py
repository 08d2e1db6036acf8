"""Subscribers, SIP endpoints and DIDs written through /api/v1 (issue 13,
item 1): each write answers as documented, names the field it refuses,
leaves exactly one audit entry with before/after (none when refused, never
a password), tells Asterisk, and an account admin reaches its own account
only. Termination records the contract's end, ends the plan and takes the
endpoints out of Asterisk's configuration. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from access.roles import ACCOUNT_ADMIN
from billing import service_plan_store, subscriptions
from controlplane.asterisk_sync import provisioned
from provisioning import services as provisioning
from tests.integration.admin.support import new_subscriber
from tests.integration.admin.test_http_admin import AUTH, client, plane  # noqa: F401  (fixtures)
from tests.integration.admin.test_plan_subscriptions import PLANS

from .audit_support import API, entries, one_new_entry, refused
from .roles import bearer

NEW = {"name": "Ana Pop", "email": "ana@example.com", "username": "ep-ana", "caller_id_number": "0212345678",
       "account_code": "ANA1", "daily_limit": "5.00"}


async def registrable(engine) -> set[str]:
    """The usernames Asterisk's rendered configuration holds."""
    return {conf.username for conf in (await provisioned(engine)).endpoints}


# -- subscribers ---------------------------------------------------------------------


async def test_creating_a_subscriber_shows_the_password_once_and_audits_no_secret(engine, client, plane):
    before = await entries(engine)
    response = await client.post(f"{API}/subscribers", json=NEW, headers=AUTH)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert len(created["password"]) >= 24
    assert created["endpoint"]["username"] == "ep-ana" and created["account"]["code"] == "ANA1"
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource, entry.resource_id) == ("create", "subscriber",
                                                                 str(created["subscriber"]["id"]))
    assert entry.changes["username"] == {"before": None, "after": "ep-ana"}
    assert created["password"] not in str(entry.changes)
    shown = await (await client.get(f"{API}/subscribers/{created['subscriber']['id']}", headers=AUTH)).text()
    assert created["password"] not in shown
    assert plane.provisioning_changes == 1 and "ep-ana" in await registrable(engine)


async def test_a_bad_or_taken_subscriber_is_refused_naming_the_field_and_leaves_no_entry(engine, client):
    await new_subscriber(engine, code="TAKEN1")
    before = await entries(engine)
    await refused(await client.post(f"{API}/subscribers", json={**NEW, "email": "nobody"}, headers=AUTH),
                  400, "email")
    await refused(await client.post(f"{API}/subscribers", json={**NEW, "daily_limit": 5}, headers=AUTH),
                  400, "daily_limit")
    await refused(await client.post(f"{API}/subscribers", json={**NEW, "username": "ep-TAKEN1"}, headers=AUTH),
                  409, None)
    assert len(await entries(engine)) == len(before)
    assert await provisioning.list_subscribers(engine, search="ana@") == []


async def test_an_account_admin_adds_subscribers_to_its_own_account_only(engine, client):
    own = await new_subscriber(engine, code="OWNP1")
    await new_subscriber(engine, code="FOREIGNP1")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    body = {key: value for key, value in NEW.items() if key != "daily_limit"}
    response = await client.post(f"{API}/subscribers", json={**body, "account_code": "OWNP1"}, headers=headers)
    assert response.status == 201, await response.text()
    assert (await response.json())["endpoint"]["account_code"] == "OWNP1"
    before = await entries(engine)
    foreign = await client.post(f"{API}/subscribers", json={**body, "username": "ep-x", "account_code": "FOREIGNP1"},
                                headers=headers)
    await refused(foreign, 403, "account_code")
    terms = await client.post(f"{API}/subscribers", json={**NEW, "username": "ep-y", "account_code": "OWNP1"},
                              headers=headers)
    await refused(terms, 403, "daily_limit")
    assert len(await entries(engine)) == len(before)


async def test_updating_a_subscriber_audits_the_fields_before_and_after(engine, client):
    created = await new_subscriber(engine, code="UPD1")
    path = f"{API}/subscribers/{created.subscriber.id}"
    before = await entries(engine)
    response = await client.patch(path, json={"name": "Ion Ionescu"}, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["name"] == "Ion Ionescu"
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource) == ("update", "subscriber")
    assert entry.changes == {"name": {"before": "Ion Popescu", "after": "Ion Ionescu"}}
    await refused(await client.patch(path, json={"language": "Romanian"}, headers=AUTH), 400, "language")
    await refused(await client.patch(path, json={}, headers=AUTH), 400, None)
    assert len(await entries(engine)) == len(before) + 1


async def test_an_account_admin_may_not_change_another_accounts_subscriber(engine, client):
    own = await new_subscriber(engine, code="OWNU1")
    other = await new_subscriber(engine, code="OTHERU1")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    assert (await client.patch(f"{API}/subscribers/{own.subscriber.id}", json={"name": "Mine"},
                               headers=headers)).status == 200
    response = await client.patch(f"{API}/subscribers/{other.subscriber.id}", json={"name": "Theirs"},
                                  headers=headers)
    assert response.status == 403 and "OTHERU1" not in await response.text()
    assert (await provisioning.find_subscriber(engine, other.subscriber.id)).name == "Ion Popescu"


async def test_terminating_records_the_date_ends_the_plan_and_the_endpoint_stops_registering(engine, client, plane):
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    created = await new_subscriber(engine, code="TERM1", kind="postpaid", credit_limit_micro=10_000_000,
                                   plan="home5", plan_start=date(2025, 10, 1))
    assert "ep-TERM1" in await registrable(engine)
    path = f"{API}/subscribers/{created.subscriber.id}"
    before = await entries(engine)
    response = await client.post(f"{path}/terminate", json={"last_day": "2025-11-15"}, headers=AUTH)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["endpoints_disabled"] == ["ep-TERM1"] and answer["plans_ended"] == [created.account.id]
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource) == ("terminate", "subscriber")
    assert entry.changes["contract_ended_on"] == {"before": None, "after": "2025-11-15"}
    shown = await (await client.get(path, headers=AUTH)).json()
    assert shown["contract_ended_on"] == "2025-11-15" and shown["endpoints"][0]["disabled_at"] is not None
    [stretch] = await subscriptions.plan_history(engine, created.account.id)
    assert stretch.until_day == date(2025, 11, 16)
    assert "ep-TERM1" not in await registrable(engine)
    assert plane.provisioning_changes == 1
    again = await client.post(f"{path}/terminate", json={"last_day": "2025-11-20"}, headers=AUTH)
    await refused(again, 409, None)
    assert len(await entries(engine)) == len(before) + 1


async def test_terminating_without_a_day_is_400_naming_last_day(engine, client):
    created = await new_subscriber(engine, code="TERM2")
    path = f"{API}/subscribers/{created.subscriber.id}/terminate"
    await refused(await client.post(path, json={"last_day": "15.11.2025"}, headers=AUTH), 400, "last_day")
    await refused(await client.post(path, json={}, headers=AUTH), 400, "last_day")
    assert "ep-TERM2" in await registrable(engine)


# -- SIP endpoints -------------------------------------------------------------------


async def test_endpoints_are_listed_in_pages_and_filtered_by_subscriber_and_account(engine, client):
    made = [await new_subscriber(engine, code=f"LIST{n}") for n in range(3)]
    first = await (await client.get(f"{API}/endpoints", params={"limit": "2"}, headers=AUTH)).json()
    assert [e["username"] for e in first["items"]] == ["ep-LIST0", "ep-LIST1"]
    rest = await (await client.get(f"{API}/endpoints", params={"limit": "2", "cursor": first["next_cursor"]},
                                   headers=AUTH)).json()
    assert [e["username"] for e in rest["items"]] == ["ep-LIST2"] and rest["next_cursor"] is None
    by_subscriber = await (await client.get(f"{API}/endpoints", params={"subscriber": str(made[1].subscriber.id)},
                                            headers=AUTH)).json()
    assert [e["username"] for e in by_subscriber["items"]] == ["ep-LIST1"]
    by_account = await (await client.get(f"{API}/endpoints", params={"account": str(made[2].account.id)},
                                         headers=AUTH)).json()
    assert [e["username"] for e in by_account["items"]] == ["ep-LIST2"]
    await refused(await client.get(f"{API}/endpoints", params={"limit": "201"}, headers=AUTH), 400, "limit")


async def test_an_account_admin_sees_its_own_endpoints_and_not_another_accounts(engine, client):
    own = await new_subscriber(engine, code="OWNE1")
    other = await new_subscriber(engine, code="OTHERE1")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    listed = await (await client.get(f"{API}/endpoints", headers=headers)).json()
    assert [e["username"] for e in listed["items"]] == ["ep-OWNE1"]
    assert (await client.get(f"{API}/endpoints/{own.endpoint.id}", headers=headers)).status == 200
    response = await client.get(f"{API}/endpoints/{other.endpoint.id}", headers=headers)
    assert response.status == 403 and "OTHERE1" not in await response.text()
    response = await client.get(f"{API}/endpoints", params={"account": str(other.account.id)}, headers=headers)
    assert response.status == 403 and "OTHERE1" not in await response.text()
    response = await client.post(f"{API}/endpoints/{other.endpoint.id}/password", headers=headers)
    assert response.status == 403


async def test_changing_an_endpoints_profile_and_caller_id_is_audited(engine, client, plane):
    created = await new_subscriber(engine, code="PROF1")
    path = f"{API}/endpoints/{created.endpoint.id}"
    assert (await (await client.get(path, headers=AUTH)).json())["profile"] == "standard"
    before = await entries(engine)
    response = await client.patch(path, json={"profile": "standard", "caller_id_number": "0219999999"},
                                  headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["caller_id_number"] == "0219999999"
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource, entry.resource_id) == ("update", "endpoint", str(created.endpoint.id))
    assert entry.changes == {"caller_id_number": {"before": "1001", "after": "0219999999"}}
    assert plane.provisioning_changes == 1
    await refused(await client.patch(path, json={"profile": "gold"}, headers=AUTH), 400, "profile")
    await refused(await client.patch(path, json={"display_name": 'a"b'}, headers=AUTH), 400, "display_name")
    assert len(await entries(engine)) == len(before) + 1


async def test_a_password_reset_shows_a_new_password_once_and_audits_no_secret(engine, client, plane):
    created = await new_subscriber(engine, code="PWD1")
    before = await entries(engine)
    response = await client.post(f"{API}/endpoints/{created.endpoint.id}/password", headers=AUTH)
    assert response.status == 200, await response.text()
    password = (await response.json())["password"]
    assert len(password) >= 24 and password != created.endpoint.password
    stored = await provisioning.find_endpoint(engine, "ep-PWD1")
    assert stored.md5_cred != created.endpoint.md5_cred
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource) == ("reset_password", "endpoint")
    assert password not in str(entry.changes) and stored.md5_cred not in str(entry.changes)
    assert plane.provisioning_changes == 1
    await refused(await client.post(f"{API}/endpoints/999999/password", headers=AUTH), 404, None)


# -- DIDs ----------------------------------------------------------------------------


async def test_a_did_is_assigned_listed_and_released_each_audited(engine, client, plane):
    created = await new_subscriber(engine, code="DID1")
    before = await entries(engine)
    response = await client.post(f"{API}/dids", json={"number": "+40 31 234 5678",
                                                      "subscriber_id": created.subscriber.id}, headers=AUTH)
    assert response.status == 201, await response.text()
    assert (await response.json())["number"] == "40312345678"
    assigned = await one_new_entry(engine, before)
    assert (assigned.action, assigned.resource_id) == ("assign", "40312345678")
    listed = await (await client.get(f"{API}/dids", params={"subscriber": str(created.subscriber.id)},
                                     headers=AUTH)).json()
    assert [d["number"] for d in listed["items"]] == ["40312345678"]
    released = await client.delete(f"{API}/dids/40312345678", headers=AUTH)
    assert released.status == 200, await released.text()
    entry = await one_new_entry(engine, [assigned, *before])
    assert entry.action == "release" and entry.changes["number"] == {"before": "40312345678", "after": None}
    assert await provisioning.list_dids(engine) == []
    assert plane.provisioning_changes == 2
    await refused(await client.delete(f"{API}/dids/40312345678", headers=AUTH), 404, None)


async def test_a_bad_did_is_400_naming_the_number_and_leaves_no_entry(engine, client):
    created = await new_subscriber(engine, code="DID2")
    before = await entries(engine)
    for number in ("0900123456", "call me"):  # premium-rate; no number at all
        response = await client.post(f"{API}/dids", json={"number": number, "subscriber_id": created.subscriber.id},
                                     headers=AUTH)
        await refused(response, 400, "number")
    response = await client.post(f"{API}/dids", json={"number": "0312345678", "subscriber_id": created.subscriber.id,
                                                      "ring_seconds": 500}, headers=AUTH)
    await refused(response, 400, "ring_seconds")
    assert len(await entries(engine)) == len(before)


async def test_an_account_admin_reads_its_own_dids_and_assigns_none(engine, client):
    own = await new_subscriber(engine, code="OWND1")
    other = await new_subscriber(engine, code="OTHERD1")
    for number, subscriber in (("0312345671", own), ("0312345672", other)):
        response = await client.post(f"{API}/dids", json={"number": number, "subscriber_id": subscriber.subscriber.id},
                                     headers=AUTH)
        assert response.status == 201
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    listed = await (await client.get(f"{API}/dids", headers=headers)).json()
    assert [d["number"] for d in listed["items"]] == ["40312345671"]
    response = await client.get(f"{API}/dids", params={"account": str(other.account.id)}, headers=headers)
    assert response.status == 403 and "40312345672" not in await response.text()
    response = await client.post(f"{API}/dids", json={"number": "0312345673", "subscriber_id": own.subscriber.id},
                                 headers=headers)
    assert response.status == 403
