"""The console's invoices (issue 13, item 5): a filtered list (account,
month, kind, state today; an account admin sees its own account's), one
invoice with its payments and its standing and penalty as of today, its
document, and a "record payment" form (``invoices.write``).

The document is the same HTML /api/v1/invoices/{invoice}.html answers
(:func:`billing.invoicing.presentation.render_invoice_html`, autoescaped),
served by its own route with a sandboxing Content-Security-Policy (it runs,
loads and submits nothing) and shown in an ``<iframe sandbox>`` of the
invoice page. A payment is recorded by the same code as /admin/payments
and /api/v1/payments (:func:`web.payment_routes.recorded_payment`), in
one audited change.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from billing import subscriptions
from billing.invoicing import payments, records
from billing.invoicing.presentation import render_invoice_html
from web.admin_input import AdminError, InvalidInputError, day_from_text, payment_amount_micro, refusals
from web.audited import audited_change
from web.payment_routes import payment_audit_fields, recorded_payment

from .context import PageNotFound, Viewer, posted_form, services, viewer
from .render import render, see_other
from .subscribers import page_id

PAGE_SIZE = 25
MAX_NUMBER_CHARS = 32
STATES = (records.UNPAID, records.PARTIALLY_PAID, records.PAID)
# the document may run nothing, load nothing, submit nothing; only the console frames it
DOCUMENT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def _filters(request: web.Request, who: Viewer) -> tuple[dict[str, str], int | None]:
    """The list's filters as typed, and the account they name (an account admin: its own)."""
    wanted = {field: request.query.get(field, "").strip()[:16] for field in ("account", "month", "kind", "state")}
    account = page_id(wanted["account"]) if wanted["account"] else None
    if wanted["account"] and account is None:
        raise InvalidInputError("account", "an account id (a whole number)")
    if who.own_account_id is not None:
        account = who.own_account_id if account is None else account
        who.check_account(account)
    if wanted["month"] and not (len(wanted["month"]) == 7 and wanted["month"][4] == "-"
                                and (wanted["month"][:4] + wanted["month"][5:]).isdigit()):
        raise InvalidInputError("month", "a month as YYYY-MM")
    if wanted["kind"] and wanted["kind"] not in records.INVOICE_KINDS:
        raise InvalidInputError("kind", f"one of {', '.join(records.INVOICE_KINDS)}")
    if wanted["state"] and wanted["state"] not in STATES:
        raise InvalidInputError("state", f"one of {', '.join(STATES)}")
    return wanted, account


async def list_page(request: web.Request) -> web.Response:
    """GET /console/invoices?account=&month=&kind=&state=&after=: a page of invoices, in the order issued."""
    who = await viewer(request, "invoices.read")
    today = subscriptions.contract_day()
    rows: list = []
    next_after, error, status = None, None, 200
    wanted = {field: request.query.get(field, "")[:16] for field in ("account", "month", "kind", "state")}
    try:
        with refusals():
            wanted, account = _filters(request, who)
            found, last_id = await payments.invoices_in_state(
                services(request).engine, account_id=account, period=wanted["month"] or None,
                kind=wanted["kind"] or None, state=wanted["state"] or None, as_of=today,
                after_id=page_id(request.query.get("after")) or 0, limit=PAGE_SIZE)
        rows = [(invoice, payments.status_as_of(invoice, today)) for invoice in found]
        next_after = last_id if len(found) == PAGE_SIZE else None
    except InvalidInputError as exc:
        error, status = str(exc), exc.status
    return render(request, "invoices.html", {
        "rows": rows, "filters": wanted, "next_after": next_after, "after": request.query.get("after"),
        "kinds": records.INVOICE_KINDS, "states": STATES, "error": error, "own": who.own_account_id,
    }, who=who, status=status)


async def _invoice(request: web.Request, who: Viewer) -> records.Invoice:
    number = request.match_info["number"]
    if len(number) > MAX_NUMBER_CHARS:
        raise PageNotFound()
    with refusals():
        invoice = await records.get_invoice(services(request).engine, number)
    who.check_account(invoice.account_id)  # before anything of it is shown
    return invoice


async def detail_page(request: web.Request, *, error: str | None = None, form: dict | None = None,
                      status: int = 200) -> web.Response:
    """GET /console/invoices/{number}: the invoice, its payments, standing and penalty today, its document."""
    who = await viewer(request, "invoices.read")
    invoice = await _invoice(request, who)
    today = subscriptions.contract_day()
    return render(request, "invoice.html", {
        "invoice": invoice, "standing": payments.status_as_of(invoice, today), "today": today,
        "may_pay": who.may("invoices.write") and invoice.payable, "error": error,
        "form": form or {"currency": payments.RON, "paid_on": today.isoformat()},
        "currencies": payments.PAYMENT_CURRENCIES, "recorded": request.query.get("recorded") == "1",
    }, who=who, status=status)


async def document(request: web.Request) -> web.Response:
    """GET /console/invoices/{number}/document: the invoice's HTML document with its standing today, sandboxed."""
    who = await viewer(request, "invoices.read")
    invoice = await _invoice(request, who)
    html = render_invoice_html(invoice, as_of=subscriptions.contract_day())
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": DOCUMENT_POLICY, "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"})


async def record_payment(request: web.Request) -> web.Response:
    """POST /console/invoices/{number}/payments: record a payment received against the invoice (audited)."""
    who = await viewer(request, "invoices.write")
    form = await posted_form(request, who)
    invoice = await _invoice(request, who)
    wanted = {field: form.get(field, "").strip()[:200] for field in ("amount", "currency", "paid_on", "reference")}
    svc = services(request)
    try:
        with refusals():
            currency = payments.payment_currency(wanted["currency"])
            amount = payment_amount_micro(wanted["amount"], currency)
            paid_on: date = (day_from_text("paid_on", wanted["paid_on"]) if wanted["paid_on"]
                             else subscriptions.contract_day())
            reference = wanted["reference"][:payments.PAYMENT_REFERENCE_MAX_LENGTH]
            async with audited_change(svc.engine, who.actor, svc.notifier, action="record_payment",
                                      resource="invoice", resource_id=invoice.number) as change:
                answer = await recorded_payment(svc.invoicing, change.conn, amount, paid_on=paid_on,
                                                currency=currency, reference=reference, number=invoice.number,
                                                account_id=None)
                change.fields(None, payment_audit_fields(answer, reference))
    except AdminError as exc:
        return await detail_page(request, error=str(exc), form=wanted, status=exc.status)
    return see_other(f"/console/invoices/{invoice.number}?recorded=1")


def add_routes(app: web.Application) -> None:
    """The invoice pages in the console's app."""
    app.router.add_get("/invoices", list_page)
    app.router.add_get("/invoices/{number}", detail_page)
    app.router.add_get("/invoices/{number}/document", document)
    app.router.add_post("/invoices/{number}/payments", record_payment)
