"""Account operations through /api/v1 (issue 13, item 1): reservations,
live calls, call policy, limits, top-ups, suspension and service plans.
Each write answers as documented, names the field it refuses, leaves
exactly one audit entry with before/after (none when refused); an account
admin reads its own account only and changes nothing here. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from access.roles import ACCOUNT_ADMIN, SUPPORT
from admission.service import Admission, CallRequest
from billing import ledger, reservations, service_plan_store
from tests.integration.admin.support import new_subscriber, outbox_count
from tests.integration.admin.test_http_admin import AUTH, client, plane  # noqa: F401  (fixtures)
from tests.integration.admin.test_plan_subscriptions import PLANS

from .audit_support import API, entries, one_new_entry, refused
from .roles import bearer


async def test_live_reservations_and_calls_of_an_account_are_listed(engine, client):
    created = await new_subscriber(engine, code="RES1")
    await ledger.top_up(engine, created.account.id, 10_000_000)
    await reservations.reserve(engine, created.account.id, 1_500_000, ttl=timedelta(minutes=5), reference="call-1")
    path = f"{API}/accounts/{created.account.id}"
    listed = await (await client.get(f"{path}/reservations", headers=AUTH)).json()
    assert [(r["call_reference"], r["amount"]) for r in listed["items"]] == [("call-1", "1.500000")]
    live = await client.get(f"{path}/live-calls", headers=AUTH)
    assert live.status == 200 and (await live.json()) == {"call_refs": [], "count": 0}
    await refused(await client.get(f"{API}/accounts/999999/reservations", headers=AUTH), 404, None)


async def test_an_account_admin_reads_its_own_reservations_and_policy_only(engine, client):
    own = await new_subscriber(engine, code="OWNA1")
    other = await new_subscriber(engine, code="OTHERA1")
    headers = await bearer(engine, ACCOUNT_ADMIN, own.account.id)
    for tail in ("reservations", "live-calls", "policy"):
        assert (await client.get(f"{API}/accounts/{own.account.id}/{tail}", headers=headers)).status == 200
        response = await client.get(f"{API}/accounts/{other.account.id}/{tail}", headers=headers)
        assert response.status == 403, tail
    response = await client.patch(f"{API}/accounts/{own.account.id}/policy", json={"premium_enabled": True},
                                  headers=headers)
    assert response.status == 403


async def test_an_allowlist_change_is_audited_emailed_and_put_into_asterisk(engine, client, plane):
    created = await new_subscriber(engine, code="POL1")
    path = f"{API}/accounts/{created.account.id}/policy"
    assert (await (await client.get(path, headers=AUTH)).json())["allowed_networks"] == []
    before, emails = await entries(engine), await outbox_count(engine)
    response = await client.patch(path, json={"allowed_networks": ["192.0.2.0/24"], "max_concurrent_calls": 4},
                                  headers=AUTH)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["policy"]["allowed_networks"] == ["192.0.2.0/24"] and answer["allowed_ips_change_id"]
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource, entry.resource_id) == ("update", "account_policy", str(created.account.id))
    assert entry.changes == {"allowed_networks": {"before": "", "after": "192.0.2.0/24"},
                             "max_concurrent_calls": {"before": 2, "after": 4}}
    assert await outbox_count(engine) == emails + 1 and plane.provisioning_changes == 1


async def test_a_bad_policy_is_400_naming_the_field_and_leaves_no_entry(engine, client):
    created = await new_subscriber(engine, code="POL2")
    path = f"{API}/accounts/{created.account.id}/policy"
    before = await entries(engine)
    await refused(await client.patch(path, json={"allowed_networks": ["not a network"]}, headers=AUTH),
                  400, "allowed_networks")
    await refused(await client.patch(path, json={"allowed_networks": ["10.0.0.1"] * 101}, headers=AUTH),
                  400, "allowed_networks")
    await refused(await client.patch(path, json={"max_concurrent_calls": -1}, headers=AUTH),
                  400, "max_concurrent_calls")
    assert len(await entries(engine)) == len(before)


async def test_limits_are_changed_and_audited_as_decimal_strings(engine, client):
    created = await new_subscriber(engine, code="LIM1", kind="postpaid", credit_limit_micro=20_000_000)
    path = f"{API}/accounts/{created.account.id}"
    before = await entries(engine)
    response = await client.patch(path, json={"daily_limit": "7.50", "credit_limit": "30"}, headers=AUTH)
    assert response.status == 200, await response.text()
    shown = await response.json()
    assert (shown["daily_limit"], shown["credit_limit"]) == ("7.500000", "30.000000")
    entry = await one_new_entry(engine, before)
    assert entry.changes == {"credit_limit": {"before": "20.000000", "after": "30.000000"},
                             "daily_limit": {"before": None, "after": "7.500000"}}
    response = await client.patch(path, json={"daily_limit": None}, headers=AUTH)
    assert (await response.json())["daily_limit"] is None


async def test_bad_limits_are_400_naming_the_field(engine, client):
    prepaid = await new_subscriber(engine, code="LIM2")
    path = f"{API}/accounts/{prepaid.account.id}"
    before = await entries(engine)
    await refused(await client.patch(path, json={"credit_limit": "10"}, headers=AUTH), 400, "credit_limit")
    await refused(await client.patch(path, json={"daily_limit": "100000.01"}, headers=AUTH), 400, "daily_limit")
    await refused(await client.patch(path, json={"daily_limit": 7.5}, headers=AUTH), 400, "daily_limit")
    assert len(await entries(engine)) == len(before)


async def test_a_top_up_credits_once_per_idempotency_key_and_queues_an_email(engine, client):
    created = await new_subscriber(engine, code="TOP1")
    path = f"{API}/accounts/{created.account.id}/top-ups"
    before, emails = await entries(engine), await outbox_count(engine)
    body = {"amount": "10.00", "reference": "bank 42", "idempotency_key": "top-42"}
    response = await client.post(path, json=body, headers=await bearer(engine, SUPPORT))
    assert response.status == 201, await response.text()
    first = await response.json()
    assert (first["amount"], first["balance"]) == ("10.000000", "10.000000")
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.role) == ("top_up", SUPPORT)
    assert entry.changes["balance"] == {"before": "0.000000", "after": "10.000000"}
    again = await (await client.post(path, json=body, headers=AUTH)).json()
    assert again["entry_id"] == first["entry_id"]
    assert await ledger.balance_micro(engine, created.account.id) == 10_000_000
    assert await outbox_count(engine) == emails + 1
    await refused(await client.post(path, json={"amount": "-1"}, headers=AUTH), 400, "amount")


async def test_suspension_ends_live_calls_after_commit_and_reinstatement_reopens(engine, client, plane):
    created = await new_subscriber(engine, code="SUS1")
    path = f"{API}/accounts/{created.account.id}"
    before = await entries(engine)
    response = await client.post(f"{path}/suspend", json={"cause": "non_payment", "note": "late"}, headers=AUTH)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["calls_ended"] == 2 and answer["suspension"]["cause"] == "non_payment"
    assert plane.ended_for == [created.account.id]
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.changes["status"]) == ("suspend", {"before": "active", "after": "suspended"})
    await refused(await client.post(f"{path}/suspend", json={"cause": "non_payment"}, headers=AUTH), 409, None)
    assert len(await entries(engine)) == len(before) + 1
    response = await client.post(f"{path}/reinstate", headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await ledger.get_account(engine, created.account.id)).status == "active"
    assert (await entries(engine))[0].action == "reinstate"


async def test_a_suspension_without_a_known_cause_is_400_naming_cause(engine, client):
    created = await new_subscriber(engine, code="SUS2")
    path = f"{API}/accounts/{created.account.id}/suspend"
    before = await entries(engine)
    await refused(await client.post(path, json={"cause": "boredom"}, headers=AUTH), 400, "cause")
    await refused(await client.post(path, json={}, headers=AUTH), 400, "cause")
    assert len(await entries(engine)) == len(before)
    assert (await ledger.get_account(engine, created.account.id)).status == "active"


async def test_a_plan_is_put_and_ended_each_audited(engine, client):
    await service_plan_store.import_service_plan_csv(engine, PLANS)
    created = await new_subscriber(engine, code="PLAN1")
    path = f"{API}/accounts/{created.account.id}/plan"
    before = await entries(engine)
    response = await client.put(path, json={"plan": "home5", "immediately": True}, headers=AUTH)
    assert response.status == 200, await response.text()
    put = await response.json()
    assert put["plan"] == "home5"
    entry = await one_new_entry(engine, before)
    assert entry.action == "change_plan" and "home5" in entry.changes["plans"]["after"]
    last_day = put["plan_history"][0]["from_day"]
    response = await client.delete(path, params={"last_day": last_day}, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["plan_history"][0]["until_day"] is not None
    assert (await entries(engine))[0].action == "end_plan"
    await refused(await client.put(path, json={"plan": "nosuch"}, headers=AUTH), 400, "plan")
    await refused(await client.delete(path, params={"last_day": "soon"}, headers=AUTH), 400, "last_day")
    assert len(await entries(engine)) == len(before) + 2


async def test_one_live_call_is_hung_up_through_the_api_and_audited_once(engine, client, plane):
    """POST …/live-calls/{ref}/hangup ends that call (the controller is asked), one "hang_up" entry;
    a call not live on the account is 404, one another instance handles 409 — neither audited;
    an account admin may not."""
    created = await new_subscriber(engine, code="HUP1")
    await ledger.top_up(engine, created.account.id, 5_000_000)
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    try:
        assert (await admission.decide(CallRequest(call_ref="hup-call-1", endpoint="ep-HUP1",
                                                   source_address="192.0.2.10", dialled="0712345678"))).allowed
    finally:
        admission.close()
    path = f"{API}/accounts/{created.account.id}/live-calls"
    await refused(await client.post(f"{path}/no-such-call/hangup", headers=AUTH), 404, None)
    headers = await bearer(engine, ACCOUNT_ADMIN, created.account.id)
    assert (await client.post(f"{path}/hup-call-1/hangup", headers=headers)).status == 403
    plane.owns_calls = False
    before = await entries(engine)
    await refused(await client.post(f"{path}/hup-call-1/hangup", headers=AUTH), 409, None)
    plane.owns_calls = True
    response = await client.post(f"{path}/hup-call-1/hangup", headers=AUTH)
    assert response.status == 200, await response.text()
    assert await response.json() == {"call_ref": "hup-call-1", "status": "ended"}
    assert plane.hung_up == ["hup-call-1", "hup-call-1"]
    entry = await one_new_entry(engine, before)
    assert (entry.action, entry.resource, entry.resource_id) == ("hang_up", "call", "hup-call-1")
