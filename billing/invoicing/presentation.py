"""The invoice as the customer reads it: the Romanian HTML document, the
JSON form, and the Romanian wording (month names, destination classes,
states) the lines are described with."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from billing import money
from billing.fx_store import INVOICE_CURRENCY
from billing.invoicing.payments import status_as_of
from billing.invoicing.records import (
    INTERIM,
    INVOICE_CURRENCY_RON,
    ONE_OFF,
    PAID,
    PARTIALLY_PAID,
    RON_PER_BAN_MICRO,
    UNPAID,
    Invoice,
)
from billing.invoicing.supplier import SUPPLIER_FIELDS
from billing.accounts import PREPAID
from billing.tariffs import CONTRACT_TZ

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

MONTHS_RO = (
    "ianuarie", "februarie", "martie", "aprilie", "mai", "iunie",
    "iulie", "august", "septembrie", "octombrie", "noiembrie", "decembrie",
)  # fmt: skip

CLASS_LABELS_RO = {
    "on_net": "Apeluri în rețeaua ClickPhone",
    "ro_fixed": "Apeluri către rețele fixe naționale",
    "ro_mobile": "Apeluri către rețele mobile naționale",
    "toll_free": "Apeluri către numere gratuite",
    "shared_cost": "Apeluri către numere cu cost partajat",
    "premium": "Apeluri către numere cu tarif special",
    "emergency": "Apeluri de urgență (112)",
    "social": "Apeluri către numere de interes social (116xxx)",
    "short_code": "Apeluri către numere scurte",
    "international": "Apeluri internaționale",
    "invalid": "Alte apeluri",
}
STATE_LABELS_RO = {UNPAID: "neachitată", PARTIALLY_PAID: "achitată parțial", PAID: "achitată"}
KIND_LABELS_RO = {PREPAID: "preplătit", "postpaid": "postplătit"}
INVOICE_TITLES_RO = {INTERIM: "Factură intermediară", ONE_OFF: "Factură taxe unice"}
"""The document's title by invoice kind; any other invoice is a plain ``Factură``."""


def days_ro(count: int) -> str:
    if count == 1:
        return "1 zi"
    # Romanian: "20 de zile", "5 zile"
    return f"{count} de zile" if count % 100 == 0 or count % 100 >= 20 else f"{count} zile"


def month_name(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS_RO[int(number) - 1]} {year}"


def format_ron(micro: int) -> str:
    """Return micro-RON as shown on an invoice: ``'1234.50'`` (whole bani: 2 decimals)."""
    text = money.format_micro(micro)
    return text[:-4] if micro % RON_PER_BAN_MICRO == 0 else text


def _format_day(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _format_instant(instant: datetime) -> str:
    return instant.astimezone(CONTRACT_TZ).strftime("%d.%m.%Y %H:%M:%S")


def _format_seconds(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}:{rest:02d}"


def format_iban(iban: str) -> str:
    """Return an IBAN in its printed form, groups of four: ``'RO49 AAAA 1B31 …'``."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def format_percent(rate: Decimal) -> str:
    """Return a VAT rate fraction as a percentage: ``Decimal('0.21')`` → ``'21%'``."""
    return f"{rate.scaleb(2).normalize():f}%"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every value is escaped: names and references are customer data
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        eur=money.format_micro,
        ron=format_ron,
        day=_format_day,
        instant=_format_instant,
        seconds=_format_seconds,
        percent=format_percent,
        iban=format_iban,
        month_name=month_name,
    )
    return env


def render_invoice_html(invoice: Invoice, *, as_of: date | None = None) -> str:
    """Return the invoice as a standalone HTML document (Romanian, autoescaped).

    With ``as_of``, it also shows the payment status and penalty on that day.
    """
    status = status_as_of(invoice, as_of) if as_of is not None else None
    return _environment().get_template("invoice.html.j2").render(
        invoice=invoice,
        title=INVOICE_TITLES_RO.get(invoice.kind, "Factură"),
        status=status,
        state_labels=STATE_LABELS_RO,
        kind_labels=KIND_LABELS_RO,
        class_labels=CLASS_LABELS_RO,
        currency=INVOICE_CURRENCY_RON,
        reference_currency=INVOICE_CURRENCY,
    )


def invoice_json(invoice: Invoice, *, as_of: date | None = None) -> dict[str, Any]:
    """Return the invoice as JSON-ready data: amounts are exact decimal strings
    (EUR with 6 decimals, RON with 2), dates ISO 8601, call starts UTC."""
    data: dict[str, Any] = {
        "number": invoice.number,
        "kind": invoice.kind,
        "series": invoice.series,
        "sequence": invoice.sequence,
        "account": {"id": invoice.account_id, "code": invoice.account_code, "kind": invoice.account_kind},
        "supplier": {name: getattr(invoice.supplier, name) for name in SUPPLIER_FIELDS},
        "customer": {"name": invoice.customer_name, "email": invoice.customer_email},
        "language": invoice.language,
        "period": invoice.period,
        "period_first": invoice.period_first.isoformat(),
        "period_last": invoice.period_last.isoformat(),
        "issue_date": invoice.issue_date.isoformat(),
        # a statement settled at issue, or a total of nothing, is due on no day
        "payable": invoice.payable,
        "due_date": invoice.due_date.isoformat() if invoice.payable else None,
        "currency": INVOICE_CURRENCY_RON,
        "vat": {"rate": format(invoice.vat_rate, "f"), "date": invoice.issue_date.isoformat()},
        "fx": {
            "currency": INVOICE_CURRENCY,
            "ron_per_unit": format(invoice.fx_rate, "f"),
            "date": invoice.fx_date.isoformat(),
            "source": invoice.fx_source,
        },
        "bundle": {"included_seconds": invoice.bundle_seconds, "used_seconds": invoice.bundle_used_seconds},
        "totals": {
            "net_eur": money.format_micro(invoice.net_micro),
            "vat_eur": money.format_micro(invoice.vat_micro),
            "total_eur": money.format_micro(invoice.total_micro),
            "net_ron": format_ron(invoice.net_ron_micro),
            "vat_ron": format_ron(invoice.vat_ron_micro),
            "total_ron": format_ron(invoice.total_ron_micro),
        },
        "lines": [
            {
                "position": line.position,
                "kind": line.kind,
                "description": line.description,
                "number_class": line.number_class,
                "month": line.month,
                "quantity": line.quantity,
                "billable_seconds": line.billable_seconds,
                "included_seconds": line.included_seconds,
                "charged_seconds": line.charged_seconds,
                "net_eur": money.format_micro(line.net_micro),
                "vat_eur": money.format_micro(line.vat_micro),
                "total_eur": money.format_micro(line.total_micro),
                "net_ron": format_ron(line.net_ron_micro),
                "vat_ron": format_ron(line.vat_ron_micro),
                "total_ron": format_ron(line.total_ron_micro),
            }
            for line in invoice.lines
        ],
        "calls": [
            {
                "start": call.start.isoformat(),
                "dialled": call.dialled,
                "number_class": call.number_class,
                "destination": call.destination,
                "billsec": call.billsec,
                "billable_seconds": call.billable_seconds,
                "included_seconds": call.included_seconds,
                "charged_seconds": call.charged_seconds,
                "cost_eur": money.format_micro(call.cost_micro),
            }
            for call in invoice.calls
        ],
        "payments": [
            {"paid_on": p.paid_on.isoformat(), "amount_eur": money.format_micro(p.amount_micro)}
            for p in invoice.payments
        ],
    }
    if as_of is not None:
        status = status_as_of(invoice, as_of)
        data["status"] = {
            "as_of": as_of.isoformat(),
            "state": status.state,
            "paid_eur": money.format_micro(status.paid_micro),
            "unpaid_eur": money.format_micro(status.unpaid_micro),
            "days_late": status.days_late,
            "penalty_eur": money.format_micro(status.penalty_micro),
            "penalty_ron": format_ron(status.penalty_ron_micro),
        }
    return data
