"""The console's subscriber lifecycle and SIP endpoint operations:
terminate a subscriber (a last day, a confirmation step; the page then
shows contract_ended_on), give an endpoint a new password (shown once,
never stored in clear nor audited) and change its dialplan profile.

The same owner functions as /api/v1 (:mod:`web.subscriber_changes`,
provisioning). An account admin acts only on subscribers and endpoints
billed to its own account (another: 403, nothing shown). Asterisk is told
after each commit.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from billing import ledger
from provisioning import endpoints as provisioning_endpoints
from provisioning import services as provisioning
from provisioning.records import Endpoint
from web.admin_input import AdminError, InvalidInputError, refusals
from web.subscriber_changes import endpoint_view, terminate

from .changes import console_change
from .context import Viewer, posted_form, services, viewer
from .render import render, see_other
from .subscribers import path_id, subscriber_view


def _last_day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError("last_day", "a day as YYYY-MM-DD") from None


async def terminate_page(request: web.Request, *, error: str | None = None, last_day: str = "",
                         status: int = 200) -> web.Response:
    """GET /console/subscribers/{id}/terminate: the last day to end the contract on, and the confirmation."""
    who = await viewer(request, "subscribers.write")
    subscriber, endpoints, _ = await subscriber_view(request, who, path_id(request))
    return render(request, "subscriber_terminate.html", {
        "subscriber": subscriber, "endpoints": endpoints, "error": error, "last_day": last_day,
    }, who=who, status=status)


async def terminate_subscriber(request: web.Request) -> web.Response:
    """POST /console/subscribers/{id}/terminate: record the last day, end the plans, disable the endpoints (audited)."""
    who = await viewer(request, "subscribers.write")
    form = await posted_form(request, who)
    subscriber_id = path_id(request)
    await subscriber_view(request, who, subscriber_id)  # 404, or 403 for another account's
    text = form.get("last_day", "").strip()[:10]
    try:
        last_day = _last_day(text)
        async with console_change(request, who, action="terminate", resource="subscriber",
                                  resource_id=subscriber_id) as change:
            done = await terminate(change.conn, subscriber_id, last_day)
            change.fields(done.before, done.after)
    except AdminError as exc:
        return await terminate_page(request, error=str(exc), last_day=text, status=exc.status)
    await services(request).provisioning_changed()  # its endpoints leave Asterisk's configuration
    return see_other(f"/console/subscribers/{subscriber_id}")


async def _endpoint_for(request: web.Request, who: Viewer) -> Endpoint:
    """The endpoint in the path (404); 403 for an account admin unless it is billed to its account."""
    engine = services(request).engine
    with refusals():
        endpoint = await provisioning_endpoints.get_endpoint(engine, path_id(request))
        if who.own_account_id is not None:
            own = await ledger.get_account(engine, who.own_account_id)
            who.check_account(who.own_account_id if endpoint.account_code == own.code else None)
    return endpoint


async def reset_password(request: web.Request) -> web.Response:
    """POST /console/endpoints/{id}/password: a new generated password, shown on this answer only (audited)."""
    who = await viewer(request, "endpoints.write")
    await posted_form(request, who)
    endpoint = await _endpoint_for(request, who)
    svc = services(request)
    async with console_change(request, who, action="reset_password", resource="endpoint",
                              resource_id=endpoint.id) as change:
        reset = await provisioning.reset_password(change.conn, endpoint.username, realm=svc.sip_realm)
        # which credential it has is a secret; that it changed is recorded by the entry itself
        change.fields({"realm": endpoint.realm}, {"realm": reset.realm})
    await svc.provisioning_changed()  # the new credential, or the phone keeps the old one
    return render(request, "secret_once.html", {
        "title_key": "endpoint.new_password", "note_key": "endpoint.password_once", "subject": reset.username,
        "secret": reset.password, "back": f"/console/subscribers/{reset.subscriber_id}",
    }, who=who)


async def change_profile(request: web.Request) -> web.Response:
    """POST /console/endpoints/{id}/profile: the endpoint's dialplan profile (audited; none when unchanged)."""
    who = await viewer(request, "endpoints.write")
    form = await posted_form(request, who)
    endpoint = await _endpoint_for(request, who)
    async with console_change(request, who, action="update", resource="endpoint", resource_id=endpoint.id) as change:
        before, after = await provisioning_endpoints.update_endpoint(
            change.conn, endpoint.id, profile=form.get("profile", "")[:32])
        if before == after:
            change.unchanged()  # saved as it was: no entry
        change.fields(endpoint_view(before), endpoint_view(after))
    await services(request).provisioning_changed()
    return see_other(f"/console/subscribers/{endpoint.subscriber_id}?saved=1")
