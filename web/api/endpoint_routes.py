"""/api/v1's SIP endpoints and DIDs: pages of them, an endpoint's details
and password reset, assigning and releasing numbers.

An account admin sees the endpoints billed to its account, and the DIDs of
subscribers with such an endpoint; numbers are assigned and released by
staff (``dids.write``). Every write is one audited change; the running
Asterisk is told after the commit (``provisioning_changed``).
"""

from __future__ import annotations

from typing import Optional

from billing import ledger
from provisioning import endpoints as provisioning_endpoints
from provisioning import lifecycle
from provisioning import services as provisioning
from provisioning.records import Did, Endpoint
from web import numbers
from web.numbers import did_view

from .errors import ApiError
from .provisioning_schemas import (
    DidCreate,
    DidOut,
    DidPage,
    DidQuery,
    EndpointPage,
    EndpointPassword,
    EndpointPatch,
    EndpointQuery,
)
from .registry import ApiCall, RouteTable, decoded_cursor, encoded_cursor, id_from_cursor, next_cursor
from .schemas import EndpointOut
from .subscriber_routes import admin_services, endpoint_out, endpoint_view

routes = RouteTable()


async def _account_filter(call: ApiCall, account_id: Optional[int]) -> Optional[str]:
    """The account code a list is limited to: the one asked for (403 for an
    account admin's foreign one), else an account admin's own, else none."""
    if account_id is not None:
        call.check_account(account_id)
    wanted = account_id if account_id is not None else call.own_account_id
    return None if wanted is None else (await ledger.get_account(call.engine, wanted)).code


async def _endpoint_in_reach(call: ApiCall, endpoint_id: int) -> Endpoint:
    """The endpoint ``endpoint_id`` (404); 403 for an account admin unless it is billed to its account."""
    endpoint = await provisioning_endpoints.get_endpoint(call.engine, endpoint_id)
    own = call.own_account_id
    if own is not None and endpoint.account_code != (await ledger.get_account(call.engine, own)).code:
        call.check_account(None)
    return endpoint


# -- SIP endpoints -------------------------------------------------------------------


@routes.route("GET", "/endpoints", summary="List SIP endpoints, by id", permission="endpoints.read",
              query=EndpointQuery, response=EndpointPage)
async def list_endpoints(call: ApiCall) -> EndpointPage:
    """Endpoints, of one subscriber and/or billed to one account when asked."""
    query: EndpointQuery = call.query
    code = await _account_filter(call, query.account)
    after = 0 if query.cursor is None else id_from_cursor(query.cursor)
    found = await provisioning_endpoints.page_endpoints(call.engine, subscriber_id=query.subscriber,
                                                        account_code=code, after_id=after, limit=query.limit)
    return EndpointPage(items=[endpoint_out(e) for e in found], next_cursor=next_cursor(found, query.limit))


@routes.route("GET", "/endpoints/{id}", summary="A SIP endpoint", permission="endpoints.read",
              response=EndpointOut)
async def get_endpoint(call: ApiCall) -> EndpointOut:
    """The endpoint (never its credential)."""
    return endpoint_out(await _endpoint_in_reach(call, call.path_id()))


@routes.route("PATCH", "/endpoints/{id}", summary="Change a SIP endpoint's profile, display name or caller ID",
              permission="endpoints.write", body=EndpointPatch, response=EndpointOut)
async def update_endpoint(call: ApiCall) -> EndpointOut:
    """Change the fields sent (at least one); ``profile`` is one of
    :data:`provisioning.endpoints.DIALPLAN_PROFILES` (``standard`` only
    until the dialplan templates add others)."""
    body: EndpointPatch = call.body
    endpoint_id = call.path_id()
    await _endpoint_in_reach(call, endpoint_id)
    async with call.change("update", "endpoint", endpoint_id) as change:
        before, after = await provisioning_endpoints.update_endpoint(
            change.conn, endpoint_id, profile=body.profile, display_name=body.display_name,
            caller_id_number=body.caller_id_number)
        change.fields(endpoint_view(before), endpoint_view(after))
    await admin_services(call).provisioning_changed()  # its caller ID and name are in pjsip.conf
    return endpoint_out(after)


@routes.route("POST", "/endpoints/{id}/password", summary="Give a SIP endpoint a new generated password",
              permission="endpoints.write", response=EndpointPassword)
async def reset_endpoint_password(call: ApiCall) -> EndpointPassword:
    """A new strong password, shown this once (only its digest credential is
    stored, never audited); Asterisk is told after the commit."""
    endpoint_id = call.path_id()
    endpoint = await _endpoint_in_reach(call, endpoint_id)
    services = admin_services(call)
    async with call.change("reset_password", "endpoint", endpoint_id) as change:
        reset = await provisioning.reset_password(change.conn, endpoint.username, realm=services.sip_realm)
        # which credential it has is a secret; that it changed is recorded by the entry itself
        change.fields({"realm": endpoint.realm}, {"realm": reset.realm})
    await services.provisioning_changed()  # the new credential, or the phone keeps the old one
    assert reset.password is not None
    return EndpointPassword(endpoint=endpoint_out(reset), password=reset.password)


# -- DIDs ----------------------------------------------------------------------------


_DID_CURSOR = "d1"  # a DID page's cursor carries the last number


def _did_out(did: Did) -> DidOut:
    return DidOut(number=did.number, subscriber_id=did.subscriber_id, ring_seconds=did.ring_seconds,
                  voicemail_enabled=did.voicemail_enabled)


@routes.route("GET", "/dids", summary="List DIDs, by number", permission="dids.read", query=DidQuery,
              response=DidPage)
async def list_dids(call: ApiCall) -> DidPage:
    """Our numbers, of one subscriber and/or of subscribers with an endpoint
    billed to one account when asked."""
    query: DidQuery = call.query
    code = await _account_filter(call, query.account)
    after = "" if query.cursor is None else decoded_cursor(query.cursor, _DID_CURSOR, "[0-9]{1,15}")
    found = await lifecycle.page_dids(call.engine, subscriber_id=query.subscriber, account_code=code,
                                      after_number=after, limit=query.limit)
    last = encoded_cursor(_DID_CURSOR, found[-1].number) if len(found) == query.limit else None
    return DidPage(items=[_did_out(d) for d in found], next_cursor=last)


@routes.route("POST", "/dids", summary="Give a subscriber one of our numbers", permission="dids.write",
              body=DidCreate, response=DidOut, status=201)
async def assign_did(call: ApiCall) -> DidOut:
    """The number as a person writes it, stored as E.164 digits; 409 when
    it is somebody's already. Asterisk is told (a new inbound extension)."""
    body: DidCreate = call.body
    async with call.change("assign", "did") as change:
        did = await numbers.assign_did(change.conn, number=body.number, subscriber_id=body.subscriber_id,
                                       ring_seconds=body.ring_seconds, voicemail_enabled=body.voicemail_enabled)
        change.resource_id = did.number
        change.fields(None, did_view(did))
    await admin_services(call).provisioning_changed()  # a new on-net number and inbound extension
    return _did_out(did)


@routes.route("DELETE", "/dids/{number}", summary="Release a DID from its subscriber", permission="dids.write",
              response=DidOut)
async def release_did(call: ApiCall) -> DidOut:
    """The number leaves its subscriber (and Asterisk, after the commit); 404 when it is not ours."""
    number = call.request.match_info["number"]
    if len(number) > numbers.MAX_DID_DIGITS:
        raise ApiError(404, "no such DID: a DID is at most 15 digits")
    async with call.change("release", "did", number) as change:
        did = await numbers.release_did(change.conn, number)
        change.fields(did_view(did), None)
    await admin_services(call).provisioning_changed()  # the number no longer rings anyone
    return _did_out(did)
