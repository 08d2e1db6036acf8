"""The admin HTTP API (aiohttp): /health, the /admin resources, the
versioned API /api/v1 (:mod:`web.api`, its own error shape) and the admin
web console at /console/ (:mod:`web.console`, HTML pages).

One app, one error shape: :func:`web.json_body.json_errors` makes every
refusal and failure JSON, and bodies are at most
:data:`web.json_body.MAX_BODY_BYTES` (64 KiB; 413 past it).

The app is built with what it uses, named and typed (:class:`AdminServices`):
the composition (``controlplane.runtime``) supplies each part, so a part it
forgets or renames fails at start, never silently at a suspension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.invoicing.service import InvoicingService
from billing.invoicing.supplier import Supplier
from notify.notifier import Notifier

from .admin_operations import AccountContact, AccountEmails, EndCall, EndCalls, OneOffInvoicing
from .admin_routes import add_admin_routes
from .api import add_api_routes
from .api.errors import api_errors
from .invoice_routes import add_invoice_routes
from .charge_routes import add_charge_routes
from .console import add_console
from .json_body import MAX_BODY_BYTES, json_errors
from .payment_routes import add_payment_routes

Health = Callable[[], Awaitable[dict[str, object]]]
"""Reports database and Asterisk connectivity (``"status"``: ``"ok"`` or not)."""


@dataclass(frozen=True)
class AdminServices:
    """What the admin HTTP API works with.

    ``end_calls(account_id)`` ends a suspended account's live calls (the
    ARI call controller's); ``provisioning_changed()`` puts new endpoints,
    DIDs and allowlists into the running Asterisk; ``notifier`` renders the
    emails admin actions queue and wakes the outbox after their commit;
    ``account_contact`` finds who those emails go to; ``invoicing`` records
    payments with their confirmation emails and issues interim invoices with
    theirs (the composition's, as the CLI's and the scheduler's), by
    ``supplier`` (the operator's, from the settings); ``one_off_invoicing``
    issues and emails one-off invoices (None: refused, 503); ``end_call(call_ref)``
    ends one live call this process owns (False: not owned here; None: no
    call controller, so per-call hang-up is refused)."""

    engine: AsyncEngine
    admin_token: str
    sip_realm: str
    notifier: Notifier
    account_contact: AccountContact
    end_calls: EndCalls
    provisioning_changed: Callable[[], Awaitable[None]]
    health: Health
    invoicing: InvoicingService
    supplier: Supplier
    one_off_invoicing: OneOffInvoicing | None = None
    end_call: EndCall | None = None

    @property
    def emails(self) -> AccountEmails:
        """How admin operations tell an account's subscriber."""
        return AccountEmails(self.notifier, self.account_contact)


HEALTH = web.AppKey("health", object)


async def health(request: web.Request) -> web.Response:
    """GET /health: database and Asterisk connectivity; 503 when degraded."""
    report = await request.app[HEALTH]()
    return web.json_response(report, status=200 if report["status"] == "ok" else 503)


def build_admin_app(services: AdminServices) -> web.Application:
    """Return the admin HTTP app working with ``services``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[json_errors, api_errors])
    app[HEALTH] = services.health
    app.router.add_get("/health", health)
    add_admin_routes(app, services)
    add_payment_routes(app)
    add_invoice_routes(app)
    add_charge_routes(app)
    add_api_routes(app)  # after add_admin_routes: it shares their services and lockouts
    add_console(app, services)
    return app
