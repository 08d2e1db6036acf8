"""The admin HTTP API's invoice resources (behind the same bearer token and
error shape as :mod:`web.admin_routes`, whose table lists them).

``POST /admin/accounts/{id}/invoices/interim`` issues the account's interim
invoice (contract art. 7.1.4: usage so far in the month; the monthly invoice
then covers only the rest) through the invoicing service the composition
gives (:attr:`web.app.AdminServices.invoicing`, which queues its email), by
the operator's supplier (:attr:`web.app.AdminServices.supplier`). The body
is optional; when given, a JSON object with at most:

============  ===================================================================
``until``     an ISO 8601 instant with its offset (``2025-07-20T12:00:00+03:00``,
              or ``Z``), at most 40 characters, not in the future; default now
``series``    the invoice series, 1 to 16 capital letters; default ``CP``
============  ===================================================================

→ 201 with the invoice's JSON (:func:`billing.invoicing.presentation.invoice_json`).
Refusals: 400 naming ``until`` or ``series``; 404 unknown account; 409 when
the month already has its monthly invoice, there is nothing to invoice, the
account's CDRs are still on their way, or the invoice cannot be issued now
(no valid BNR rate, a later invoice in the series).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from billing.fx_bnr import FxError
from billing.invoicing.errors import InvalidSeriesError, InvalidUntilError, InvoiceError
from billing.invoicing.presentation import invoice_json
from billing.invoicing.records import DEFAULT_SERIES
from billing.money import format_micro

from .admin_input import ConflictError, id_from_text
from .admin_guard import ADMIN_SERVICES, admin_route, audited
from .json_body import BadRequest, json_object

if TYPE_CHECKING:
    from .app import AdminServices

MAX_INSTANT_LENGTH = 40
"""The longest ``until`` read: an ISO instant with microseconds and offset is 32."""


def add_invoice_routes(app: web.Application) -> None:
    """Register the invoice routes on ``app`` (after :func:`web.admin_routes.add_admin_routes`)."""
    # [0-9], not \d: \d also matches "١" (Arabic-Indic one)
    app.router.add_post("/admin/accounts/{account_id:[0-9]+}/invoices/interim", issue_interim)


@admin_route("invoices.write")
async def issue_interim(request: web.Request) -> web.Response:
    """POST /admin/accounts/{id}/invoices/interim ``{"until", "series"}`` (both
    optional, the body too): issue the account's interim invoice and queue
    its email → 201 with the invoice."""
    account_id = id_from_text(request.match_info["account_id"])
    body = await json_object(request, {"until", "series"}) if await request.read() else {}
    until = _instant(body, "until")
    series = body.get("series")
    if series is None:
        series = DEFAULT_SERIES
    elif not isinstance(series, str):
        raise BadRequest("series: must be a string", field="series")
    services: AdminServices = request.app[ADMIN_SERVICES]  # type: ignore[assignment]
    try:
        async with audited(request, "issue_interim", "invoice") as change:
            invoice = await services.invoicing.issue_interim(
                account_id, supplier=services.supplier, until=until, series=series, db=change.conn
            )
            change.resource_id = invoice.number
            change.fields(None, {"account_id": account_id, "number": invoice.number, "kind": invoice.kind,
                                 "period": invoice.period, "total_eur": format_micro(invoice.total_micro)})
    except InvalidUntilError as exc:
        raise BadRequest(str(exc), field="until") from exc
    except InvalidSeriesError as exc:
        raise BadRequest(str(exc), field="series") from exc
    except (InvoiceError, FxError) as exc:  # already invoiced, nothing to invoice, CDRs on their way, no rate
        raise ConflictError(str(exc)) from exc
    return web.json_response(invoice_json(invoice), status=201)


def _instant(body: dict[str, Any], key: str) -> datetime | None:
    """The aware instant ``key`` (ISO 8601 with its offset); absent or null gives None."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_INSTANT_LENGTH:
        raise BadRequest(f"{key}: must be an ISO 8601 instant such as 2025-07-20T12:00:00+03:00", field=key)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or "T" not in value.upper():
        raise BadRequest(f"{key}: {value!r} is not an ISO 8601 instant such as 2025-07-20T12:00:00+03:00", field=key)
    if instant.tzinfo is None:
        raise BadRequest(f"{key}: give the time zone, e.g. {value}+03:00 or {value}Z", field=key)
    return instant
