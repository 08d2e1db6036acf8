"""Role isolation, walked over the OpenAPI document (issue 13, item 3 and
invariant 8): every operation × every role answers 403 exactly when the
role lacks the operation's ``x-permission``, and an account admin given a
FOREIGN account's resource id is refused (403 or 404) without a byte of
that resource's data. The document is the API's own, so a route added
later is walked too; :data:`PREFIXES` must name every path's first
segment, or the test fails (a new route cannot escape the table)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from access.roles import ACCOUNT_ADMIN, ROLE_NAMES, ROLE_PERMISSIONS
from billing import fx_store
from billing.invoicing import one_off
from billing.invoicing.tables import invoices
from provisioning.tables import sip_endpoints
from tests.integration.admin.support import add_did, new_subscriber
from tests.integration.admin.test_plan_subscriptions import bucharest_today
from tests.integration.invoicing.support import SUPPLIER

from .roles import bearer

API = "/api/v1"

PREFIXES: dict[str, str | None] = {
    # first path segment -> the kind of account-scoped resource its ids name (None: not account-scoped)
    "accounts": "account", "subscribers": "subscriber", "endpoints": "endpoint", "dids": "did",
    "invoices": "invoice", "calls": None, "calls.csv": None, "quarantine": None, "fx-rates": None,
    "downtime": None, "openapi.json": None, "docs": None, "tariffs": None, "plans": None,
    "templates": None, "outbox": None, "users": None, "tokens": "token", "audit": None, "me": "token",
    "payments": None,
}
"""Every path's first segment after /api/v1 → the fixture resource its ids name."""

_PARAMETER = re.compile(r"\{([a-z_]+)\}")
SAMPLES = {"day": "2025-07-10", "username": "no.such.user", "plan": "annex_b", "token": "2147483647"}
"""A value of each path parameter that is not an id (the router matches only its form); a token
no one holds (revoking the caller's own would end the walk with 401s)."""


@dataclass(frozen=True)
class Owned:
    """One account's resources and the texts only it has (its data's markers)."""

    ids: dict[str, str]
    markers: tuple[str, ...]


async def owned(engine, code: str, number: str) -> Owned:
    """An account with its subscriber, endpoint, DID and a one-off invoice."""
    created = await new_subscriber(engine, code=code)
    did = await add_did(engine, number=number, subscriber_id=created.subscriber.id)
    await one_off.add_one_off_charge(engine, created.account.id, description=f"Setup {code}",
                                     unit_price_micro=10_000_000)
    issued = await one_off.issue_one_off_invoice(engine, created.account.id, supplier=SUPPLIER)
    async with engine.connect() as conn:
        endpoint_id = await conn.scalar(select(sip_endpoints.c.id).where(sip_endpoints.c.username == f"ep-{code}"))
        invoice_id = await conn.scalar(select(invoices.c.id).where(invoices.c.account_id == created.account.id))
    return Owned(ids={"account": str(created.account.id), "subscriber": str(created.subscriber.id),
                      "endpoint": str(endpoint_id), "did": did.number, "invoice": issued.number},
                 markers=(code, f"ep-{code}", f"{code.lower()}@example.com", f"Setup {code}", issued.number))


@pytest.fixture
async def world(engine):
    """Two accounts: the account admin's own, and a foreign one."""
    await fx_store.store_rates(engine, {bucharest_today() - timedelta(days=1): {"EUR": Decimal("5.0000")}})
    return await owned(engine, "OWNACC", "0212345671"), await owned(engine, "FORACC", "0212345672")


async def operations(client) -> list[tuple[str, str, dict]]:
    """Every operation of the served document: method, path, operation."""
    document = await (await client.get(f"{API}/openapi.json")).json()
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def kind_of(path: str) -> str | None:
    segment = path.removeprefix(API + "/").split("/", 1)[0]
    assert segment in PREFIXES, f"{path}: add {segment!r} to PREFIXES (the resource its ids name)"
    return PREFIXES[segment]


def filled(path: str, resources: Owned) -> str:
    """``path`` with each id of ``resources``: ``{id}`` the path's own kind, ``{kind_id}`` that kind."""
    kind = kind_of(path)

    def one(match: re.Match) -> str:
        name = match.group(1)
        wanted = kind if name == "id" else name.removesuffix("_id")
        return resources.ids.get(wanted or "", SAMPLES.get(wanted or name, SAMPLES.get(name, "1")))
    return _PARAMETER.sub(one, path)


async def test_every_operation_is_in_the_prefix_table_and_names_its_permission(client) -> None:
    """A new route's path must be in PREFIXES, and each protected operation carries x-permission."""
    for method, path, operation in await operations(client):
        kind_of(path)
        if operation.get("security"):
            assert operation.get("x-permission") in ROLE_PERMISSIONS["operator"], f"{method} {path}"


@pytest.mark.parametrize("role", ROLE_NAMES)
async def test_each_operation_is_403_exactly_when_the_role_lacks_its_permission(engine, client, world,
                                                                                role) -> None:
    """Every operation × this role: 403 when the role lacks x-permission
    (decided before the body is read: no valid body needed), not 403 when
    it holds it (the account admin on its own resources)."""
    own, _ = world
    headers = await bearer(engine, role, int(own.ids["account"]))
    for method, path, operation in await operations(client):
        permission = operation.get("x-permission")
        if permission is None:
            continue
        response = await client.request(method, filled(path, own), json={}, headers=headers)
        lacks = permission not in ROLE_PERMISSIONS[role]
        assert (response.status == 403) == lacks, f"{role} {method} {path} ({permission}): {response.status}"


async def test_an_account_admin_never_reaches_a_foreign_accounts_resource(engine, client, world) -> None:
    """Every operation whose path names an account-scoped id, called by an
    account admin with the foreign account's id: 403 or 404 — or, for a
    write with a body, 400 before the handler ran — and never any of the
    foreign resource's data."""
    own, foreign = world
    headers = await bearer(engine, ACCOUNT_ADMIN, int(own.ids["account"]))
    walked = 0
    for method, path, operation in await operations(client):
        if kind_of(path) is None or not _PARAMETER.search(path) or operation.get("x-permission") is None:
            continue
        walked += 1
        response = await client.request(method, filled(path, foreign), json={}, headers=headers)
        allowed = {403, 404} | ({400} if "requestBody" in operation else set())
        assert response.status in allowed, f"{method} {path}: {response.status}"
        text = await response.text()
        assert not [m for m in foreign.markers if m in text], f"{method} {path} shows the foreign account's data"
    assert walked >= 3  # /accounts/{id}, its ledger, /subscribers/{id} at least
