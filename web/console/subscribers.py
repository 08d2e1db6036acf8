"""The console's subscribers: search with cursor pages, create (the SIP
password shown once), and edit name, email and language.

An account admin sees only the subscribers with an endpoint billed to its
own account, and may not create one (a new subscriber opens a new
account: ``accounts.write``, which the role does not hold).
"""

from __future__ import annotations

from aiohttp import web

from billing import ledger
from billing.money import format_micro
from provisioning import services as provisioning
from provisioning.endpoints import DIALPLAN_PROFILES
from web import admin_operations
from web.admin_input import MAX_LIMIT_MICRO, AdminError, amount_micro, refusals
from web.audited import audited_change

from .context import Forbidden, PageNotFound, Viewer, posted_form, services, viewer
from .render import render, see_other

PAGE_SIZE = 25
MAX_ID = 2**31 - 1
LANGUAGES = ("ro", "en")
_NEW_FIELDS = ("name", "email", "language", "username", "caller_id_number", "account_code", "daily_limit")


def page_id(text: str | None) -> int | None:
    """A whole number from 1 to MAX_ID from a query or path, else None."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def path_id(request: web.Request, name: str = "id") -> int:
    """The id in the path; PageNotFound when it cannot be a row's id."""
    value = page_id(request.match_info.get(name))
    if value is None:
        raise PageNotFound()
    return value


async def _own_code(engine, who: Viewer) -> str | None:
    return None if who.own_account_id is None else (await ledger.get_account(engine, who.own_account_id)).code


async def list_page(request: web.Request) -> web.Response:
    """GET /console/subscribers?search=&order=asc|desc&after=: a page of subscribers by id, oldest or newest first."""
    who = await viewer(request, "subscribers.read")
    search = request.query.get("search", "")[:provisioning.MAX_SEARCH_CHARS]
    after = page_id(request.query.get("after")) or 0
    order = "desc" if request.query.get("order") == "desc" else "asc"  # by id: the keyset pages' order
    engine = services(request).engine
    found = await provisioning.list_subscribers(engine, search=search, after_id=after, limit=PAGE_SIZE + 1,
                                                account_code=await _own_code(engine, who), descending=order == "desc")
    rows = found[:PAGE_SIZE]
    return render(request, "subscribers.html", {
        "rows": rows, "search": search, "after": after, "order": order,
        "next_after": rows[-1].id if len(found) > PAGE_SIZE else None,
        "may_create": who.may("subscribers.write") and who.may("accounts.write"),
    }, who=who)


async def subscriber_view(request: web.Request, who: Viewer, subscriber_id: int):
    """The subscriber, its endpoints and their accounts; Forbidden for an
    account admin unless one endpoint is billed to its account."""
    engine = services(request).engine
    subscriber = await provisioning.find_subscriber(engine, subscriber_id)
    if subscriber is None:
        raise PageNotFound()
    endpoints = await provisioning.endpoints_of_subscriber(engine, subscriber_id)
    accounts = [account for code in sorted({e.account_code for e in endpoints if e.account_code})
                if (account := await ledger.find_account(engine, code)) is not None]
    if who.own_account_id is not None:
        who.check_account(who.own_account_id if any(a.id == who.own_account_id for a in accounts) else None)
    return subscriber, endpoints, accounts


async def detail_page(request: web.Request) -> web.Response:
    """GET /console/subscribers/{id}: the subscriber, its endpoints and accounts, the edit form."""
    who = await viewer(request, "subscribers.read")
    subscriber, endpoints, accounts = await subscriber_view(request, who, path_id(request))
    return render(request, "subscriber.html", {
        "subscriber": subscriber, "endpoints": endpoints, "accounts": accounts, "error": None,
        "saved": request.query.get("saved") == "1", "languages": LANGUAGES,
        "may_edit": who.may("subscribers.write"), "profiles": DIALPLAN_PROFILES,
    }, who=who)


async def edit(request: web.Request) -> web.Response:
    """POST /console/subscribers/{id}: change name, email, language (audited)."""
    who = await viewer(request, "subscribers.write")
    form = await posted_form(request, who)
    subscriber_id = path_id(request)
    subscriber, endpoints, accounts = await subscriber_view(request, who, subscriber_id)
    try:
        with refusals():
            async with audited_change(services(request).engine, who.actor, services(request).notifier,
                                      action="update", resource="subscriber", resource_id=subscriber_id) as change:
                before, after = await provisioning.update_subscriber(
                    change.conn, subscriber_id, name=form.get("name"), email=form.get("email"),
                    language=form.get("language"))
                change.fields(_shown(before), _shown(after))
    except AdminError as exc:
        return render(request, "subscriber.html", {
            "subscriber": subscriber, "endpoints": endpoints, "accounts": accounts, "error": str(exc),
            "saved": False, "languages": LANGUAGES, "may_edit": True,
            "profiles": DIALPLAN_PROFILES,
        }, who=who, status=exc.status)
    return see_other(f"/console/subscribers/{subscriber_id}?saved=1")


def _shown(subscriber) -> dict[str, str]:
    return {"name": subscriber.name, "email": subscriber.email, "language": subscriber.language}


async def _creator(request: web.Request) -> Viewer:
    who = await viewer(request, "subscribers.write")
    if not who.may("accounts.write"):  # a new subscriber opens a new account
        raise Forbidden()
    return who


async def new_page(request: web.Request) -> web.Response:
    """GET /console/subscribers/new: the creation form."""
    who = await _creator(request)
    return render(request, "subscriber_new.html", {"form": {"language": "ro"}, "error": None,
                                                   "languages": LANGUAGES}, who=who)


async def create(request: web.Request) -> web.Response:
    """POST /console/subscribers: create the subscriber, its endpoint and
    account (audited), and show the SIP password once."""
    who = await _creator(request)
    form = await posted_form(request, who)
    wanted = {field: form.get(field, "").strip() for field in _NEW_FIELDS}
    svc = services(request)
    try:
        with refusals():
            daily = (amount_micro("daily_limit", wanted["daily_limit"], maximum_micro=MAX_LIMIT_MICRO)
                     if wanted["daily_limit"] else None)
            async with audited_change(svc.engine, who.actor, svc.notifier, action="create",
                                      resource="subscriber") as change:
                created = await admin_operations.create_subscriber(
                    change.conn, name=wanted["name"], email=wanted["email"], username=wanted["username"],
                    caller_id_number=wanted["caller_id_number"], account_code=wanted["account_code"],
                    language=wanted["language"] or "ro", daily_limit_micro=daily, realm=svc.sip_realm)
                change.resource_id = created.subscriber.id
                change.fields(None, {
                    **_shown(created.subscriber), "username": created.endpoint.username,
                    "account_code": created.account.code, "account_id": created.account.id,
                    "daily_limit": None if daily is None else format_micro(daily)})
    except AdminError as exc:
        return render(request, "subscriber_new.html", {"form": wanted, "error": str(exc), "languages": LANGUAGES},
                      who=who, status=exc.status)
    await svc.provisioning_changed()  # the new endpoint into the running Asterisk
    return render(request, "subscriber_created.html", {"created": created}, who=who, status=201)
