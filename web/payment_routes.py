"""The admin HTTP API's payments and invoices: record a payment received
(against an invoice, or an account's oldest open invoices), show an invoice
as it stands, list an account's invoices.

==========================================  =========================================
``POST  /admin/payments``                    record a payment received → 201
``GET   /admin/invoices/{number}``           an invoice, its payments, status, penalty
``GET   /admin/accounts/{id}/invoices``      the account's invoices and their status
==========================================  =========================================

A payment is ``{"amount": "60.50", "currency": "RON", "paid_on":
"2025-08-11", "reference": "OP 123", "invoice": "CP-000012"}`` or, instead
of ``invoice``, ``"account": 7``: then the oldest open invoices are paid
first and what is left over is kept as the account's credit. ``currency``
defaults to RON (art. 7.6: invoices are payable in lei), ``paid_on`` to
today (Europe/Bucharest). It goes through the invoicing service the
composition gave :class:`web.app.AdminServices` (the CLI's ``clickphone
payments add`` path): the same conversions, exchange differences (art. 7.7
ii), refusals and confirmation emails. Bounds in :mod:`web.admin_input`.

Refusals: 400 naming the field, 404 unknown invoice or account, 409 an
invoice already paid or not payable (a prepaid statement), or a BNR rate
the payment needs not stored yet. Amounts are answered as decimal strings
with six decimals, in the currency named beside them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger, subscriptions
from billing.invoicing import exchange, payments, records
from billing.invoicing.presentation import invoice_json
from billing.invoicing.service import InvoicingService
from billing.money import format_micro

from .admin_input import (
    MAX_ID,
    MAX_INVOICE_NUMBER_LENGTH,
    InvalidInputError,
    NotFoundError,
    day_from_text,
    id_from_text,
    payment_amount_micro,
    shown,
)
from .admin_guard import ADMIN_SERVICES, admin_route, audited
from .json_body import json_object

if TYPE_CHECKING:
    from .app import AdminServices

_PAYMENT_FIELDS = {"amount", "currency", "paid_on", "reference", "invoice", "account"}


def add_payment_routes(app: web.Application) -> None:
    """Register the payment and invoice routes on ``app`` (after
    :func:`web.admin_routes.add_admin_routes`, whose services they use)."""
    app.router.add_post("/admin/payments", record_payment)
    app.router.add_get("/admin/invoices/{number}", show_invoice)
    app.router.add_get("/admin/accounts/{account_id:[0-9]+}/invoices", list_account_invoices)


def _services(request: web.Request) -> "AdminServices":
    return request.app[ADMIN_SERVICES]  # type: ignore[return-value]


# -- reading the request -----------------------------------------------------------------


def _string(body: dict[str, Any], key: str, default: str, *, longest: int) -> str:
    """The string ``key`` of at most ``longest`` characters; absent or null gives ``default``."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInputError(key, "must be a string")
    if len(value) > longest:
        raise InvalidInputError(key, f"at most {longest} characters, not {len(value)}")
    return value


def _payer(body: dict[str, Any]) -> tuple[str | None, int | None]:
    """The invoice number or the account id paid: exactly one of them."""
    number, account = body.get("invoice"), body.get("account")
    if (number is None) == (account is None):
        raise InvalidInputError("invoice" if number is None else "account",
                                "give exactly one of invoice (a number like CP-000012) and account (an id)")
    if number is not None:
        return _string(body, "invoice", "", longest=MAX_INVOICE_NUMBER_LENGTH), None
    if not isinstance(account, int) or isinstance(account, bool) or not 1 <= account <= MAX_ID:
        raise InvalidInputError("account", f"must be an account id from 1 to {MAX_ID}, not {shown(account)}")
    return None, account


def _as_of(request: web.Request) -> date:
    """The ``as_of`` query parameter (``YYYY-MM-DD``), or today (Europe/Bucharest)."""
    text = request.query.get("as_of")
    return subscriptions.contract_day() if text is None else day_from_text("as_of", text[:40])


def _invoice_number(request: web.Request) -> str:
    number = request.match_info["number"]
    if len(number) > MAX_INVOICE_NUMBER_LENGTH:
        raise NotFoundError(f"no invoice {shown(number)}")
    return number


# -- answers ---------------------------------------------------------------------------------


def payment_json(payment: records.InvoicePayment) -> dict[str, Any]:
    """A payment against an invoice: what was received, the EUR share it settled, its RON value."""
    return {
        "id": payment.id, "paid_on": payment.paid_on.isoformat(), "currency": payment.currency,
        "received": format_micro(payment.received_micro or payment.amount_micro),
        "amount_eur": format_micro(payment.amount_micro),
        "value_ron": None if payment.ron_micro is None else format_micro(payment.ron_micro),
    }


def standing_json(invoice: records.Invoice, as_of: date) -> dict[str, Any]:
    """Where ``invoice`` stands on ``as_of``: state, what is left in EUR and
    RON, days late and the late-payment penalty so far (art. 7.7)."""
    status = payments.status_as_of(invoice, as_of)
    return {
        "as_of": as_of.isoformat(), "state": status.state, "paid_eur": format_micro(status.paid_micro),
        "unpaid_eur": format_micro(status.unpaid_micro),
        "unpaid_ron": format_micro(max(payments.unpaid_ron_micro(invoice), 0) if invoice.payable else 0),
        "days_late": status.days_late, "penalty_eur": format_micro(status.penalty_micro),
        "penalty_ron": format_micro(status.penalty_ron_micro),
    }


def _difference_json(difference: exchange.PaymentDifference) -> dict[str, Any]:
    return {"payment_id": difference.payment_id, "due_rate": format(difference.due_rate, "f"),
            "paid_rate": format(difference.paid_rate, "f"),
            "amount_ron": format_micro(difference.amount_ron_micro)}


# -- resources -------------------------------------------------------------------------------


@admin_route("invoices.write")
async def record_payment(request: web.Request) -> web.Response:
    """POST /admin/payments: record a payment received against ``invoice``,
    or allocated over ``account``'s open invoices oldest first (the rest
    its credit), and queue its confirmation emails → 201 with each
    invoice's payment and standing, the credit left and the exchange
    differences the payment leaves for the next invoice."""
    body = await json_object(request, _PAYMENT_FIELDS, {"amount"})
    currency = payments.payment_currency(_string(body, "currency", payments.RON, longest=8))
    amount = payment_amount_micro(body["amount"], currency)
    paid_on = (subscriptions.contract_day() if body.get("paid_on") is None
               else day_from_text("paid_on", _string(body, "paid_on", "", longest=40)))
    reference = _string(body, "reference", "", longest=payments.PAYMENT_REFERENCE_MAX_LENGTH)
    number, account_id = _payer(body)
    services = _services(request)
    resource, resource_id = ("invoice", number) if number is not None else ("account", account_id)
    async with audited(request, "record_payment", resource, resource_id) as change:
        answer = await recorded_payment(services.invoicing, change.conn, amount, paid_on=paid_on,
                                        currency=currency, reference=reference, number=number,
                                        account_id=account_id)
        change.fields(None, payment_audit_fields(answer, reference))
    return web.json_response(answer, status=201)


async def recorded_payment(invoicing: InvoicingService, conn: AsyncConnection, amount: int, *, paid_on: date,
                           currency: str, reference: str, number: str | None,
                           account_id: int | None) -> dict[str, Any]:
    """Record a payment against invoice ``number``, or over account
    ``account_id``'s open invoices, in ``conn``'s transaction (an audited
    change's); return the answer (/admin's and /api/v1's): each invoice's
    payment and standing, the credit left and the exchange differences."""
    credit: dict[str, Any] | None = None
    if number is not None:
        payment = await invoicing.record_payment(number, amount, paid_on=paid_on, currency=currency,
                                                 reference=reference, db=conn)
        settled = [(number, payment)]
    else:
        made = await invoicing.record_account_payment(account_id, amount, paid_on=paid_on,  # type: ignore[arg-type]
                                                      currency=currency, reference=reference, db=conn)
        settled = list(made.settled)
        if made.credit_micro:
            credit = {"amount": format_micro(made.credit_micro), "currency": made.currency,
                      "amount_eur": format_micro(made.credit_eur_micro),
                      "rate": None if made.credit_rate is None else format(made.credit_rate, "f")}
    allocated = []
    for invoice_number, payment in settled:
        invoice = await records.get_invoice(conn, invoice_number)
        account_id = invoice.account_id
        allocated.append({"invoice": invoice.number, "payment": payment_json(payment),
                          "standing": standing_json(invoice, paid_on)})
    differences = await exchange.differences_of_payments(conn, (p.id for _, p in settled))
    return {
        "account_id": account_id, "currency": currency, "received": format_micro(amount),
        "paid_on": paid_on.isoformat(), "invoices": allocated, "credit": credit,
        "exchange_differences": [_difference_json(d) for d in differences],
    }


def payment_audit_fields(answer: dict[str, Any], reference: str) -> dict[str, Any]:
    """What a recorded payment's audit entry says (its after; before, nothing)."""
    return {"amount": answer["received"], "currency": answer["currency"], "paid_on": answer["paid_on"],
            "reference": reference, "account_id": answer["account_id"],
            "invoices": ", ".join(a["invoice"] for a in answer["invoices"]),
            "left_on_account": None if answer["credit"] is None else answer["credit"]["amount"]}


@admin_route("invoices.read")
async def show_invoice(request: web.Request) -> web.Response:
    """GET /admin/invoices/{number}[?as_of=YYYY-MM-DD]: the invoice as
    issued (the CLI's ``invoice show --format json``), its payments in the
    currency received, and where it stands today (or ``as_of``): state,
    what is left, the penalty so far."""
    as_of = _as_of(request)
    invoice = await records.get_invoice(_services(request).engine, _invoice_number(request))
    return web.json_response({**invoice_json(invoice), "payments": [payment_json(p) for p in invoice.payments],
                              "status": standing_json(invoice, as_of)})


@admin_route("invoices.read")
async def list_account_invoices(request: web.Request) -> web.Response:
    """GET /admin/accounts/{id}/invoices[?as_of=YYYY-MM-DD]: the account's
    invoices by number, each with its totals and where it stands today (or
    ``as_of``); 404 for an unknown account."""
    as_of = _as_of(request)
    engine, account_id = _services(request).engine, id_from_text(request.match_info["account_id"])
    await ledger.get_account(engine, account_id)
    listed = await records.list_invoices(engine, account_id=account_id)
    return web.json_response({"account_id": account_id, "invoices": [
        {"number": i.number, "kind": i.kind, "period": i.period, "issue_date": i.issue_date.isoformat(),
         "due_date": i.due_date.isoformat() if i.payable else None, "total_eur": format_micro(i.total_micro),
         "total_ron": format_micro(i.total_ron_micro), "status": standing_json(i, as_of)}
        for i in listed
    ]})
