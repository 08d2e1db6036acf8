"""The console's quarantined CDR lines: each with its file and line, the
reason, and whether (how) it was resolved, in id pages; re-process one, or
every one still waiting (:func:`web.maintenance.reprocess`, the API's).

Quarantine is staff's (``quarantine.read``; account admins do not hold it):
a line may name no account, or one that does not exist yet.
"""

from __future__ import annotations

from aiohttp import web

from billing import reprocessing
from provisioning.services import our_numbers
from web import maintenance

from .changes import console_change
from .context import posted_form, services, viewer
from .render import render, see_other
from .subscribers import page_id, path_id

PAGE_SIZE = 50


async def list_page(request: web.Request) -> web.Response:
    """GET /console/quarantine?after=&resolved=&left=: a page of quarantined lines, by id."""
    who = await viewer(request, "quarantine.read")
    after = page_id(request.query.get("after")) or 0
    found = await reprocessing.list_quarantined(services(request).engine, after_id=after, limit=PAGE_SIZE + 1)
    rows = found[:PAGE_SIZE]
    return render(request, "quarantine.html", {
        "rows": rows, "after": after, "next_after": rows[-1].id if len(found) > PAGE_SIZE else None,
        "resolved": _count(request.query.get("resolved")), "left": _count(request.query.get("left")),
        "may_reprocess": who.may("quarantine.reprocess"),
    }, who=who)


def _count(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) <= 6 else None


async def _reprocess(request: web.Request, line_id: int | None) -> web.Response:
    who = await viewer(request, "quarantine.reprocess")
    await posted_form(request, who)
    on_net = await our_numbers(services(request).engine)
    async with console_change(request, who, action="reprocess", resource="quarantine", resource_id=line_id) as change:
        results, before, after = await maintenance.reprocess(change.conn, line_id, on_net=on_net)
        change.fields(before, after)
    resolved = sum(1 for r in results if r.resolved)
    return see_other(f"/console/quarantine?resolved={resolved}&left={len(results) - resolved}")


async def reprocess_one(request: web.Request) -> web.Response:
    """POST /console/quarantine/{id}/reprocess: charge that line if it now can (audited)."""
    return await _reprocess(request, path_id(request))


async def reprocess_all(request: web.Request) -> web.Response:
    """POST /console/quarantine/reprocess: every line still waiting, once each (audited)."""
    return await _reprocess(request, None)
