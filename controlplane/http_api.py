"""The admin HTTP API (aiohttp). Today: /health; admin resources join here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .http_admin import add_admin_routes

if TYPE_CHECKING:
    from .runtime import ControlPlane

CONTROL_PLANE = web.AppKey("control_plane", object)


async def health(request: web.Request) -> web.Response:
    """GET /health: database and Asterisk connectivity; 503 when degraded."""
    report = await request.app[CONTROL_PLANE].health()
    return web.json_response(report, status=200 if report["status"] == "ok" else 503)


def build_admin_app(control_plane: "ControlPlane") -> web.Application:
    app = web.Application()
    app[CONTROL_PLANE] = control_plane
    app.router.add_get("/health", health)
    add_admin_routes(app, control_plane)
    return app
