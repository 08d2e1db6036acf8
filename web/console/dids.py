"""The console's DIDs (our numbers): a list by number, filtered by
subscriber and/or account, in pages; assign a number to a subscriber; and
release one after a confirmation page (:mod:`web.numbers`, the API's).

An account admin lists the numbers of subscribers with an endpoint billed
to its own account (another account: 403); assigning and releasing are
staff's (``dids.write``). Asterisk is told after each commit.
"""

from __future__ import annotations

from aiohttp import web

from billing import ledger
from provisioning import lifecycle
from provisioning import services as provisioning
from web import numbers
from web.admin_input import AdminError, InvalidInputError, refusals

from .changes import console_change
from .context import PageNotFound, posted_form, services, viewer
from .render import render, see_other
from .subscribers import page_id

PAGE_SIZE = 50
MIN_RING_SECONDS, MAX_RING_SECONDS = 5, 120


def _optional_id(query, field: str) -> int | None:
    text = query.get(field, "").strip()
    if not text:
        return None
    value = page_id(text)
    if value is None:
        raise InvalidInputError(field, "an id (a whole number)")
    return value


def _number(request: web.Request) -> str:
    number = request.match_info.get("number", "")
    if not (number.isascii() and number.isdigit() and len(number) <= numbers.MAX_DID_DIGITS):
        raise PageNotFound()
    return number


async def list_page(request: web.Request, *, error: str | None = None, form: dict[str, str] | None = None,
                    status: int = 200) -> web.Response:
    """GET /console/dids?subscriber=&account=&after=: a page of our numbers, by number."""
    who = await viewer(request, "dids.read")
    query = request.query
    subscriber, account = _optional_id(query, "subscriber"), _optional_id(query, "account")
    if account is not None:
        who.check_account(account)
    wanted = account if account is not None else who.own_account_id
    engine = services(request).engine
    code = None
    if wanted is not None:
        with refusals():
            code = (await ledger.get_account(engine, wanted)).code
    after = query.get("after", "")
    after = after if after.isascii() and after.isdigit() and len(after) <= numbers.MAX_DID_DIGITS else ""
    found = await lifecycle.page_dids(engine, subscriber_id=subscriber, account_code=code, after_number=after,
                                      limit=PAGE_SIZE + 1)
    rows = found[:PAGE_SIZE]
    filters = "&".join(f"{k}={v}" for k, v in (("subscriber", subscriber), ("account", account)) if v is not None)
    return render(request, "dids.html", {
        "rows": rows, "subscriber": subscriber or "", "account": account or "", "filters": filters,
        "after": after, "next_after": rows[-1].number if len(found) > PAGE_SIZE else None,
        "may_write": who.may("dids.write"), "error": error,
        "form": form or {"ring_seconds": "25", "voicemail_enabled": "on"},
        "released": _digits(query.get("released")), "assigned": _digits(query.get("assigned")),
    }, who=who, status=status)


def _digits(text: str | None) -> str | None:
    return text if text and text.isascii() and text.isdigit() and len(text) <= numbers.MAX_DID_DIGITS else None


def _ring_seconds(text: str) -> int:
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else -1
    if not MIN_RING_SECONDS <= value <= MAX_RING_SECONDS:
        raise InvalidInputError("ring_seconds", f"a whole number from {MIN_RING_SECONDS} to {MAX_RING_SECONDS}")
    return value


async def assign(request: web.Request) -> web.Response:
    """POST /console/dids: give a subscriber a number written as a person would (audited)."""
    who = await viewer(request, "dids.write")
    form = await posted_form(request, who)
    wanted = {field: form.get(field, "").strip()[:32] for field in ("number", "subscriber_id", "ring_seconds")}
    wanted["voicemail_enabled"] = "on" if form.get("voicemail_enabled") else ""
    try:
        subscriber_id = page_id(wanted["subscriber_id"])
        if subscriber_id is None:
            raise InvalidInputError("subscriber_id", "a subscriber's id (a whole number)")
        ring = _ring_seconds(wanted["ring_seconds"] or "25")
        async with console_change(request, who, action="assign", resource="did") as change:
            did = await numbers.assign_did(change.conn, number=wanted["number"], subscriber_id=subscriber_id,
                                           ring_seconds=ring, voicemail_enabled=bool(wanted["voicemail_enabled"]))
            change.resource_id = did.number
            change.fields(None, numbers.did_view(did))
    except AdminError as exc:
        return await list_page(request, error=str(exc), form=wanted, status=exc.status)
    await services(request).provisioning_changed()  # a new on-net number and inbound extension
    return see_other(f"/console/dids?assigned={did.number}")


async def release_page(request: web.Request) -> web.Response:
    """GET /console/dids/{number}/release: the confirmation step."""
    who = await viewer(request, "dids.write")
    did = await provisioning.find_did(services(request).engine, _number(request))
    if did is None:
        raise PageNotFound()
    return render(request, "did_release.html", {"did": did}, who=who)


async def release(request: web.Request) -> web.Response:
    """POST /console/dids/{number}/release: the number leaves its subscriber (audited)."""
    who = await viewer(request, "dids.write")
    await posted_form(request, who)
    number = _number(request)
    async with console_change(request, who, action="release", resource="did", resource_id=number) as change:
        did = await numbers.release_did(change.conn, number)
        change.fields(numbers.did_view(did), None)
    await services(request).provisioning_changed()  # the number no longer rings anyone
    return see_other(f"/console/dids?released={number}")
