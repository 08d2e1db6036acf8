"""The console's audit log (issue 13, item 5): entries newest first,
filtered by resource, resource id, actor and time [since, until) (days
in Europe/Bucharest, the contract's zone), a cursor page at a time, each
with its changed fields before and after. ``audit.read``: operators,
support and auditors; an account admin does not hold it (the log names
every account's changes)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Optional

from aiohttp import web

from access import audit
from billing.tariffs import CONTRACT_TZ
from web.admin_input import InvalidInputError

from .access_pages import access_refusals
from .context import services, viewer
from .render import render
from .subscribers import page_id

PAGE_SIZE = 50
MAX_FILTER_CHARS = 64
FILTERS = ("resource", "resource_id", "actor", "since", "until")


def _day(field: str, text: str) -> Optional[datetime]:
    """The start of day ``text`` (YYYY-MM-DD) in the contract's zone; None when empty."""
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=CONTRACT_TZ)
    except ValueError:
        raise InvalidInputError(field, "a day as YYYY-MM-DD") from None


async def audit_page(request: web.Request) -> web.Response:
    """GET /console/audit?resource=&resource_id=&actor=&since=&until=&cursor=: a page of entries."""
    who = await viewer(request, "audit.read")
    wanted = {field: request.query.get(field, "").strip()[:MAX_FILTER_CHARS] for field in FILTERS}
    cursor = page_id(request.query.get("cursor"))
    error, status, page = None, 200, audit.AuditPage(entries=[], next_cursor=None)
    try:
        since, until = _day("since", wanted["since"]), _day("until", wanted["until"])
        # until names the last day shown: entries before the next day's start
        until = None if until is None else until + timedelta(days=1)
        filters = audit.AuditFilter(resource=wanted["resource"] or None, resource_id=wanted["resource_id"] or None,
                                    actor=wanted["actor"] or None, since=since, until=until)
        with access_refusals():
            page = await audit.list_entries(services(request).engine, filters, cursor, PAGE_SIZE)
    except InvalidInputError as exc:
        error, status = str(exc), exc.status
    return render(request, "audit.html", {
        "entries": page.entries, "next_cursor": page.next_cursor, "cursor": cursor, "filters": wanted,
        "error": error,
    }, who=who, status=status)
