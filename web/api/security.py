"""Who is calling /api/v1: the one place a request is authenticated.

Today the caller is the operator holding the shared ``admin_token`` (a
bearer token, compared in constant time, failures counted and locked out
as for /admin: :mod:`web.auth`, the same counter). Per-user tokens and
roles replace :func:`caller` alone; each route already names the
permission it needs (:attr:`web.api.registry.ApiRoute.permission`), which
:func:`caller`'s successor checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from web.admin_routes import ADMIN_SERVICES, FAILED_LOGINS
from web.auth import refusal_of

from .errors import ApiError


@dataclass(frozen=True)
class Caller:
    """Who made a request, and by which credential."""

    name: str
    credential: str


OPERATOR = Caller(name="operator", credential="admin_token")


async def caller(request: web.Request, permission: str) -> Caller:
    """Return who sent ``request``; raise ApiError 401 (no or wrong token)
    or 429 (locked out). ``permission`` is the route's (every holder of the
    admin token has them all, for now)."""
    services = request.app[ADMIN_SERVICES]
    refusal = refusal_of(request, services.admin_token, request.app[FAILED_LOGINS])  # type: ignore[attr-defined]
    if refusal is not None:
        raise ApiError(refusal.status, refusal.message, headers=refusal.headers)
    return OPERATOR
