"""Monthly invoices: what the ledger charged, per account and period, in RON.

An invoice is issued once per account and billing period (a calendar month,
Europe/Bucharest, ``'YYYY-MM'``) by :func:`run_invoices`, normally on the
1st of the next month. It is stored once — totals, lines, the itemised call
list, the VAT rate and FX rate used, snapshots of the customer and of the
supplier — and never updated; payments are recorded beside it.

What an invoice holds (decided here; the contract is silent on the details)
    The ledger is the one source of truth, so an invoice accounts for
    ledger entries, each on exactly one invoice (``invoice_entries``):

    * **usage** — the ``call_charge`` entries ingestion wrote for the
      account's CDRs whose call **start** falls before the period's end and
      that are on no invoice yet: the period's calls, plus any call of an
      earlier month that arrived after that month was invoiced (shown on its
      own line, with its month). Each call is shown as rated now — the
      latest re-rating, if any — and the re-rating ``adjustment`` entries of
      these calls are accounted for with them. Grouped per destination class
      (and month) with calls, billable, included and charged seconds. A
      call belongs to the period of its start whenever it is ingested, so
      the run refuses while CDRs of the period are still on their way
      (:mod:`billing.uningested`, :class:`UsageNotIngestedError`);
    * **re-rating corrections** of calls already invoiced (a tariff
      correction after the invoice): one line;
    * **SMS charges** and **other adjustments** recorded before the
      period's end and not invoiced yet: SMS on one line, each adjustment
      on its own (a credit in the customer's favour is a negative line);
    * the **recurring fee** of the period (in arrears), written to the
      ledger by this run as a ``recurring_fee`` entry (idempotency key
      ``recurring_fee:<account>:<YYYY-MM>``) for the fee minus the downtime
      credit; the invoice shows the fee and the credit as two lines.
      Downtime days are the ``service_downtime`` days in the period
      (service-wide, provider's fault; :func:`record_downtime`), each
      reducing the fee by 1/days-in-month (:func:`billing.recurring.recurring_fee`).
      An account opened during the period pays the whole month's fee;
    * **VAT**, at the rate in force on the **issue date** (19 % before
      2025-08-01, 21 % from then), computed per line; the ledger then holds
      it too, as one ``adjustment`` entry of the invoice's VAT (key
      ``invoice_vat:<number>``): after invoicing, an account owes what its
      invoices say, VAT included. (The ledger has no VAT kind yet.)

    Top-ups and payments are never invoiced. In a check before commit, the
    entries an invoice accounts for (VAT aside) must sum to minus its net
    total, or nothing is issued. Accounts with nothing to invoice (no fee,
    no calls, no entries) get no invoice and consume no number.

Prepaid and postpaid
    Postpaid: the invoice asks for payment; it is due 10 days after issue
    and a penalty of 0.1 %/day accrues after that on what is unpaid, capped
    at the amount unpaid on the due date (:mod:`billing.penalty`); payments
    are recorded against it (:func:`add_invoice_payment`). Prepaid: usage
    was already paid from the balance, so the invoice is a statement,
    settled from the balance when issued (status ``paid``, no penalty, no
    payments); its recurring fee and VAT are debited from the balance like
    usage (the balance may then go below zero until the next top-up).

Currency, FX and rounding
    Prices and the ledger are EUR (micro-euros, exact). The invoice is in
    RON at the BNR EUR rate of :func:`billing.fx_store.rate_for_invoice`
    (published before the issue date, at most 7 days old; no rate, no
    invoice). RON is computed **once per line**: ``net_ron`` = the line's
    net EUR × rate, rounded half-up once to the **ban** (0.01 RON, what a
    Romanian invoice shows); ``vat_ron`` = ``net_ron`` × VAT rate, rounded
    once to the ban (VAT is computed on the RON taxable amount). EUR VAT is
    per line too, to the micro-euro. Every total is the sum of its lines,
    in both currencies. All rounding goes through :mod:`billing.money`
    (to the ban by scaling the rate by 10⁻⁴, so the result's unit is the ban).
    Payments and the penalty are tracked in EUR (the ledger's unit) and the
    penalty is also shown in RON at the invoice's rate, capped in RON at the
    RON principal unpaid on the due date (the invoice's RON total, less the
    payments made by then at the invoice's rate): a penalty never exceeds
    the principal in the currency the invoice is payable in (art. 7.7).

Numbers
    Gapless per series: ``<series>-<number:06d>``, e.g. ``CP-000001``. The
    series' counter row is locked and bumped in the transaction that stores
    the invoice: a rolled-back invoice gives its number back. Numbers follow
    issue dates (an earlier issue date than the series' last is refused).
    Locks are taken account first, counter second, everywhere, so
    concurrent runs (several control planes on PostgreSQL) queue instead of
    deadlocking; the second run finds the account's invoice and skips it.

Sending
    ``run_invoices(on_issued=...)`` calls the hook in the transaction that
    issues each invoice (the composition root queues the email there, with
    the HTML from :func:`render_invoice_html` attached): the email exists
    if and only if the invoice does. Customer name and email come from the
    ``customers`` lookup (provisioning owns them; billing only stores the
    snapshot).

Supplier
    A Romanian invoice names its supplier: name, CIF, Nr. Reg. Com.,
    registered office, and the account customers pay into (IBAN, bank).
    The composition root builds a :class:`Supplier` from the operator's
    settings (checked by :func:`checked_supplier`) and passes it to
    :func:`run_invoices`, which stores it on each invoice: documents render
    the stored copy, so changing the settings later changes no invoice
    already issued. Invoices issued before the supplier was stored carry the
    name alone (``ClickPhone``, what they printed).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger, money, penalty, vat
from billing.errors import BillingError
from billing.fx_store import DEFAULT_MAX_AGE_DAYS, INVOICE_CURRENCY, StoredRate, rate_for_invoice
from billing.invoice_tables import (
    invoice_calls,
    invoice_counters,
    invoice_entries,
    invoice_lines,
    invoice_payments,
    invoices,
    service_downtime,
)
from billing.numbering import NUMBER_CLASSES
from billing.recurring import BillingPeriod, issue_date_for, month_period, recurring_fee
from billing.accounts import PREPAID
from billing.tables import (
    ADJUSTMENT,
    CALL_CHARGE,
    PAYMENT,
    RECURRING_FEE,
    SMS_CHARGE,
    accounts,
    cdr_adjustments,
    cdrs,
    ledger_entries,
)
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import insert_or_skip
from billing.tariffs import CONTRACT_TZ
from billing.uningested import UningestedUsage, uningested_usage

DEFAULT_SERIES = "CP"
INVOICE_CURRENCY_RON = "RON"
RON_PER_BAN_MICRO = 10_000
"""micro-RON in one ban (0.01 RON): RON amounts on an invoice are whole bani."""

LATE_CALL_LOOKBACK_DAYS = 366
"""How far before the period an uninvoiced call (or ledger entry) is still
looked for: a CDR ingested more than a year after its call is not invoiced
automatically (it stays in the ledger)."""

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

_ID_CHUNK = 5_000  # ids per IN (...) list: far below both drivers' parameter limits
_SERIES = re.compile(r"[A-Z]{1,16}")
_NUMBER = re.compile(r"(?:(?P<series>[A-Za-z]{1,16})[- ]?)?(?P<number>\d{1,9})")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
_RERATE_KEY = re.compile(r"rerate:(\d+):\d+")

# line kinds
RECURRING, DOWNTIME_CREDIT, USAGE, SMS, RERATING, OTHER = (
    "recurring_fee", "downtime_credit", "usage", "sms", "rerating", "adjustment",
)  # fmt: skip

# invoice states as of a day
UNPAID, PARTIALLY_PAID, PAID = "unpaid", "partially_paid", "paid"

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


# -- errors -----------------------------------------------------------------------


class InvoiceError(BillingError):
    """Base of the refusals of invoicing."""


class InvalidPeriodError(InvoiceError, ValueError):
    """A billing period is not ``YYYY-MM``, or the issue date does not fit it."""


class UnknownInvoiceError(InvoiceError, LookupError):
    """No invoice has this number."""

    def __init__(self, number: str) -> None:
        super().__init__(f"no invoice {number!r}")
        self.number = number


class InvoiceChronologyError(InvoiceError):
    """The issue date is before the last issued invoice of the series."""


class InvoicePaymentError(InvoiceError, ValueError):
    """A payment cannot be recorded against this invoice."""


class InvoiceConsistencyError(InvoiceError):
    """The lines of an invoice do not match the ledger entries it accounts for (a bug)."""


class UsageNotIngestedError(InvoiceError):
    """CDRs of the period are still on their way (:mod:`billing.uningested`): not invoiced yet."""

    def __init__(self, period: str, usage: UningestedUsage) -> None:
        self.usage = usage
        super().__init__(
            f"{period} is not invoiced yet: {usage.describe()}. Let the control plane's tailer catch up "
            "(or `clickphone cdr ingest` the file), then run again; or issue now with --allow-uningested "
            "(late calls then go on the next invoice)"
        )


class InvalidSupplierError(InvoiceError, ValueError):
    """A supplier detail cannot be printed on an invoice; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- plain data --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    """Who an invoice is addressed to (provisioning's subscriber)."""

    name: str
    email: str | None = None
    language: str = "ro"


DEFAULT_SUPPLIER_NAME = "ClickPhone"


@dataclass(frozen=True, slots=True)
class Supplier:
    """Who issues the invoices, as printed on them and stored with each at issue.

    Empty fields were not given. A stored supplier is shown as it was, never
    re-checked: an issued invoice must always render.
    """

    name: str = DEFAULT_SUPPLIER_NAME
    vat_id: str = ""  # CIF/CUI: RO + digits when VAT-registered, digits alone otherwise
    registration: str = ""  # Nr. Reg. Com., e.g. J40/1234/2020
    address: str = ""  # registered office
    iban: str = ""  # electronic form: upper case, no spaces
    bank: str = ""

    @property
    def missing(self) -> tuple[str, ...]:
        """The names of the details not given."""
        return tuple(name for name in _SUPPLIER_FIELDS if not getattr(self, name))


_CIF = re.compile(r"(RO)?([1-9]\d{1,9})")
_CIF_KEY = "753217532"  # ANAF's test key, aligned right with the digits before the check digit
# Old form county/number/year (J40/1234/2020); the register's newer numbers
# are checked as digits only: their layout is not pinned down here.
_REGISTRATION = re.compile(r"[JFC](?:\d{1,2}/\d{1,8}/\d{4}|\d{6,16})")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")  # ISO 13616: 15 to 34 characters
_IBAN_LENGTHS = {"RO": 24}  # where the national length is known, it is checked too


def checked_supplier(supplier: Supplier) -> Supplier:
    """Return ``supplier`` normalised — whitespace collapsed; CIF, Nr. Reg. Com.
    and IBAN upper case without spaces — or raise :class:`InvalidSupplierError`.

    Checked: a name is given; the CIF's check digit; the Nr. Reg. Com.'s
    form; the IBAN's form and ISO 13616 mod-97 checksum. Empty details pass.
    """
    name, address, bank = (" ".join(text.split()) for text in (supplier.name, supplier.address, supplier.bank))
    vat_id, registration, iban = (
        "".join(text.split()).upper() for text in (supplier.vat_id, supplier.registration, supplier.iban)
    )
    if not name:
        raise InvalidSupplierError("name", "the supplier's name is required on an invoice")
    if vat_id and not _valid_cif(vat_id):
        raise InvalidSupplierError(
            "vat_id", f"{vat_id!r} is not a CIF: 2 to 10 digits (after RO when VAT-registered), the last a check digit"
        )
    if registration and not _REGISTRATION.fullmatch(registration):
        raise InvalidSupplierError(
            "registration", f"{registration!r} is not a Nr. Reg. Com. like J40/1234/2020 (J, F or C first)"
        )
    if iban and not _valid_iban(iban):
        raise InvalidSupplierError("iban", f"{iban!r} is not an IBAN: wrong form, length or checksum")
    return Supplier(name, vat_id, registration, address, iban, bank)


def _valid_cif(text: str) -> bool:
    match = _CIF.fullmatch(text)
    if match is None:
        return False
    digits = match.group(2)
    body, check = digits[:-1].rjust(len(_CIF_KEY), "0"), int(digits[-1])
    remainder = sum(int(d) * int(k) for d, k in zip(body, _CIF_KEY)) * 10 % 11
    return check == remainder % 10  # a remainder of 10 is written 0


def _valid_iban(text: str) -> bool:
    if not _IBAN.fullmatch(text) or len(text) != _IBAN_LENGTHS.get(text[:2], len(text)):
        return False
    # country and check digits moved to the end, letters as 10..35: the number is 1 mod 97
    return int("".join(str(int(c, 36)) for c in text[4:] + text[:4])) % 97 == 1


CustomerLookup = Callable[[AsyncConnection, ledger.Account], Awaitable[Customer | None]]
"""``lookup(conn, account)`` → the account's customer, in the issuing transaction."""

IssuedHook = Callable[[AsyncConnection, "Invoice"], Awaitable[None]]
"""``hook(conn, invoice)``, called in the transaction that issues the invoice."""

PaymentHook = Callable[[AsyncConnection, "RecordedPayment"], Awaitable[None]]
"""``hook(conn, recorded)``, called in the transaction that records a payment."""

PAYMENT_REFERENCE_MAX_LENGTH = 200
"""Characters of a payment's reference (free text, whitespace collapsed)."""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: EUR amounts in micro-euros, RON in micro-RON (whole bani)."""

    position: int
    kind: str
    description: str
    number_class: str | None
    month: str | None
    quantity: int
    billable_seconds: int
    included_seconds: int
    charged_seconds: int
    net_micro: int
    vat_micro: int
    net_ron_micro: int
    vat_ron_micro: int

    @property
    def total_micro(self) -> int:
        return self.net_micro + self.vat_micro

    @property
    def total_ron_micro(self) -> int:
        return self.net_ron_micro + self.vat_ron_micro


@dataclass(frozen=True, slots=True)
class InvoicedCall:
    """One call of the itemised list, as rated when the invoice was issued."""

    cdr_id: int
    start: datetime
    dialled: str
    number_class: str
    destination: str
    billsec: int
    billable_seconds: int
    included_seconds: int
    charged_seconds: int
    cost_micro: int


@dataclass(frozen=True, slots=True)
class InvoicePayment:
    """A payment recorded against an invoice (EUR)."""

    id: int
    ledger_entry_id: int
    paid_on: date
    amount_micro: int


@dataclass(frozen=True)
class RecordedPayment:
    """A payment just recorded, as the ``on_recorded`` hook sees it."""

    invoice: "Invoice"  # as it was before this payment
    payment: InvoicePayment
    reference: str  # as given, whitespace collapsed ("" when none)
    recorded_at: datetime


@dataclass(frozen=True)
class Invoice:
    """An issued invoice, as stored (see the module docstring)."""

    id: int
    series: str
    sequence: int
    account_id: int
    account_code: str
    account_kind: str
    customer_name: str
    customer_email: str | None
    language: str
    period: str
    period_first: date
    period_last: date
    issue_date: date
    due_date: date
    vat_rate: Decimal
    fx_rate: Decimal
    fx_date: date
    fx_source: str
    bundle_seconds: int
    bundle_used_seconds: int
    net_micro: int
    vat_micro: int
    total_micro: int
    net_ron_micro: int
    vat_ron_micro: int
    total_ron_micro: int
    created_at: datetime
    supplier: Supplier
    lines: tuple[InvoiceLine, ...] = ()
    calls: tuple[InvoicedCall, ...] = ()
    payments: tuple[InvoicePayment, ...] = ()

    @property
    def number(self) -> str:
        """The invoice number as printed: ``CP-000001``."""
        return format_invoice_number(self.series, self.sequence)

    @property
    def prepaid(self) -> bool:
        return self.account_kind == PREPAID

    @property
    def payable(self) -> bool:
        """Whether the invoice asks for payment (with a due date and penalties):
        a postpaid invoice of more than nothing. A prepaid statement was
        settled from the balance at issue; a total of nothing or less is
        owed by no one."""
        return not self.prepaid and self.total_micro > 0


@dataclass(frozen=True, slots=True)
class InvoiceStatus:
    """Where an invoice stands on a day (EUR; the penalty also in RON)."""

    as_of: date
    state: str
    paid_micro: int
    unpaid_micro: int
    days_late: int
    penalty_micro: int
    penalty_ron_micro: int

    @property
    def overdue(self) -> bool:
        return self.days_late > 0 and self.unpaid_micro > 0


@dataclass
class RunReport:
    """What one invoice run did."""

    period: str
    issue_date: date
    series: str
    fx: StoredRate
    vat_rate: Decimal
    issued: list[Invoice] = field(default_factory=list)
    already_invoiced: int = 0
    nothing_to_invoice: int = 0
    uningested: UningestedUsage = field(default_factory=UningestedUsage)  # what was not charged yet


# -- periods, numbers, downtime ---------------------------------------------------------


def parse_period(text: str) -> BillingPeriod:
    """Return the calendar month ``'YYYY-MM'``; raise :class:`InvalidPeriodError`."""
    match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise InvalidPeriodError(f"a billing period is a month written YYYY-MM, not {text!r}")
    return month_period(int(match.group(1)), int(match.group(2)))


def period_label(period: BillingPeriod) -> str:
    """Return ``'YYYY-MM'`` of a monthly period."""
    return period.first.strftime("%Y-%m")


def period_bounds(period: BillingPeriod) -> tuple[datetime, datetime]:
    """Return the period as instants ``[start, end)``: midnights in Europe/Bucharest."""
    end = period.last + timedelta(days=1)
    return (
        datetime(period.first.year, period.first.month, period.first.day, tzinfo=CONTRACT_TZ),
        datetime(end.year, end.month, end.day, tzinfo=CONTRACT_TZ),
    )


def format_invoice_number(series: str, sequence: int) -> str:
    """Return ``<series>-<sequence:06d>``."""
    return f"{series}-{sequence:06d}"


def parse_invoice_number(text: str, default_series: str = DEFAULT_SERIES) -> tuple[str, int]:
    """Return ``(series, sequence)`` of ``'CP-000012'``, ``'CP12'`` or ``'12'`` (default series)."""
    match = _NUMBER.fullmatch(str(text).strip())
    if match is None:
        raise UnknownInvoiceError(str(text))
    return (match.group("series") or default_series).upper(), int(match.group("number"))


def _days_ro(count: int) -> str:
    if count == 1:
        return "1 zi"
    # Romanian: "20 de zile", "5 zile"
    return f"{count} de zile" if count % 100 == 0 or count % 100 >= 20 else f"{count} zile"


def _month_name(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS_RO[int(number) - 1]} {year}"


async def record_downtime(db: Db, day: date, reason: str) -> None:
    """Record ``day`` as down through the provider's fault (service-wide); idempotent.

    Recorded again, the reason is replaced. Only periods not yet invoiced
    are affected.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise InvoiceError("a downtime day needs a reason")
    async with transaction(db) as conn:
        statement = insert_or_skip(conn, service_downtime, service_downtime.c.day).values(
            day=day, reason=reason, recorded_at=utc_now()
        )
        inserted = (await conn.execute(statement)).rowcount
        if not inserted:
            await conn.execute(
                update(service_downtime).where(service_downtime.c.day == day).values(reason=reason)
            )


async def downtime_days(db: Db, period: BillingPeriod) -> list[tuple[date, str]]:
    """Return the recorded downtime days in ``period`` with their reasons, by day."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            select(service_downtime.c.day, service_downtime.c.reason)
            .where(service_downtime.c.day >= period.first, service_downtime.c.day <= period.last)
            .order_by(service_downtime.c.day)
        )
        return [(row.day, row.reason) for row in rows]


# -- the run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    period: BillingPeriod
    label: str
    start: datetime
    end: datetime
    lookback: datetime
    issue_date: date
    series: str
    fx: StoredRate
    vat_rate: Decimal
    down_days: tuple[date, ...]
    supplier: Supplier
    customers: CustomerLookup | None
    on_issued: IssuedHook | None
    now: datetime


async def run_invoices(
    db: Db,
    period: str,
    issue_date: date | None = None,
    *,
    supplier: Supplier,
    series: str = DEFAULT_SERIES,
    max_fx_age_days: int = DEFAULT_MAX_AGE_DAYS,
    customers: CustomerLookup | None = None,
    on_issued: IssuedHook | None = None,
    account_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    allow_uningested: bool = False,
) -> RunReport:
    """Issue the invoices of ``period`` (``'YYYY-MM'``) for every account (or ``account_ids``).

    ``issue_date`` defaults to the 1st of the next month. ``supplier``, the
    issuer, is checked (:func:`checked_supplier`) and stored, normalised, on
    each invoice issued. Idempotent: an account's period is invoiced once;
    running again issues only what is missing. One transaction per account (its lock, then the series
    counter's). Raise before issuing anything when the period or issue date
    is invalid (:class:`InvalidPeriodError`, :class:`InvoiceChronologyError`),
    a supplier detail is (:class:`InvalidSupplierError`)
    or there is no valid FX rate (:class:`~billing.fx_bnr.MissingRateError`,
    :class:`~billing.fx_bnr.StaleRateError`). An error while issuing one
    account's invoice (the ``on_issued`` hook failing, or
    :class:`InvoiceConsistencyError`) rolls that invoice back — its number
    is not consumed — and ends the run; the invoices issued before it stay,
    and running again carries on.

    Usage is the calls that **started** in the period. While CDRs of the
    period are still on their way — unread in a followed CDR file, or calls
    of the period still live (:func:`billing.uningested.uningested_usage`)
    — raise :class:`UsageNotIngestedError` before issuing anything, unless
    ``allow_uningested``. Quarantined CDRs of the period do not stop the run
    (waiting will not bring them): the report's ``uningested`` counts them.
    """
    now = now or utc_now()
    billing_period = parse_period(period)
    issue = issue_date or issue_date_for(billing_period)
    if issue <= billing_period.last:
        raise InvalidPeriodError(
            f"{period} is invoiced after it ends: issue date {issue.isoformat()} is too early"
        )
    today = now.astimezone(CONTRACT_TZ).date()
    if issue > today:
        raise InvalidPeriodError(f"issue date {issue.isoformat()} is in the future (today is {today.isoformat()})")
    if not _SERIES.fullmatch(series):
        raise InvoiceError(f"a series is 1 to 16 capital letters, not {series!r}")
    supplier = checked_supplier(supplier)
    await _check_chronology(db, series, issue)
    fx = await rate_for_invoice(db, issue, max_age_days=max_fx_age_days)
    start, end = period_bounds(billing_period)
    uningested = await uningested_usage(db, start, end, now)
    if uningested.waiting and not allow_uningested:
        raise UsageNotIngestedError(period_label(billing_period), uningested)
    run = _Run(
        period=billing_period,
        label=period_label(billing_period),
        start=start,
        end=end,
        lookback=start - timedelta(days=LATE_CALL_LOOKBACK_DAYS),
        issue_date=issue,
        series=series,
        fx=fx,
        vat_rate=vat.vat_rate_on(issue),
        down_days=tuple(day for day, _ in await downtime_days(db, billing_period)),
        supplier=supplier,
        customers=customers,
        on_issued=on_issued,
        now=now,
    )
    report = RunReport(run.label, issue, series, fx, run.vat_rate, uningested=uningested)
    async with transaction(db) as conn:
        query = select(accounts.c.id).where(accounts.c.created_at < end).order_by(accounts.c.id)
        ids = list((await conn.scalars(query)).all())
        candidates = await _candidate_calls(conn, run)
    if account_ids is not None:
        wanted = set(account_ids)
        ids = [i for i in ids if i in wanted]
    for account_id in ids:
        async with transaction(db) as conn:
            outcome = await _issue_one(conn, run, account_id, candidates.get(account_id, []))
        if isinstance(outcome, Invoice):
            report.issued.append(outcome)
        elif outcome == "already":
            report.already_invoiced += 1
        else:
            report.nothing_to_invoice += 1
    return report


async def _check_chronology(db: Db, series: str, issue: date) -> None:
    async with transaction(db) as conn:
        last = await conn.scalar(
            select(invoice_counters.c.last_issue_date).where(invoice_counters.c.series == series)
        )
    _refuse_earlier(series, issue, last)


def _refuse_earlier(series: str, issue: date, last: date | None) -> None:
    if last is not None and issue < last:
        raise InvoiceChronologyError(
            f"series {series} already has an invoice issued on {last.isoformat()}: "
            f"numbers follow issue dates, so {issue.isoformat()} cannot be used"
        )


async def _candidate_calls(conn: AsyncConnection, run: _Run) -> dict[int, list[int]]:
    """Ids of the chargeable calls on no invoice yet that started in the lookback window, by account."""
    rows = await conn.execute(
        select(cdrs.c.account_id, cdrs.c.id)
        .outerjoin(invoice_calls, invoice_calls.c.cdr_id == cdrs.c.id)
        .where(
            cdrs.c.start >= run.lookback,
            cdrs.c.start < run.end,
            (cdrs.c.billable_seconds > 0) | (cdrs.c.cost_micro > 0),
            invoice_calls.c.id.is_(None),
        )
    )
    by_account: dict[int, list[int]] = defaultdict(list)
    for account_id, cdr_id in rows:
        by_account[account_id].append(cdr_id)
    return by_account


@dataclass
class _Draft:
    """A line before VAT and RON."""

    kind: str
    description: str
    net_micro: int
    quantity: int = 1
    number_class: str | None = None
    month: str | None = None
    billable_seconds: int = 0
    included_seconds: int = 0
    charged_seconds: int = 0


async def _issue_one(conn: AsyncConnection, run: _Run, account_id: int, cdr_ids: list[int]) -> Invoice | str:
    account = await ledger.locked_account(conn, account_id)
    done = await conn.scalar(
        select(invoices.c.id).where(invoices.c.account_id == account_id, invoices.c.period == run.label)
    )
    if done is not None:
        return "already"
    calls = await _uninvoiced_calls(conn, account_id, cdr_ids)
    call_ids = {call.cdr_id for call in calls}
    entries = await _uninvoiced_entries(conn, account_id, run)
    fee = recurring_fee(account.monthly_fee_micro, run.period, run.down_days)
    fee_key = f"recurring_fee:{account_id}:{run.label}"

    drafts: list[_Draft] = []
    accounted: list[Any] = []  # ledger entries this invoice accounts for
    if fee.fee_micro:
        drafts.append(_Draft(RECURRING, f"Abonament lunar — {_month_name(run.label)}", fee.fee_micro))
    if fee.credit_micro:
        drafts.append(
            _Draft(
                DOWNTIME_CREDIT,
                f"Reducere abonament: {_days_ro(fee.down_days)} de întrerupere din vina furnizorului "
                f"(din {run.period.days})",
                -fee.credit_micro,
                quantity=fee.down_days,
            )
        )
    drafts.extend(_usage_drafts(calls, run.label))

    invoiced_cdrs = await _already_invoiced(
        conn, [cdr for e in entries if (cdr := _rerated_cdr(e)) is not None and cdr not in call_ids]
    )
    sms: list[Any] = []
    corrections: list[Any] = []
    for entry in entries:
        if entry.idempotency_key == fee_key:
            continue  # this period's fee: accounted for below, once
        if entry.kind == CALL_CHARGE:
            if entry.cdr_id in call_ids:
                accounted.append(entry)
            continue
        cdr = _rerated_cdr(entry)
        if cdr is not None:
            if cdr in call_ids:
                accounted.append(entry)  # already in the call's current cost
            elif cdr in invoiced_cdrs:
                corrections.append(entry)
            continue
        if entry.created_at >= run.end:
            continue  # belongs to a later period
        if entry.kind == SMS_CHARGE:
            sms.append(entry)
        else:
            accounted.append(entry)
            label = "Ajustare" if entry.kind == ADJUSTMENT else "Alte costuri"
            reference = " ".join(entry.reference.split())
            drafts.append(_Draft(OTHER, f"{label}: {reference}" if reference else label, -entry.amount_micro))
    if sms:
        accounted.extend(sms)
        drafts.append(_Draft(SMS, "Mesaje SMS", -sum(e.amount_micro for e in sms), quantity=len(sms)))
    if corrections:
        accounted.extend(corrections)
        drafts.append(
            _Draft(
                RERATING,
                "Corecții de tarif pentru apeluri facturate anterior",
                -sum(e.amount_micro for e in corrections),
                quantity=len(corrections),
            )
        )
    if not drafts and not calls:
        return "nothing"

    lines = _priced_lines(drafts, run)
    net = sum(line.net_micro for line in lines)
    vat_total = sum(line.vat_micro for line in lines)
    sequence = await _next_number(conn, run.series, run.issue_date)
    number = format_invoice_number(run.series, sequence)

    if fee.net_micro > 0:
        accounted.append(
            await ledger.append_entry(
                conn, account_id, RECURRING_FEE, -fee.net_micro,
                reference=f"abonament {run.label}, factura {number}",
                idempotency_key=fee_key, now=run.now,
            )  # fmt: skip
        )
    if sum(entry.amount_micro for entry in accounted) != -net:
        raise InvoiceConsistencyError(
            f"account {account.code}, {run.label}: the lines total {money.format_micro(net)} EUR but "
            f"the ledger entries they account for total {money.format_micro(-sum(e.amount_micro for e in accounted))}"
        )
    if vat_total:
        accounted.append(
            await ledger.append_entry(
                conn, account_id, ADJUSTMENT, -vat_total,
                reference=f"TVA factura {number}", idempotency_key=f"invoice_vat:{number}", now=run.now,
            )  # fmt: skip
        )

    customer = await run.customers(conn, account) if run.customers is not None else None
    if customer is None:
        customer = Customer(account.code, None, account.language or "ro")
    bundle_used = sum(c.included_seconds for c in calls if _local_month(c.start) == run.label)
    invoice_id = await conn.scalar(
        insert(invoices)
        .values(
            series=run.series,
            number=sequence,
            account_id=account_id,
            account_code=account.code,
            account_kind=account.kind,
            customer_name=customer.name,
            customer_email=customer.email,
            language=customer.language,
            period=run.label,
            period_first=run.period.first,
            period_last=run.period.last,
            issue_date=run.issue_date,
            due_date=penalty.due_date(run.issue_date),
            vat_rate=format(run.vat_rate, "f"),
            fx_rate=format(run.fx.rate, "f"),
            fx_date=run.fx.day,
            fx_source=run.fx.source,
            bundle_seconds=account.included_seconds,
            bundle_used_seconds=bundle_used,
            net_micro=net,
            vat_micro=vat_total,
            total_micro=net + vat_total,
            net_ron_micro=sum(line.net_ron_micro for line in lines),
            vat_ron_micro=sum(line.vat_ron_micro for line in lines),
            total_ron_micro=sum(line.total_ron_micro for line in lines),
            created_at=run.now,
            **_supplier_values(run.supplier),
        )
        .returning(invoices.c.id)
    )
    await conn.execute(
        insert(invoice_lines), [{"invoice_id": invoice_id, **_line_values(line)} for line in lines]
    )
    if calls:
        await conn.execute(
            insert(invoice_calls), [{"invoice_id": invoice_id, **_call_values(call)} for call in calls]
        )
    if accounted:  # calls all within the bundle charge nothing: no entries
        await conn.execute(
            insert(invoice_entries),
            [{"ledger_entry_id": entry.id, "invoice_id": invoice_id} for entry in accounted],
        )
    invoice = await _load(conn, invoices.c.id == invoice_id)
    if run.on_issued is not None:
        await run.on_issued(conn, invoice)
    return invoice


async def _next_number(conn: AsyncConnection, series: str, issue: date) -> int:
    """Lock the series' counter (creating it at 0), bump it, return the new number."""
    await conn.execute(
        insert_or_skip(conn, invoice_counters, invoice_counters.c.series).values(
            series=series, last_number=0, last_issue_date=None
        )
    )
    row = (
        await conn.execute(
            select(invoice_counters.c.last_number, invoice_counters.c.last_issue_date)
            .where(invoice_counters.c.series == series)
            .with_for_update()
        )
    ).one()
    _refuse_earlier(series, issue, row.last_issue_date)
    number = row.last_number + 1
    await conn.execute(
        update(invoice_counters)
        .where(invoice_counters.c.series == series)
        .values(last_number=number, last_issue_date=max(issue, row.last_issue_date or issue))
    )
    return number


async def _uninvoiced_calls(conn: AsyncConnection, account_id: int, cdr_ids: list[int]) -> list[InvoicedCall]:
    """The account's calls among ``cdr_ids`` still on no invoice, as rated now, by start."""
    rows: list[Row[Any]] = []
    for chunk in _chunks(cdr_ids):
        rows.extend(
            (
                await conn.execute(
                    select(
                        cdrs.c.id, cdrs.c.start, cdrs.c.normalised, cdrs.c.number_class,
                        cdrs.c.destination, cdrs.c.billsec, cdrs.c.included_seconds,
                        cdrs.c.charged_seconds, cdrs.c.cost_micro,
                    )  # fmt: skip
                    .outerjoin(invoice_calls, invoice_calls.c.cdr_id == cdrs.c.id)
                    .where(cdrs.c.id.in_(chunk), cdrs.c.account_id == account_id, invoice_calls.c.id.is_(None))
                )
            ).all()
        )
    latest = await _latest_ratings(conn, [row.id for row in rows])
    calls = []
    for row in rows:
        included, charged, cost = latest.get(row.id, (row.included_seconds, row.charged_seconds, row.cost_micro))
        calls.append(
            InvoicedCall(
                row.id, row.start, row.normalised, row.number_class, row.destination, row.billsec,
                included + charged, included, charged, cost,
            )  # fmt: skip
        )
    calls.sort(key=lambda call: (call.start, call.cdr_id))
    return calls


async def _latest_ratings(conn: AsyncConnection, cdr_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(included, charged, cost) of each re-rated CDR's newest adjustment, by CDR id."""
    latest: dict[int, tuple[int, int, int]] = {}
    for chunk in _chunks(cdr_ids):
        newest = (
            select(func.max(cdr_adjustments.c.id))
            .where(cdr_adjustments.c.cdr_id.in_(chunk))
            .group_by(cdr_adjustments.c.cdr_id)
        )
        rows = await conn.execute(
            select(
                cdr_adjustments.c.cdr_id, cdr_adjustments.c.included_seconds,
                cdr_adjustments.c.charged_seconds, cdr_adjustments.c.cost_micro,
            ).where(cdr_adjustments.c.id.in_(newest))  # fmt: skip
        )
        for row in rows:
            latest[row.cdr_id] = (row.included_seconds, row.charged_seconds, row.cost_micro)
    return latest


async def _uninvoiced_entries(conn: AsyncConnection, account_id: int, run: _Run) -> list[Any]:
    """The account's charge and adjustment entries of the lookback window on no invoice yet."""
    rows = await conn.execute(
        select(
            ledger_entries.c.id, ledger_entries.c.kind, ledger_entries.c.amount_micro,
            ledger_entries.c.created_at, ledger_entries.c.reference,
            ledger_entries.c.idempotency_key, ledger_entries.c.cdr_id,
        )  # fmt: skip
        .outerjoin(invoice_entries, invoice_entries.c.ledger_entry_id == ledger_entries.c.id)
        .where(
            ledger_entries.c.account_id == account_id,
            ledger_entries.c.created_at >= run.lookback,
            ledger_entries.c.kind.in_((CALL_CHARGE, SMS_CHARGE, ADJUSTMENT, RECURRING_FEE)),
            invoice_entries.c.ledger_entry_id.is_(None),
        )
        .order_by(ledger_entries.c.id)
    )
    return list(rows)


def _rerated_cdr(entry: Any) -> int | None:
    """The CDR a re-rating adjustment is for (billing.rerating's key ``rerate:<cdr>:<version>``)."""
    if entry.kind != ADJUSTMENT or not entry.idempotency_key:
        return None
    match = _RERATE_KEY.fullmatch(entry.idempotency_key)
    return int(match.group(1)) if match else None


async def _already_invoiced(conn: AsyncConnection, cdr_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(cdr_ids):
        found.update(
            (await conn.scalars(select(invoice_calls.c.cdr_id).where(invoice_calls.c.cdr_id.in_(chunk)))).all()
        )
    return found


def _usage_drafts(calls: Sequence[InvoicedCall], label: str) -> list[_Draft]:
    """One line per (month, destination class): the period's month first, classes in plan order."""
    groups: dict[tuple[str, str], list[InvoicedCall]] = defaultdict(list)
    for call in calls:
        groups[(_local_month(call.start), call.number_class)].append(call)
    order = {cls: i for i, cls in enumerate(NUMBER_CLASSES)}
    drafts = []
    for month, cls in sorted(groups, key=lambda k: (k[0] != label, k[0], order.get(k[1], len(order)), k[1])):
        group = groups[(month, cls)]
        description = CLASS_LABELS_RO.get(cls, cls)
        if month != label:
            description += f" — apeluri din {_month_name(month)}, raportate după facturarea lunii"
        drafts.append(
            _Draft(
                USAGE,
                description,
                sum(c.cost_micro for c in group),
                quantity=len(group),
                number_class=cls,
                month=month,
                billable_seconds=sum(c.billable_seconds for c in group),
                included_seconds=sum(c.included_seconds for c in group),
                charged_seconds=sum(c.charged_seconds for c in group),
            )
        )
    return drafts


def _priced_lines(drafts: Sequence[_Draft], run: _Run) -> list[InvoiceLine]:
    """Number the lines; add VAT (EUR per line) and RON (per line, whole bani)."""
    lines = []
    for position, d in enumerate(drafts, start=1):
        net_ron = ron_micro(d.net_micro, run.fx.rate)
        lines.append(
            InvoiceLine(
                position, d.kind, d.description, d.number_class, d.month, d.quantity,
                d.billable_seconds, d.included_seconds, d.charged_seconds,
                d.net_micro, money.multiply_micro(d.net_micro, run.vat_rate),
                net_ron, _ron_vat_micro(net_ron, run.vat_rate),
            )  # fmt: skip
        )
    return lines


def ron_micro(eur_micro: int, rate: Decimal) -> int:
    """Return ``eur_micro`` in micro-RON at ``rate`` (RON per EUR), rounded half-up once to the ban."""
    # rate × 10⁻⁴ turns micro-euros into bani: money rounds once, to the ban
    return money.convert_micro(eur_micro, rate.scaleb(-4)) * RON_PER_BAN_MICRO


def _ron_vat_micro(net_ron_micro: int, rate: Decimal) -> int:
    # net is whole bani: VAT in bani, rounded half-up once
    return money.multiply_micro(net_ron_micro // RON_PER_BAN_MICRO, rate) * RON_PER_BAN_MICRO


def _local_month(instant: datetime) -> str:
    return instant.astimezone(CONTRACT_TZ).strftime("%Y-%m")


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _ID_CHUNK):
        yield ids[i : i + _ID_CHUNK]


_LINE_FIELDS = tuple(f.name for f in fields(InvoiceLine))
_CALL_FIELDS = tuple(f.name for f in fields(InvoicedCall))
_PAYMENT_FIELDS = tuple(f.name for f in fields(InvoicePayment))
_SUPPLIER_FIELDS = tuple(f.name for f in fields(Supplier))


def _line_values(line: InvoiceLine) -> dict[str, Any]:
    return {name: getattr(line, name) for name in _LINE_FIELDS}


def _call_values(call: InvoicedCall) -> dict[str, Any]:
    return {name: getattr(call, name) for name in _CALL_FIELDS}


def _supplier_values(supplier: Supplier) -> dict[str, str]:
    """The ``invoices.supplier_*`` columns."""
    return {f"supplier_{name}": getattr(supplier, name) for name in _SUPPLIER_FIELDS}


# -- reading invoices --------------------------------------------------------------------


async def get_invoice(db: Db, number: str | int, *, default_series: str = DEFAULT_SERIES) -> Invoice:
    """Return the invoice ``number`` (``'CP-000012'``, or ``12`` in the default series)
    with its lines, calls and payments; raise :class:`UnknownInvoiceError`."""
    series, sequence = parse_invoice_number(str(number), default_series)
    async with transaction(db) as conn:
        try:
            return await _load(conn, (invoices.c.series == series) & (invoices.c.number == sequence))
        except LookupError:
            raise UnknownInvoiceError(format_invoice_number(series, sequence)) from None


async def list_invoices(
    db: Db, *, period: str | None = None, account_id: int | None = None
) -> list[Invoice]:
    """Return invoices (without their calls), by series and number."""
    conditions = []
    if period is not None:
        conditions.append(invoices.c.period == period_label(parse_period(period)))
    if account_id is not None:
        conditions.append(invoices.c.account_id == account_id)
    async with transaction(db) as conn:
        ids = (
            await conn.scalars(select(invoices.c.id).where(*conditions).order_by(invoices.c.series, invoices.c.number))
        ).all()
        return [await _load(conn, invoices.c.id == i, with_calls=False) for i in ids]


async def _load(conn: AsyncConnection, where: Any, *, with_calls: bool = True) -> Invoice:
    row = (await conn.execute(select(invoices).where(where))).first()
    if row is None:
        raise LookupError("no such invoice")
    line_rows = await conn.execute(
        select(*[invoice_lines.c[name] for name in _LINE_FIELDS])
        .where(invoice_lines.c.invoice_id == row.id)
        .order_by(invoice_lines.c.position)
    )
    calls: tuple[InvoicedCall, ...] = ()
    if with_calls:
        call_rows = await conn.execute(
            select(*[invoice_calls.c[name] for name in _CALL_FIELDS])
            .where(invoice_calls.c.invoice_id == row.id)
            .order_by(invoice_calls.c.start, invoice_calls.c.cdr_id)
        )
        calls = tuple(InvoicedCall(*r) for r in call_rows)
    payment_rows = await conn.execute(
        select(
            invoice_payments.c.id, invoice_payments.c.ledger_entry_id,
            invoice_payments.c.paid_on, invoice_payments.c.amount_micro,
        )  # fmt: skip
        .where(invoice_payments.c.invoice_id == row.id)
        .order_by(invoice_payments.c.paid_on, invoice_payments.c.id)
    )
    values = dict(row._mapping)
    return Invoice(
        id=values["id"],
        series=values["series"],
        sequence=values["number"],
        account_id=values["account_id"],
        account_code=values["account_code"],
        account_kind=values["account_kind"],
        customer_name=values["customer_name"],
        customer_email=values["customer_email"],
        language=values["language"],
        period=values["period"],
        period_first=values["period_first"],
        period_last=values["period_last"],
        issue_date=values["issue_date"],
        due_date=values["due_date"],
        vat_rate=Decimal(values["vat_rate"]),
        fx_rate=Decimal(values["fx_rate"]),
        fx_date=values["fx_date"],
        fx_source=values["fx_source"],
        bundle_seconds=values["bundle_seconds"],
        bundle_used_seconds=values["bundle_used_seconds"],
        net_micro=values["net_micro"],
        vat_micro=values["vat_micro"],
        total_micro=values["total_micro"],
        net_ron_micro=values["net_ron_micro"],
        vat_ron_micro=values["vat_ron_micro"],
        total_ron_micro=values["total_ron_micro"],
        created_at=values["created_at"],
        supplier=Supplier(**{name: values[f"supplier_{name}"] for name in _SUPPLIER_FIELDS}),
        lines=tuple(InvoiceLine(*r) for r in line_rows),
        calls=calls,
        payments=tuple(InvoicePayment(*r) for r in payment_rows),
    )


# -- payments, status, penalty -------------------------------------------------------------


async def add_invoice_payment(
    db: Db,
    number: str | int,
    amount_micro: int,
    *,
    paid_on: date,
    reference: str = "",
    idempotency_key: str | None = None,
    default_series: str = DEFAULT_SERIES,
    on_recorded: PaymentHook | None = None,
    now: datetime | None = None,
) -> InvoicePayment:
    """Record a payment of ``amount_micro`` EUR made on ``paid_on`` against invoice ``number``.

    Writes a ledger ``payment`` entry (reference ``factura <number>``, then
    ``reference``: free text of at most :data:`PAYMENT_REFERENCE_MAX_LENGTH`
    characters) linked to the invoice, and calls ``on_recorded`` in the same
    transaction (the composition root queues the confirmation email there:
    it exists if and only if the payment does). With an ``idempotency_key``
    already used, return that payment (the hook is not called again). Raise
    :class:`UnknownInvoiceError`, or :class:`InvoicePaymentError` for a
    prepaid invoice (settled from the balance), a day before the issue
    date, more than is unpaid, or a reference too long or with control
    characters.
    """
    ledger.require_micro("amount_micro", amount_micro, minimum=1)
    reference = _payment_reference(reference)
    series, sequence = parse_invoice_number(str(number), default_series)
    printed = format_invoice_number(series, sequence)
    async with transaction(db) as conn:
        account_id = await conn.scalar(
            select(invoices.c.account_id).where(invoices.c.series == series, invoices.c.number == sequence)
        )
        if account_id is None:
            raise UnknownInvoiceError(printed)
        await ledger.locked_account(conn, account_id)  # payments of one account, one at a time
        invoice = await _load(conn, (invoices.c.series == series) & (invoices.c.number == sequence), with_calls=False)
        if idempotency_key is not None:
            existing = (
                await conn.execute(
                    select(
                        invoice_payments.c.id, invoice_payments.c.ledger_entry_id,
                        invoice_payments.c.paid_on, invoice_payments.c.amount_micro,
                    )  # fmt: skip
                    .join(ledger_entries, ledger_entries.c.id == invoice_payments.c.ledger_entry_id)
                    .where(ledger_entries.c.idempotency_key == idempotency_key)
                )
            ).first()
            if existing is not None:
                return InvoicePayment(*existing)
        if invoice.prepaid:
            raise InvoicePaymentError(f"{printed} is a prepaid statement, settled from the balance")
        if paid_on < invoice.issue_date:
            raise InvoicePaymentError(
                f"{printed} was issued on {invoice.issue_date.isoformat()}: a payment cannot be dated before"
            )
        unpaid = invoice.total_micro - sum(p.amount_micro for p in invoice.payments)
        if amount_micro > unpaid:
            raise InvoicePaymentError(
                f"{money.format_micro(amount_micro)} EUR is more than the {money.format_micro(max(unpaid, 0))} "
                f"EUR left unpaid on {printed}"
            )
        text = f"factura {printed}" + (f" — {reference}" if reference else "")
        now = now or utc_now()
        entry = await ledger.append_entry(
            conn, account_id, PAYMENT, amount_micro, reference=text, idempotency_key=idempotency_key, now=now
        )
        payment_id = await conn.scalar(
            insert(invoice_payments)
            .values(
                invoice_id=invoice.id,
                ledger_entry_id=entry.id,
                paid_on=paid_on,
                amount_micro=amount_micro,
                created_at=now,
            )
            .returning(invoice_payments.c.id)
        )
        payment = InvoicePayment(payment_id, entry.id, paid_on, amount_micro)
        if on_recorded is not None:
            await on_recorded(conn, RecordedPayment(invoice, payment, reference, now))
    return payment


def _payment_reference(reference: str) -> str:
    """The reference with its whitespace collapsed; refused (naming it) when too long or with control characters."""
    text = " ".join(reference.split())
    if len(text) > PAYMENT_REFERENCE_MAX_LENGTH:
        raise InvoicePaymentError(
            f"reference: at most {PAYMENT_REFERENCE_MAX_LENGTH} characters, not {len(text)}"
        )
    if not text.isprintable():
        raise InvoicePaymentError("reference: printable text only, no control characters")
    return text


def status_as_of(invoice: Invoice, as_of: date) -> InvoiceStatus:
    """Return where ``invoice`` stands on ``as_of``: paid or not, days late, penalty.

    Payments count from the day they were made. Prepaid invoices are
    settled from the balance at issue: paid, no penalty.
    """
    if not invoice.payable:
        return InvoiceStatus(as_of, PAID, max(invoice.total_micro, 0), 0, 0, 0, 0)
    payments = [(p.paid_on, p.amount_micro) for p in invoice.payments if p.paid_on <= as_of]
    paid = sum(amount for _, amount in payments)
    unpaid = max(0, invoice.total_micro - paid)
    state = PAID if unpaid == 0 else PARTIALLY_PAID if paid else UNPAID
    due = invoice.due_date
    accrued = penalty.accrued_penalty_micro(invoice.total_micro, due, payments, as_of)
    cap = penalty.unpaid_on_due_micro(invoice.total_micro, due, payments)
    late = penalty.days_late(due, as_of) if unpaid else 0
    # art. 7.7, capped in RON (what the invoice is payable in): the RON principal
    # is the sum of the lines each rounded to the ban, which the EUR cap
    # converted in one step can exceed by a ban
    paid_by_due = invoice.total_micro - cap
    cap_ron = max(0, invoice.total_ron_micro - ron_micro(paid_by_due, invoice.fx_rate)) if cap else 0
    accrued_ron = min(ron_micro(accrued, invoice.fx_rate), cap_ron)
    return InvoiceStatus(as_of, state, paid, unpaid, late, min(accrued, cap), accrued_ron)


def penalty_as_of(invoice: Invoice, as_of: date) -> int:
    """Return the late-payment penalty (micro-euros) accrued on ``invoice`` by ``as_of``.

    0.1 % per day after the due date on what was unpaid each day, never more
    than what was unpaid on the due date (:mod:`billing.penalty`).
    """
    return status_as_of(invoice, as_of).penalty_micro


# -- HTML and JSON ----------------------------------------------------------------------------


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
        month_name=_month_name,
    )
    return env


def render_invoice_html(invoice: Invoice, *, as_of: date | None = None) -> str:
    """Return the invoice as a standalone HTML document (Romanian, autoescaped).

    With ``as_of``, it also shows the payment status and penalty on that day.
    """
    status = status_as_of(invoice, as_of) if as_of is not None else None
    return _environment().get_template("invoice.html.j2").render(
        invoice=invoice,
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
        "series": invoice.series,
        "sequence": invoice.sequence,
        "account": {"id": invoice.account_id, "code": invoice.account_code, "kind": invoice.account_kind},
        "supplier": {name: getattr(invoice.supplier, name) for name in _SUPPLIER_FIELDS},
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
