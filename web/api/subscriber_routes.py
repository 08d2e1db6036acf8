"""/api/v1's subscriber writes: create one (with its SIP endpoint and, for
staff, its billing account), change their details, terminate them.

Every write is one audited change (:meth:`ApiCall.change`); the running
Asterisk is told after the commit (``provisioning_changed``) when
endpoints appear or are disabled. An account admin works on its own
account only: it adds subscribers to that account (the body's
``account_code`` must be its code; it sets no account terms) and changes
only subscribers with an endpoint billed to it.
"""

from __future__ import annotations

from typing import Any

from billing import ledger
from provisioning import lifecycle
from provisioning import services as provisioning
from provisioning.records import Endpoint, Subscriber
from web import admin_operations as operations
from web.admin_routes import ADMIN_SERVICES
from web.subscriber_changes import endpoint_view, subscriber_view, terminate

from .accounts import check_subscriber_account
from .errors import ApiError
from .provisioning_schemas import (
    AccountBrief,
    SubscriberCreate,
    SubscriberCreated,
    SubscriberPatch,
    TerminatedOut,
    TerminateRequest,
)
from .registry import ApiCall, RouteTable
from .schemas import EndpointOut, SubscriberOut

routes = RouteTable()

_ACCOUNT_TERMS = ("kind", "credit_limit", "daily_limit", "tariff", "plan", "plan_start")
"""What a new subscriber's own account is opened with: staff only."""


def admin_services(call: ApiCall) -> Any:
    """The running control plane's parts (``web.app.AdminServices``)."""
    return call.request.app[ADMIN_SERVICES]


def subscriber_out(subscriber: Subscriber) -> SubscriberOut:
    """The subscriber as /api/v1 shows them."""
    return SubscriberOut.model_validate(subscriber, from_attributes=True)


def endpoint_out(endpoint: Endpoint) -> EndpointOut:
    """The endpoint as /api/v1 shows it (never its credential)."""
    return EndpointOut.model_validate(endpoint, from_attributes=True)


async def _subscriber_in_reach(call: ApiCall, subscriber_id: int) -> None:
    """404 for an unknown subscriber; 403 for an account admin unless it is theirs."""
    if await provisioning.find_subscriber(call.engine, subscriber_id) is None:
        raise ApiError(404, f"no subscriber with id {subscriber_id}")
    await check_subscriber_account(call, await provisioning.endpoints_of_subscriber(call.engine, subscriber_id))


@routes.route("POST", "/subscribers", summary="Create a subscriber with its SIP endpoint and account",
              permission="subscribers.write", body=SubscriberCreate, response=SubscriberCreated, status=201)
async def create_subscriber(call: ApiCall) -> SubscriberCreated:
    """A subscriber, its SIP endpoint (password generated, shown once) and,
    for staff, its own billing account ``account_code``; an account admin's
    subscriber has its endpoint billed to the admin's account."""
    body: SubscriberCreate = call.body
    services = admin_services(call)
    own = call.own_account_id
    if own is not None:
        for name in _ACCOUNT_TERMS:
            if name in body.model_fields_set:
                raise ApiError(403, f"{name}: an account admin adds subscribers to its own account", name)
    async with call.change("create", "subscriber") as change:
        if own is None:
            terms = {name: getattr(body, name) for name in ("kind", "tariff", "plan", "plan_start")
                     if getattr(body, name) is not None}
            created = await operations.create_subscriber(
                change.conn, name=body.name, email=body.email, language=body.language, username=body.username,
                caller_id_number=body.caller_id_number, display_name=body.display_name,
                account_code=body.account_code, credit_limit_micro=body.credit_limit or 0,
                daily_limit_micro=body.daily_limit, realm=services.sip_realm,
                one_off_invoicing=services.one_off_invoicing, **terms)
            subscriber, endpoint, account = created.subscriber, created.endpoint, created.account
        else:
            account = await ledger.get_account(change.conn, own)
            if body.account_code != account.code:
                raise ApiError(403, "account_code: an account admin adds subscribers to its own account only",
                               "account_code")
            subscriber = await provisioning.create_subscriber(change.conn, name=body.name, email=body.email,
                                                              language=body.language)
            endpoint = await provisioning.add_endpoint(
                change.conn, subscriber_id=subscriber.id, username=body.username,
                caller_id_number=body.caller_id_number, display_name=body.display_name,
                account_code=account.code, realm=services.sip_realm)
        change.resource_id = subscriber.id
        change.fields(None, {**subscriber_view(subscriber), **endpoint_view(endpoint)})
    await services.provisioning_changed()  # the new endpoint can register
    assert endpoint.password is not None  # set on the record that created it
    return SubscriberCreated(
        subscriber=subscriber_out(subscriber), endpoint=endpoint_out(endpoint), password=endpoint.password,
        account=AccountBrief(id=account.id, code=account.code, kind=account.kind, status=account.status))


@routes.route("PATCH", "/subscribers/{id}", summary="Change a subscriber's name, email or language",
              permission="subscribers.write", body=SubscriberPatch, response=SubscriberOut)
async def update_subscriber(call: ApiCall) -> SubscriberOut:
    """Change the fields sent (at least one)."""
    body: SubscriberPatch = call.body
    subscriber_id = call.path_id()
    await _subscriber_in_reach(call, subscriber_id)
    async with call.change("update", "subscriber", subscriber_id) as change:
        before, after = await lifecycle.update_subscriber(change.conn, subscriber_id, name=body.name,
                                                          email=body.email, language=body.language)
        change.fields(subscriber_view(before), subscriber_view(after))
    return subscriber_out(after)


@routes.route("POST", "/subscribers/{id}/terminate",
              summary="Terminate a subscriber: contract end recorded, plan ended, SIP endpoints disabled",
              permission="subscribers.write", body=TerminateRequest, response=TerminatedOut)
async def terminate_subscriber(call: ApiCall) -> TerminatedOut:
    """Record ``last_day`` as the contract's last day, end the service plan
    of the subscriber's own accounts after it, and disable their SIP
    endpoints (Asterisk is told after the commit); 409 when terminated already."""
    body: TerminateRequest = call.body
    subscriber_id = call.path_id()
    await _subscriber_in_reach(call, subscriber_id)
    async with call.change("terminate", "subscriber", subscriber_id) as change:
        done = await terminate(change.conn, subscriber_id, body.last_day)
        change.fields(done.before, done.after)
    await admin_services(call).provisioning_changed()  # its endpoints leave Asterisk's configuration
    return TerminatedOut(subscriber=subscriber_out(done.subscriber), endpoints_disabled=done.endpoints_disabled,
                         plans_ended=done.plans_ended)
