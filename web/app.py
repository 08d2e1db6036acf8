"""The admin HTTP API (aiohttp): /health and the /admin resources.

One app, one error shape: :func:`web.json_body.json_errors` makes
every refusal and failure JSON, and bodies are at most
:data:`web.json_body.MAX_BODY_BYTES` (64 KiB; 413 past it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .admin_routes import add_admin_routes
from .json_body import MAX_BODY_BYTES, json_errors

if TYPE_CHECKING:
    from .runtime import ControlPlane

CONTROL_PLANE = web.AppKey("control_plane", object)


async def health(request: web.Request) -> web.Response:
    """GET /health: database and Asterisk connectivity; 503 when degraded."""
    report = await request.app[CONTROL_PLANE].health()
    return web.json_response(report, status=200 if report["status"] == "ok" else 503)


def build_admin_app(control_plane: "ControlPlane") -> web.Application:
    """Return the admin HTTP app of ``control_plane``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[json_errors])
    app[CONTROL_PLANE] = control_plane
    app.router.add_get("/health", health)
    add_admin_routes(app, control_plane)
    return app
