"""/api/v1's invoices and payments: list (filtered, cursor pages), show
(JSON with lines, payments and the standing and penalty on a day), the
HTML document the invoice email attaches, record a payment, issue an
interim invoice.

An account admin sees its own account's invoices only (another's: 403).
The writes go through the invoicing service (:class:`web.app.AdminServices`'s,
the CLI's path: the same conversions, refusals and emails) joining the
audited change's transaction, so a refused write leaves no payment, no
email and no audit entry.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

from aiohttp import web

from billing import subscriptions
from billing.fx_bnr import FxError
from billing.invoicing import payments, records
from billing.invoicing.errors import InvalidPeriodError, InvalidSeriesError, InvalidUntilError, InvoiceError
from billing.invoicing.presentation import invoice_json, render_invoice_html
from billing.money import format_micro
from web.admin_input import payment_amount_micro
from web.admin_routes import ADMIN_SERVICES
from web.payment_routes import payment_audit_fields, payment_json, recorded_payment, standing_json

from .errors import ApiError
from .invoice_schemas import (
    InterimIn,
    InvoiceDetail,
    InvoicePage,
    InvoiceQuery,
    InvoiceSummary,
    OnQuery,
    PaymentIn,
    PaymentOut,
    PaymentRecorded,
    StandingOut,
)
from .registry import ApiCall, RouteTable, cursor_for, id_from_cursor

routes = RouteTable()

# the document is customer data rendered by an autoescaping template; the page
# may still run nothing, load nothing and submit nothing
_SANDBOX = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _on(day: Optional[date]) -> date:
    return day or subscriptions.contract_day()


def _summary(invoice: records.Invoice, on: date) -> InvoiceSummary:
    return InvoiceSummary(number=invoice.number, kind=invoice.kind, account_id=invoice.account_id,
                          account_code=invoice.account_code, period=invoice.period, issue_date=invoice.issue_date,
                          due_date=invoice.due_date if invoice.payable else None,
                          total_eur=format_micro(invoice.total_micro), total_ron=format_micro(invoice.total_ron_micro),
                          status=StandingOut(**standing_json(invoice, on)))


def _detail(invoice: records.Invoice, on: date) -> InvoiceDetail:
    return InvoiceDetail(invoice=invoice_json(invoice), payments=[PaymentOut(**payment_json(p)) for p in invoice.payments],
                         status=StandingOut(**standing_json(invoice, on)))


@routes.route("GET", "/invoices", summary="Invoices by account, month, kind and status, in the order issued",
              permission="invoices.read", query=InvoiceQuery, response=InvoicePage)
async def list_invoices(call: ApiCall) -> InvoicePage:
    """Invoices (an account admin: its own account's), each with its totals and standing."""
    query: InvoiceQuery = call.query
    account = query.account
    if call.own_account_id is not None:
        account = call.own_account_id if account is None else account
        call.check_account(account)
    on = _on(query.on)
    if query.month is not None:
        try:
            records.parse_period(query.month)  # the pattern passes 0000-01, which no calendar has
        except InvalidPeriodError as exc:
            raise ApiError(400, f"month: {exc}", "month") from None
    found, last_id = await payments.invoices_in_state(
        call.engine, account_id=account, period=query.month, kind=query.kind, state=query.status, as_of=on,
        after_id=0 if query.cursor is None else id_from_cursor(query.cursor), limit=query.limit)
    return InvoicePage(items=[_summary(i, on) for i in found],
                       next_cursor=cursor_for(last_id) if len(found) == query.limit else None)


async def _invoice(call: ApiCall) -> records.Invoice:
    invoice = await records.get_invoice(call.engine, call.request.match_info["invoice"])
    call.check_account(invoice.account_id)
    return invoice


@routes.route("GET", "/invoices/{invoice}", summary="An invoice with its lines, payments, standing and penalty",
              permission="invoices.read", query=OnQuery, response=InvoiceDetail)
async def get_invoice(call: ApiCall) -> InvoiceDetail:
    """The invoice as issued, its payments, and where it stands ``on`` a day (default today)."""
    return _detail(await _invoice(call), _on(call.query.on))


@routes.route("GET", "/invoices/{invoice}.html", summary="The invoice's HTML document (the one its email attaches)",
              permission="invoices.read", query=OnQuery, media_type="text/html")
async def get_invoice_html(call: ApiCall) -> web.Response:
    """The Romanian invoice document, autoescaped; with ``on``, its standing that day too.
    Served sandboxed (Content-Security-Policy): it runs and loads nothing."""
    invoice = await _invoice(call)
    html = render_invoice_html(invoice, as_of=call.query.on)
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": _SANDBOX, "X-Content-Type-Options": "nosniff"})


@routes.route("POST", "/payments", summary="Record a payment received (against an invoice, or an account)",
              permission="invoices.write", body=PaymentIn, response=PaymentRecorded, status=201)
async def record_payment(call: ApiCall) -> PaymentRecorded:
    """Record it and queue its confirmation emails; ``invoice`` or ``account``, exactly one."""
    body: PaymentIn = call.body
    if (body.invoice is None) == (body.account is None):
        field = "invoice" if body.invoice is None else "account"
        raise ApiError(400, f"{field}: give exactly one of invoice (a number like CP-000012) and account (an id)",
                       field)
    currency = payments.payment_currency(body.currency)
    amount = payment_amount_micro(body.amount, currency)
    paid_on = body.paid_on or subscriptions.contract_day()
    services = call.request.app[ADMIN_SERVICES]
    resource, resource_id = ("invoice", body.invoice) if body.invoice is not None else ("account", body.account)
    async with call.change("record_payment", resource, resource_id) as change:  # as /admin/payments audits it
        answer = await recorded_payment(services.invoicing, change.conn, amount, paid_on=paid_on,  # type: ignore[attr-defined]
                                        currency=currency, reference=body.reference, number=body.invoice,
                                        account_id=body.account)
        change.fields(None, payment_audit_fields(answer, body.reference))
    return PaymentRecorded.model_validate(answer)


@routes.route("POST", "/accounts/{id}/invoices/interim", summary="Issue an account's interim invoice now",
              permission="invoices.write", body=InterimIn, response=InvoiceDetail, status=201)
async def issue_interim(call: ApiCall) -> InvoiceDetail:
    """The usage so far in the month (art. 7.1.4), invoiced and emailed; 409 when it cannot be issued now."""
    account_id = call.path_id()
    body: InterimIn = call.body
    services = call.request.app[ADMIN_SERVICES]
    try:
        async with call.change("issue_interim", "invoice") as change:
            invoice = await services.invoicing.issue_interim(  # type: ignore[attr-defined]
                account_id, supplier=services.supplier, until=body.until,  # type: ignore[attr-defined]
                series=body.series or records.DEFAULT_SERIES, db=change.conn)
            change.resource_id = invoice.number
            change.fields(None, {"account_id": account_id, "kind": invoice.kind, "period": invoice.period,
                                 "total_eur": format_micro(invoice.total_micro)})
    except InvalidUntilError as exc:
        raise ApiError(400, f"until: {exc}", "until") from None
    except InvalidSeriesError as exc:
        raise ApiError(400, f"series: {exc}", "series") from None
    except (InvoiceError, FxError) as exc:  # invoiced already, nothing to invoice, CDRs on their way, no rate
        raise ApiError(409, str(exc)) from None
    return _detail(invoice, subscriptions.contract_day())
