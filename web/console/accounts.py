"""The console's account page: money (balance, available, today's spend,
daily limit), the ledger in pages, the call policy with its allowed
networks, and the forms its role may use — top up, suspend with a cause or
reinstate, edit the allowlist and the limits, list the live calls and
hang one up or end them all.

Every write is one audited change (:func:`web.audited.audited_change`) on
the services the API and the CLI use. The ARI call controller ends calls:
an account's (``AdminServices.end_calls``) or one
(``AdminServices.end_call``, only a call this process owns).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from admission import service as admission_service
from billing import ledger, suspensions
from billing.account_admin import UNCHANGED, limits_view, set_limits
from billing.money import format_micro
from billing.suspension_causes import CAUSE_NAMES
from web import admin_operations
from web.admin_input import MAX_LIMIT_MICRO, MAX_TOP_UP_MICRO, AdminError, amount_micro, refusals
from web.audited import audited_change

from . import i18n
from .context import PageNotFound, Viewer, posted_form, services, viewer
from .render import render, see_other
from .subscribers import page_id, path_id

LEDGER_PAGE = 25
MAX_ALLOWLIST_CHARS = 8000  # admission bounds the networks' number; this bounds what is read
MAX_TEXT_CHARS = 200


async def _account_for(request: web.Request, permission: str) -> tuple[Viewer, int]:
    who = await viewer(request, permission)
    account_id = path_id(request)
    who.check_account(account_id)
    return who, account_id


async def account_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    """GET /console/accounts/{id}?before=: the account, its ledger page and its forms."""
    who, account_id = await _account_for(request, "accounts.read")
    engine = services(request).engine
    with refusals():
        summary = await admin_operations.account_summary(engine, account_id)
    before = page_id(request.query.get("before"))
    entries = await ledger.entries_newest_first(engine, account_id, before_id=before, limit=LEDGER_PAGE + 1)
    return render(request, "account.html", {
        "summary": summary, "account": summary.account, "entries": entries[:LEDGER_PAGE],
        "live_calls": await admission_service.account_live_calls(engine, account_id),
        "older": entries[LEDGER_PAGE - 1].id if len(entries) > LEDGER_PAGE else None, "before": before,
        "allowlist": "\n".join(str(network) for network in summary.policy.allowed_networks),
        "causes": CAUSE_NAMES, "idempotency_key": uuid.uuid4().hex, "error": error,
        "ended": _count(request.query.get("ended")), "hung_up": request.query.get("hung_up") == "1",
        "may_top_up": who.may("accounts.top_up"), "may_suspend": who.may("accounts.suspend"),
        "may_write": who.may("accounts.write"),
    }, who=who, status=status)


def _count(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) <= 6 else None


async def _refused(request: web.Request, exc: AdminError) -> web.Response:
    return await account_page(request, error=str(exc), status=exc.status)


Fields = dict[str, object]


class _Unchanged(Exception):
    """The write changed nothing: its transaction ends without an audit entry."""


async def _audited(request: web.Request, who: Viewer, account_id: int, action: str,
                   write: Callable[[AsyncConnection], Awaitable[tuple[Fields, Fields]]]) -> web.Response | None:
    """Run ``write`` (which returns the account's fields before and after)
    as one audited change — no entry when nothing changed; None when done,
    the page with the refusal when refused."""
    svc = services(request)
    try:
        with refusals():
            async with audited_change(svc.engine, who.actor, svc.notifier, action=action, resource="account",
                                      resource_id=account_id) as change:
                before, after = await write(change.conn)
                if before == after:
                    raise _Unchanged()  # a replayed top-up, an allowlist saved as it was: no entry
                change.fields(before, after)
    except _Unchanged:
        return None
    except AdminError as exc:
        return await _refused(request, exc)
    return None


async def _status(conn: AsyncConnection, account_id: int) -> str:
    return (await ledger.get_account(conn, account_id)).status


async def top_up(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/top-up: credit the account (idempotent by
    the form's own key, so a double submit credits once) and email the subscriber."""
    who, account_id = await _account_for(request, "accounts.top_up")
    form = await posted_form(request, who)
    emails = services(request).emails

    async def credit(conn: AsyncConnection) -> tuple[Fields, Fields]:
        amount = amount_micro("amount", form.get("amount", "").strip(), minimum_micro=1,
                              maximum_micro=MAX_TOP_UP_MICRO)
        before = await ledger.balance_micro(conn, account_id)
        result = await admin_operations.top_up(
            conn, account_id, amount, reference=form.get("reference", "")[:MAX_TEXT_CHARS],
            idempotency_key=form.get("idempotency_key", "")[:64] or None, emails=emails)
        return {"balance": format_micro(before)}, {"balance": format_micro(result.balance_micro)}

    return await _audited(request, who, account_id, "top_up", credit) or see_other(f"/console/accounts/{account_id}")


async def suspend(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/suspend: suspend for a cause (audited),
    then end the account's live calls."""
    who, account_id = await _account_for(request, "accounts.suspend")
    form = await posted_form(request, who)

    async def suspended(conn: AsyncConnection) -> tuple[Fields, Fields]:
        before = await _status(conn, account_id)
        suspension = await suspensions.suspend(conn, account_id, form.get("cause", ""),
                                               form.get("note", "").strip()[:MAX_TEXT_CHARS] or None)
        return {"status": before, "cause": None}, {"status": await _status(conn, account_id),
                                                    "cause": suspension.cause}

    refused = await _audited(request, who, account_id, "suspend", suspended)
    if refused is not None:
        return refused
    ended = await services(request).end_calls(account_id)  # after the commit: admission now refuses its new calls
    return see_other(f"/console/accounts/{account_id}?ended={ended}")


async def reinstate(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/reinstate: make the suspended account active (audited)."""
    who, account_id = await _account_for(request, "accounts.suspend")
    await posted_form(request, who)

    async def reinstated(conn: AsyncConnection) -> tuple[Fields, Fields]:
        before = await _status(conn, account_id)
        await suspensions.reinstate(conn, account_id)
        return {"status": before}, {"status": await _status(conn, account_id)}

    return (await _audited(request, who, account_id, "reinstate", reinstated)
            or see_other(f"/console/accounts/{account_id}"))


async def allowlist(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/allowlist: the networks calls may come
    from, one per line (audited; the subscriber is emailed the change)."""
    who, account_id = await _account_for(request, "accounts.write")
    form = await posted_form(request, who)
    text = form.get("allowed_networks", "")[:MAX_ALLOWLIST_CHARS]
    wanted = [line.strip() for line in text.splitlines() if line.strip()]
    emails = services(request).emails

    async def changed(conn: AsyncConnection) -> tuple[Fields, Fields]:
        before = await admission_service.account_policy(conn, account_id)
        after = await admin_operations.set_account_policy(conn, account_id, emails=emails, allowed_networks=wanted,
                                                          changed_by=who.name)
        return {"allowed_networks": _networks(before)}, {"allowed_networks": _networks(after.policy)}

    return (await _audited(request, who, account_id, "update", changed)
            or see_other(f"/console/accounts/{account_id}"))


def _networks(policy) -> str:
    return ", ".join(str(network) for network in policy.allowed_networks)[:1000]


async def limits(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/limits: the daily limit (empty: none) and,
    for a postpaid account, the credit limit (billing.account_admin.set_limits; audited)."""
    who, account_id = await _account_for(request, "accounts.write")
    form = await posted_form(request, who)

    async def changed(conn: AsyncConnection) -> tuple[Fields, Fields]:
        daily_text = form.get("daily_limit", "").strip()
        credit_text = form.get("credit_limit", "").strip()
        daily = amount_micro("daily_limit", daily_text, maximum_micro=MAX_LIMIT_MICRO) if daily_text else None
        credit = amount_micro("credit_limit", credit_text, maximum_micro=MAX_LIMIT_MICRO) if credit_text else UNCHANGED
        before, after = await set_limits(conn, account_id, credit_limit_micro=credit, daily_limit_micro=daily)
        return limits_view(before), limits_view(after)

    return (await _audited(request, who, account_id, "update", changed)
            or see_other(f"/console/accounts/{account_id}"))


async def end_calls(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/end-calls: end the account's live calls now (audited)."""
    who, account_id = await _account_for(request, "accounts.suspend")
    await posted_form(request, who)
    svc = services(request)
    with refusals():
        await ledger.get_account(svc.engine, account_id)  # an unknown account is 404
    # ended first (the call controller may write on SQLite's one writer), then recorded with how many
    ended = await svc.end_calls(account_id)
    async with audited_change(svc.engine, who.actor, None, action="end_calls", resource="account",
                              resource_id=account_id) as change:
        change.fields({"calls_ended": None}, {"calls_ended": ended})
    return see_other(f"/console/accounts/{account_id}?ended={ended}")


async def hang_up(request: web.Request) -> web.Response:
    """POST /console/accounts/{id}/calls/{call_ref}/hang-up: end one of the
    account's live calls now (audited); 404 when it is not live on this
    account, 409 when another control-plane instance owns it."""
    who, account_id = await _account_for(request, "accounts.suspend")
    await posted_form(request, who)
    call_ref = request.match_info["call_ref"]
    svc = services(request)
    try:
        with refusals():
            await admin_operations.end_live_call(svc.engine, account_id, call_ref, svc.end_call)
    except AdminError as exc:
        if exc.status == 404:
            raise PageNotFound() from exc
        return await account_page(request, error=i18n.translate(i18n.language_of(request), "account.call_not_here"),
                                  status=exc.status)
    # ended first (the call controller may write on SQLite's one writer), then recorded
    async with audited_change(svc.engine, who.actor, None, action="hang_up", resource="call",
                              resource_id=call_ref) as change:
        change.fields({"account_id": account_id, "state": "live"}, {"account_id": account_id, "state": "ended"})
    return see_other(f"/console/accounts/{account_id}?hung_up=1")
