"""The admin HTTP API: JSON in and out, a bearer token, and a 4xx with a
reason for every bad request ("bad input gets a clear error"). On SQLite
and PostgreSQL, through aiohttp's own test server and client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing import ledger
from notify.notifier import Notifier
from notify.render import Renderer
from web.app import AdminServices, build_admin_app
from controlplane.invoicing_wiring import invoicing_service
from controlplane.recipients import account_contact
from controlplane.settings import Settings

from .support import queued_emails

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Plane:
    """Stands in for the running control plane's parts the admin routes are
    built with (its calls, its Asterisk sync): counts what they were asked."""

    engine: Any
    settings: Settings
    provisioning_changes: int = 0
    ended_for: list[int] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)
    owns_calls: bool = True  # False: as if another instance's controller owned every call

    async def provisioning_changed(self) -> None:
        self.provisioning_changes += 1

    async def end_calls(self, account_id: int) -> int:
        self.ended_for.append(account_id)
        return 2

    async def end_call(self, call_ref: str) -> bool:
        self.hung_up.append(call_ref)
        return self.owns_calls

    async def health(self) -> dict[str, object]:
        return {"status": "ok"}

    def services(self) -> AdminServices:
        """The admin API's dependencies, each one of this stand-in's."""
        notifier = Notifier(Renderer(timezone=self.settings.timezone))
        return AdminServices(
            engine=self.engine, admin_token=self.settings.admin_token, sip_realm=self.settings.sip_realm,
            notifier=notifier, account_contact=account_contact,
            end_calls=self.end_calls, end_call=self.end_call,
            provisioning_changed=self.provisioning_changed, health=self.health,
            invoicing=invoicing_service(self.engine, notifier), supplier=self.settings.supplier,
        )


@pytest.fixture
async def plane(engine, tmp_path) -> Plane:
    return Plane(engine, Settings(state_dir=tmp_path, admin_token=TOKEN))


@pytest.fixture
async def client(plane):
    async with TestClient(TestServer(build_admin_app(plane.services()))) as client:
        yield client


SUBSCRIBER = {"name": "Ion Popescu", "email": "ion@example.com", "username": "ep-ion",
              "caller_id_number": "0212345678", "account_code": "ION1", "daily_limit": "5.00"}


async def post(client, path: str, body: Any, headers=AUTH):
    return await client.post(path, json=body, headers=headers)


async def created_account(client) -> int:
    response = await post(client, "/admin/subscribers", SUBSCRIBER)
    assert response.status == 201, await response.text()
    return (await response.json())["account"]["id"]


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
async def test_requests_without_the_right_bearer_token_are_refused(client, headers):
    response = await client.get("/admin/accounts/1", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"] == "missing or wrong bearer token"


async def test_an_empty_admin_token_refuses_everyone(engine, tmp_path):
    plane = Plane(engine, Settings(state_dir=tmp_path, admin_token=""))
    async with TestClient(TestServer(build_admin_app(plane.services()))) as client:
        response = await client.get("/admin/accounts/1", headers={"Authorization": "Bearer "})
    assert response.status == 401


# -- subscribers and numbers ----------------------------------------------------------------


async def test_creating_a_subscriber_answers_its_endpoint_password_and_account(client):
    response = await post(client, "/admin/subscribers", SUBSCRIBER)
    assert response.status == 201
    body = await response.json()
    assert body["endpoint"]["username"] == "ep-ion" and len(body["endpoint"]["password"]) >= 24
    assert body["account"]["code"] == "ION1" and body["account"]["daily_limit"] == "5.000000"
    assert body["account"]["subscriber_id"] == body["subscriber"]["id"]


async def test_a_missing_field_is_named(client):
    body = {k: v for k, v in SUBSCRIBER.items() if k != "email"}
    response = await post(client, "/admin/subscribers", body)
    assert response.status == 400
    assert await response.json() == {"error": "email: required", "field": "email"}


async def test_an_unknown_field_is_named(client):
    response = await post(client, "/admin/subscribers", {**SUBSCRIBER, "colour": "blue"})
    assert response.status == 400 and (await response.json())["field"] == "colour"


async def test_a_field_breaking_its_rule_is_named_with_the_rule(client):
    response = await post(client, "/admin/subscribers", {**SUBSCRIBER, "username": "bad name;"})
    body = await response.json()
    assert response.status == 400 and body["field"] == "username" and "letters, digits" in body["error"]


async def test_a_taken_username_is_a_conflict(client):
    await created_account(client)
    response = await post(client, "/admin/subscribers", {**SUBSCRIBER, "account_code": "ION2"})
    assert response.status == 409 and "ep-ion" in (await response.json())["error"]


@pytest.mark.parametrize("data,content_type,status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b"name=x", "application/x-www-form-urlencoded", 415),
])
async def test_a_body_that_is_not_a_json_object_is_refused(client, data, content_type, status):
    response = await client.post("/admin/subscribers", data=data,
                                 headers={**AUTH, "Content-Type": content_type})
    assert response.status == status and (await response.json())["error"]


async def test_a_wrongly_typed_field_is_refused(client):
    response = await post(client, "/admin/subscribers", {**SUBSCRIBER, "name": 42})
    assert response.status == 400 and (await response.json())["field"] == "name"


async def test_adding_a_did_normalises_it_and_tells_the_running_control_plane(client, plane):
    """A new DID is a new on-net number and inbound extension: the running
    control plane is told, so Asterisk gets it without a restart."""
    await created_account(client)
    subscriber_id = (await ledger.find_account(plane.engine, "ION1")).subscriber_id
    before = plane.provisioning_changes
    response = await post(client, "/admin/dids", {"number": "+40 31 234 5678", "subscriber_id": subscriber_id})
    assert response.status == 201 and (await response.json())["number"] == "40312345678"
    assert plane.provisioning_changes == before + 1
    unknown = await post(client, "/admin/dids", {"number": "0312345679", "subscriber_id": 999})
    assert unknown.status == 404


async def test_a_null_ring_time_gives_a_did_the_default_ring_time(client, plane):
    """Bad input gets a 4xx or the documented default, never a 500: a JSON
    null for an optional number is read as absent (ring time 25 s)."""
    await created_account(client)
    subscriber_id = (await ledger.find_account(plane.engine, "ION1")).subscriber_id
    response = await post(client, "/admin/dids",
                          {"number": "0312345678", "subscriber_id": subscriber_id, "ring_seconds": None})
    assert response.status == 201 and (await response.json())["ring_seconds"] == 25


# -- accounts --------------------------------------------------------------------------------


async def test_top_up_reads_euros_exactly_and_answers_the_balance(client):
    account_id = await created_account(client)
    first = await post(client, f"/admin/accounts/{account_id}/top-ups", {"amount": "10.50", "reference": "OP-1"})
    second = await client.post(f"/admin/accounts/{account_id}/top-ups",
                               data=b'{"amount": 0.1}', headers={**AUTH, "Content-Type": "application/json"})
    assert first.status == 201 and second.status == 201
    assert (await second.json())["balance"] == "10.600000"  # 0.1 read as a decimal, not a float
    summary = await (await client.get(f"/admin/accounts/{account_id}", headers=AUTH)).json()
    assert summary["balance"] == "10.600000" and summary["status"] == "active"


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "0.0000001", True, None, [1]])
async def test_top_up_refuses_amounts_that_are_not_money(client, amount):
    account_id = await created_account(client)
    response = await post(client, f"/admin/accounts/{account_id}/top-ups", {"amount": amount})
    assert response.status == 400 and (await response.json())["field"] == "amount"


async def test_an_unknown_account_is_404_with_a_reason(client):
    for response in (await client.get("/admin/accounts/4242", headers=AUTH),
                     await post(client, "/admin/accounts/4242/top-ups", {"amount": "1"}),
                     await client.patch("/admin/accounts/4242/policy", json={"premium_enabled": True}, headers=AUTH),
                     await post(client, "/admin/accounts/4242/suspend", {"cause": "operator"})):
        assert response.status == 404
        assert "4242" in (await response.json())["error"]


async def test_policy_patch_changes_the_fields_given_and_emails_the_allowlist_change(client, plane):
    account_id = await created_account(client)
    response = await client.patch(f"/admin/accounts/{account_id}/policy", headers=AUTH,
                                  json={"allowed_networks": ["192.0.2.0/24"], "max_concurrent_calls": 4})
    body = await response.json()
    assert response.status == 200
    assert body["policy"] == {"allowed_networks": ["192.0.2.0/24"], "premium_enabled": False,
                              "international_enabled": True, "blocked_prefixes": [], "max_concurrent_calls": 4}
    (email,) = await queued_emails(plane.engine)
    assert email.kind == "allowed_ips" and email.dedup_key.endswith(body["allowed_ips_change_id"])
    assert "admin API" in email.text


async def test_an_invalid_cidr_is_400_naming_the_entry(client):
    account_id = await created_account(client)
    response = await client.patch(f"/admin/accounts/{account_id}/policy", headers=AUTH,
                                  json={"allowed_networks": ["192.0.2.0/24", "10.1.1.1/33"]})
    body = await response.json()
    assert response.status == 400 and body["field"] == "allowed_networks" and "'10.1.1.1/33'" in body["error"]


async def test_an_empty_policy_patch_is_refused(client):
    account_id = await created_account(client)
    response = await client.patch(f"/admin/accounts/{account_id}/policy", headers=AUTH, json={})
    assert response.status == 400 and "nothing to change" in (await response.json())["error"]


async def test_suspend_ends_live_calls_and_reinstate_reactivates(client, plane):
    account_id = await created_account(client)
    response = await post(client, f"/admin/accounts/{account_id}/suspend", {"cause": "breach", "note": "spam"})
    body = await response.json()
    assert (response.status, body["status"], body["calls_ended"]) == (200, "suspended", 2)
    assert (body["suspension"]["cause"], body["suspension"]["note"], body["suspension"]["ended_at"]) == (
        "breach", "spam", None)
    assert plane.ended_for == [account_id]
    assert (await ledger.get_account(plane.engine, account_id)).status == "suspended"
    response = await post(client, f"/admin/accounts/{account_id}/reinstate", {})
    body = await response.json()
    assert (response.status, body["status"], body["suspension"]["cause"]) == (200, "active", "breach")
    assert body["suspension"]["ended_at"] is not None
