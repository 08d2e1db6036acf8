"""The admin API's one-off charges and one-off invoices (contract art. 7.1.1):

==================================================  ==========================================
``POST /admin/accounts/{id}/charges``                add a one-off charge → 201 with it
``POST /admin/accounts/{id}/invoices/one-off``       invoice every one-off charge not invoiced
                                                     yet, today, due in 5 working days → 201
==================================================  ==========================================

A charge is ``{"description", "amount", "quantity"}``: a description of 1
to 200 printable characters, the unit price in euros excl. VAT (more than
0, at most 100,000) and a quantity of 1 to 1,000 (default 1); a refusal is
400 naming the field. Invoicing an account without charges waiting, or
without the BNR rate the invoice needs, is 409. Same guard, errors and
bounds as :mod:`web.admin_routes`.
"""

from __future__ import annotations

from aiohttp import web

from billing.invoicing import one_off

from .admin_input import AdminError, charge_request
from .admin_guard import admin_route, audited
from .admin_routes import _account_id, _services
from .json_body import json_object
from .schemas import invoice_summary_json, one_off_charge_json


def add_charge_routes(app: web.Application) -> None:
    """Register the one-off charge routes on ``app`` (after :func:`web.admin_routes.add_admin_routes`)."""
    app.router.add_post("/admin/accounts/{account_id:[0-9]+}/charges", add_charge)
    app.router.add_post("/admin/accounts/{account_id:[0-9]+}/invoices/one-off", issue_one_off)


@admin_route("invoices.write")
async def add_charge(request: web.Request) -> web.Response:
    """POST /admin/accounts/{id}/charges: a one-off charge waiting for its invoice → 201."""
    body = await json_object(request, {"description", "amount", "quantity"}, {"description", "amount"})
    wanted = charge_request(body)
    account_id = _account_id(request)
    async with audited(request, "create", "one_off_charge") as change:
        charge = await one_off.add_one_off_charge(
            change.conn, account_id, description=wanted.description,
            unit_price_micro=wanted.unit_price_micro, quantity=wanted.quantity,
        )
        change.resource_id = charge.id
        change.fields(None, one_off_charge_json(charge))
    return web.json_response(one_off_charge_json(charge), status=201)


class _NoInvoicing(AdminError):
    status = 503


@admin_route("invoices.write")
async def issue_one_off(request: web.Request) -> web.Response:
    """POST /admin/accounts/{id}/invoices/one-off: the one-off invoice of the
    account's charges not invoiced yet, emailed → 201 with it."""
    services = _services(request)
    how = services.one_off_invoicing
    if how is None:
        raise _NoInvoicing("one-off invoices are not issued by this control plane")
    account_id = _account_id(request)
    async with audited(request, "issue_one_off", "invoice") as change:
        invoice = await how.invoicing.issue_one_off(account_id, supplier=how.supplier, db=change.conn)
        change.resource_id = invoice.number
        change.fields(None, {"account_id": account_id, "number": invoice.number, "kind": invoice.kind})
    return web.json_response(invoice_summary_json(invoice), status=201)
