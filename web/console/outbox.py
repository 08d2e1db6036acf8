"""The console's email outbox: the emails pending and those given up on
(dead) — kind, recipient, attempts, last error — in id pages, and sending
a dead one again (:func:`web.maintenance.retry_dead_email`, the API's).

The outbox is staff's (``outbox.read``; account admins do not hold it).
"""

from __future__ import annotations

from aiohttp import web

from notify import outbox
from web import maintenance

from .changes import console_change
from .context import posted_form, services, viewer
from .render import render, see_other
from .subscribers import page_id, path_id

PAGE_SIZE = 50
STATES = (outbox.PENDING, outbox.DEAD)


async def list_page(request: web.Request) -> web.Response:
    """GET /console/outbox?state=pending|dead&after=: a page of the emails in that state, oldest first."""
    who = await viewer(request, "outbox.read")
    state = outbox.DEAD if request.query.get("state") == outbox.DEAD else outbox.PENDING
    after = page_id(request.query.get("after")) or 0
    found = await outbox.entries_in_state(services(request).engine, state, after_id=after, limit=PAGE_SIZE + 1)
    rows = found[:PAGE_SIZE]
    return render(request, "outbox.html", {
        "rows": rows, "state": state, "states": STATES, "after": after,
        "next_after": rows[-1].id if len(found) > PAGE_SIZE else None,
        "retried": page_id(request.query.get("retried")), "may_retry": who.may("outbox.retry"),
    }, who=who)


async def retry(request: web.Request) -> web.Response:
    """POST /console/outbox/{id}/retry: the dead email back to pending, due now (audited)."""
    who = await viewer(request, "outbox.retry")
    await posted_form(request, who)
    email_id = path_id(request)
    async with console_change(request, who, action="retry", resource="outbox", resource_id=email_id) as change:
        _, before, after = await maintenance.retry_dead_email(change.conn, email_id)
        change.fields(before, after)
    return see_other(f"/console/outbox?state=dead&retried={email_id}")
