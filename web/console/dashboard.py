"""The console's dashboard: the state of the service at a glance."""

from __future__ import annotations

from aiohttp import web

from .context import services, viewer
from .render import render

PERMISSION = "calls.read"


async def dashboard(request: web.Request) -> web.Response:
    """GET /console/: health (staff), and what the role may read."""
    who = await viewer(request, PERMISSION)
    health = await services(request).health() if who.own_account_id is None else None
    return render(request, "dashboard.html", {"health": health}, who=who)
