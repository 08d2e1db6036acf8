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
``POST /accounts/{id}/live-calls/{call_ref}/hangup``  end one; 404 not live, 409 elsewhere  accounts.suspend
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
``PUT  /fx-rates/{day}``                  a manual EUR→RON rate (exact decimal)   fx.write
``PUT  /downtime/{day}``                  record a downtime day with its reason   downtime.write
``DELETE /downtime/{day}``                forget a downtime day                   downtime.write
``GET  /tariffs``                         plans, versions in force, their dates   tariffs.read
``GET  /tariffs/{plan}``                  a plan's versions and exact rates       tariffs.read
``GET  /tariffs/{plan}/export``           the plan as the import's CSV            tariffs.read
``POST /tariffs``                         import: CSV (text/csv) or JSON rows,    tariffs.write
                                          all or nothing (400 names line / row)
``GET  /invoices``                        by account, month, kind, status; pages  invoices.read
``GET  /invoices/{invoice}``              lines, payments, standing ``?on=``      invoices.read
``GET  /invoices/{invoice}.html``         the emailed document, sandboxed         invoices.read
``POST /payments``                        record a payment (invoice or account)   invoices.write
``POST /accounts/{id}/invoices/interim``  issue the account's interim invoice     invoices.write
``GET  /outbox?state=``                   pending or dead emails, last error      outbox.read
``POST /outbox/{id}/retry``               a dead email pending again (409 else)   outbox.retry
``GET  /users``                           users and roles (never a password)      users.read
``POST /users``                           create; a generated password shown once users.write
``POST /users/{username}/disable``        its tokens stop at once                 users.write
``GET  /users/{username}/tokens``         its tokens (never their values)         users.read
``POST /users/{username}/tokens``         issue one; its value shown once         users.write
``DELETE /tokens/{id}``                   revoke any token                        users.write
``GET  /me``                              who the credential speaks for           self.read
``GET  /me/tokens``                       the caller's own tokens                 self.read
``POST /me/tokens``                       issue the caller a token (rotation)     self.write
``DELETE /me/tokens/{id}``                revoke one of the caller's own          self.write
``GET  /audit``                           the audit log, filtered; pages          audit.read
``GET  /openapi.json``, ``/docs``         the OpenAPI 3.1 document, its page      public
========================================  ======================================  ======================

Every role holds ``self.read`` and ``self.write``: anyone may see itself and
list, issue and revoke its own tokens, never another's (404 under /me).
Each write is one audit entry with the fields before and after, in the
change's transaction; a refused write leaves none, nor does one that
changes nothing (disabling a disabled user, revoking a revoked token).

Every refusal is ``{"error": {"code", "message", "field"?}}``
(:mod:`web.api.errors`); authentication is :func:`web.api.security.caller`.
Every write is one audited change (its fields before and after, never a
secret), and none when it is refused. Lists are keyset pages: ``limit``
(default 50, at most 200) and the opaque ``cursor`` of the previous page's
``next_cursor`` (null at the end).
"""

from __future__ import annotations

from aiohttp import web

from . import (
    access_routes, account_routes, accounts, billing_data, calls, endpoint_routes, invoice_routes, openapi,
    outbox_routes, subscriber_routes, tariff_routes,
)
from .registry import ApiRoute, add_routes

API_ROUTES: list[ApiRoute] = [
    *accounts.routes.routes, *subscriber_routes.routes.routes, *endpoint_routes.routes.routes,
    *account_routes.routes.routes, *calls.routes.routes, *billing_data.routes.routes,
    *tariff_routes.routes.routes, *invoice_routes.routes.routes, *outbox_routes.routes.routes,
    *access_routes.routes.routes, *openapi.routes.routes,
]
"""Every operation of /api/v1, in the document's order."""


def add_api_routes(app: web.Application) -> None:
    """Add /api/v1 to ``app`` (whose /admin routes gave it the services and
    the failed-login counter) with its OpenAPI document."""
    app[openapi.OPENAPI_DOCUMENT] = openapi.openapi_document(API_ROUTES)
    add_routes(app, API_ROUTES)
