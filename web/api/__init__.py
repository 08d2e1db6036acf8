"""The versioned admin API, /api/v1 (the /admin routes stay as they are).

Requests and responses are pydantic v2 models (:mod:`web.api.schemas`).
Why pydantic rather than marshmallow: one declaration gives both the
validation (with the failing field's path, for the 400's ``field``) and
the JSON Schema (draft 2020-12, which OpenAPI 3.1 uses as is), so the
document served at /api/v1/openapi.json cannot drift from what the routes
accept; marshmallow needs apispec and a second description for that.

========================================  ======================================  ======================
route                                     what                                    permission
========================================  ======================================  ======================
``GET  /subscribers``                     search + cursor pages (limit ≤ 200)     subscribers.read
``GET  /subscribers/{id}``                a subscriber and its SIP endpoints      subscribers.read
``POST /subscribers``                     subscriber, endpoint, account → 201     subscribers.write
                                          (account admin: its own; the SIP
                                          password shown once, never audited)
``PATCH /subscribers/{id}``               name, email, language                   subscribers.write
``POST /subscribers/{id}/terminate``      ``{"last_day"}``: contract end          subscribers.write
                                          recorded, the own accounts' plan ended,
                                          SIP endpoints disabled (leave Asterisk);
                                          409 when terminated already
``GET  /endpoints``                       filter subscriber, account; by id       endpoints.read
``GET  /endpoints/{id}``                  a SIP endpoint (never its credential)   endpoints.read
``PATCH /endpoints/{id}``                 profile, display_name, caller_id_number endpoints.write
                                          (profiles: ``standard`` only until the
                                          dialplan templates add more)
``POST /endpoints/{id}/password``         new generated password, shown once      endpoints.write
``GET  /dids``                            filter subscriber, account; by number   dids.read
``POST /dids``                            assign a number as written → 201        dids.write
``DELETE /dids/{number}``                 release (E.164 digits); 404 not ours    dids.write
``GET  /accounts/{id}``                   money, limits, plan, suspension         accounts.read
``PATCH /accounts/{id}``                  credit_limit, daily_limit (null: none)  accounts.write
``GET  /accounts/{id}/ledger``            ledger entries, newest first            accounts.read
``GET  /accounts/{id}/reservations``      live reservations (held credit)         accounts.read
``GET  /accounts/{id}/live-calls``        live calls' references                  accounts.read
``GET  /accounts/{id}/policy``            call policy                             accounts.read
``PATCH /accounts/{id}/policy``           allowlist (emailed, to Asterisk),       accounts.write
                                          premium, international, prefixes, calls
``POST /accounts/{id}/top-ups``           credit (``idempotency_key``), email     accounts.top_up
``POST /accounts/{id}/suspend``           ``{"cause","note"}``; live calls end    accounts.suspend
``POST /accounts/{id}/reinstate``         active again; 409 when not suspended    accounts.suspend
``PUT  /accounts/{id}/plan``              ``{"plan","immediately"}``              accounts.write
``DELETE /accounts/{id}/plan``            ``?last_day=``: its last day on it      accounts.write
``GET  /calls``                           rated calls, filtered, newest first     calls.read
``GET  /calls.csv``                       the same, CSV, streamed                 calls.read
``GET  /quarantine``                      quarantined CDR lines                   quarantine.read
``POST /quarantine/reprocess``            re-process one (``{"id"}``) or all      quarantine.reprocess
``GET  /fx-rates?from=&to=``              EUR→RON rates by day (≤ 366 days)       fx.read
``GET  /downtime?from=&to=``              downtime days (≤ 366 days)              downtime.read
``GET  /openapi.json``, ``/docs``         the OpenAPI 3.1 document, its page      public
========================================  ======================================  ======================

Every refusal is ``{"error": {"code", "message", "field"?}}``
(:mod:`web.api.errors`); authentication is :func:`web.api.security.caller`.
Every write is one audited change (its fields before and after, never a
secret), and none when it is refused. Lists are keyset pages: ``limit``
(default 50, at most 200) and the opaque ``cursor`` of the previous page's
``next_cursor`` (null at the end).
"""

from __future__ import annotations

from aiohttp import web

from . import account_routes, accounts, billing_data, calls, endpoint_routes, openapi, subscriber_routes
from .registry import ApiRoute, add_routes

API_ROUTES: list[ApiRoute] = [
    *accounts.routes.routes, *subscriber_routes.routes.routes, *endpoint_routes.routes.routes,
    *account_routes.routes.routes, *calls.routes.routes, *billing_data.routes.routes, *openapi.routes.routes,
]
"""Every operation of /api/v1, in the document's order."""


def add_api_routes(app: web.Application) -> None:
    """Add /api/v1 to ``app`` (whose /admin routes gave it the services and
    the failed-login counter) with its OpenAPI document."""
    app[openapi.OPENAPI_DOCUMENT] = openapi.openapi_document(API_ROUTES)
    add_routes(app, API_ROUTES)
