"""The versioned admin API, /api/v1 (the /admin routes stay as they are).

Requests and responses are pydantic v2 models (:mod:`web.api.schemas`).
Why pydantic rather than marshmallow: one declaration gives both the
validation (with the failing field's path, for the 400's ``field``) and
the JSON Schema (draft 2020-12, which OpenAPI 3.1 uses as is), so the
document served at /api/v1/openapi.json cannot drift from what the routes
accept; marshmallow needs apispec and a second description for that.

=================================  ======================================  ======================
route                              what                                    permission
=================================  ======================================  ======================
``GET  /subscribers``              search + cursor pages (limit ≤ 200)     subscribers.read
``GET  /subscribers/{id}``         a subscriber and its SIP endpoints      subscribers.read
``GET  /accounts/{id}``            money, limits, plan, suspension         accounts.read
``GET  /accounts/{id}/ledger``     ledger entries, newest first            accounts.read
``GET  /calls``                    rated calls, filtered, newest first     calls.read
``GET  /calls.csv``                the same, CSV, streamed                 calls.read
``GET  /quarantine``               quarantined CDR lines                   quarantine.read
``POST /quarantine/reprocess``     re-process one (``{"id"}``) or all      quarantine.reprocess
``GET  /fx-rates?from=&to=``       EUR→RON rates by day (≤ 366 days)       fx.read
``GET  /downtime?from=&to=``       downtime days (≤ 366 days)              downtime.read
``GET  /openapi.json``, ``/docs``  the OpenAPI 3.1 document, its page      public
=================================  ======================================  ======================

Every refusal is ``{"error": {"code", "message", "field"?}}``
(:mod:`web.api.errors`); authentication is :func:`web.api.security.caller`.
Lists are keyset pages: ``limit`` (default 50, at most 200) and the
opaque ``cursor`` of the previous page's ``next_cursor`` (null at the end).
"""

from __future__ import annotations

from aiohttp import web

from . import access_routes, accounts, billing_data, calls, invoice_routes, openapi, outbox_routes, tariff_routes
from .registry import ApiRoute, add_routes

API_ROUTES: list[ApiRoute] = [
    *accounts.routes.routes, *calls.routes.routes, *billing_data.routes.routes, *tariff_routes.routes.routes,
    *invoice_routes.routes.routes, *outbox_routes.routes.routes, *access_routes.routes.routes, *openapi.routes.routes,
]
"""Every operation of /api/v1, in the document's order."""


def add_api_routes(app: web.Application) -> None:
    """Add /api/v1 to ``app`` (whose /admin routes gave it the services and
    the failed-login counter) with its OpenAPI document."""
    app[openapi.OPENAPI_DOCUMENT] = openapi.openapi_document(API_ROUTES)
    add_routes(app, API_ROUTES)
