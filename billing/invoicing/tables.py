"""The tables invoicing owns: BNR rates, downtime days, invoices and what they hold.

* ``fx_rates`` — a cache of BNR reference rates (RON per ONE unit, exact
  decimal text) and the operator's manual overrides; for one day and
  currency a ``manual`` row wins over a ``bnr`` row.
* ``service_downtime`` — days the service was down through the provider's
  fault (service-wide); each reduces every account's recurring fee of that
  month pro rata.
* ``invoice_counters`` — one row per invoice series: the last number issued,
  locked and bumped in the transaction that issues the invoice, so a number
  exists only if its invoice committed (gapless), and the last issue date
  (numbers follow issue dates).
* ``invoices`` / ``invoice_lines`` / ``invoice_calls`` — an issued invoice,
  stored once and never updated: totals, the VAT rate and FX rate used,
  snapshots of the customer and of the supplier (``supplier_*``: the
  operator's details as printed, frozen at issue; invoices issued before
  0007 have the name ``ClickPhone`` and empty details), its lines and the
  itemised call list.
  ``invoice_calls.cdr_id`` is unique: a call is on one invoice, ever.
* ``invoice_entries`` — which ledger entries an invoice accounts for
  (``ledger_entry_id`` is the key: an entry is invoiced once, ever).
* ``invoice_payments`` — payments recorded against an invoice, with the day
  they were made (the ledger ``payment`` entry they wrote is linked), the
  currency and amount received, the BNR rate an EUR payment converted at,
  and its value in RON (0014; earlier payments were EUR).
* ``one_off_charges`` — what an account is charged once (a plan's set-up
  fee, equipment, other: :mod:`billing.invoicing.one_off`), on no invoice
  until its one-off invoice links it (0018).
* ``exchange_differences`` — for a payment in lei made after its invoice's
  due date, the difference between the BNR rates of the due date and of the
  payment's day on what it paid (contract art. 7.7 ii), and the invoice it
  was put on (none yet: the account's next invoice takes it, once).

Money columns are ``BigInteger`` micro-units: ``*_micro`` micro-euros,
``*_ron_micro`` micro-RON (always whole bani on an invoice). Rates are
decimal text. Schema changes go through a migration in
controlplane/migrations/versions (0005 created these; 0007 added the
supplier columns).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from billing.tables import accounts, cdrs, ledger_entries
from sqlbase import UtcDateTime
from sqlbase.columns import created_at
from sqlbase.naming import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

BNR, MANUAL = "bnr", "manual"
FX_SOURCES = (BNR, MANUAL)


def _micro(name: str) -> Column:  # type: ignore[type-arg]
    return Column(name, BigInteger, nullable=False)


def _supplier(name: str, default: str = "") -> Column:  # type: ignore[type-arg]
    # the server default fills the invoices issued before the column existed
    return Column(f"supplier_{name}", Text, nullable=False, server_default=default)


fx_rates = Table(
    "fx_rates",
    metadata,
    Column("day", Date, nullable=False),  # BNR's publication date (Cube date)
    Column("currency", String(3), nullable=False),
    Column("source", String(8), nullable=False),
    # RON per ONE unit (BNR's multiplier already divided out), exact decimal text
    Column("ron_per_unit", String(40), nullable=False),
    created_at("recorded_at"),
    PrimaryKeyConstraint("day", "currency", "source"),
    CheckConstraint("source IN ('bnr', 'manual')", name="source"),
)

service_downtime = Table(
    "service_downtime",
    metadata,
    Column("day", Date, primary_key=True),
    Column("reason", Text, nullable=False),
    created_at("recorded_at"),
)

invoice_counters = Table(
    "invoice_counters",
    metadata,
    Column("series", String(16), primary_key=True),
    Column("last_number", Integer, nullable=False),
    Column("last_issue_date", Date, nullable=True),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("series", String(16), nullable=False),
    Column("number", Integer, nullable=False),
    Column("account_id", Integer, ForeignKey(accounts.c.id), nullable=False),
    # snapshots at issue: an invoice never changes when the account does
    Column("account_code", String(80), nullable=False),
    Column("account_kind", String(16), nullable=False),
    Column("kind", String(16), nullable=False, server_default="monthly"),  # 0015
    Column("customer_name", Text, nullable=False),
    Column("customer_email", Text, nullable=True),
    Column("language", String(8), nullable=False),
    Column("period", String(7), nullable=False),  # 'YYYY-MM'
    Column("period_first", Date, nullable=False),
    Column("period_last", Date, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("vat_rate", String(16), nullable=False),  # fraction, e.g. '0.21'
    Column("fx_rate", String(40), nullable=False),  # RON per 1 EUR
    Column("fx_date", Date, nullable=False),  # the BNR publication used
    Column("fx_source", String(8), nullable=False),
    Column("bundle_seconds", Integer, nullable=False),  # included seconds of the period
    Column("bundle_used_seconds", Integer, nullable=False),
    _micro("net_micro"),
    _micro("vat_micro"),
    _micro("total_micro"),
    _micro("net_ron_micro"),
    _micro("vat_ron_micro"),
    _micro("total_ron_micro"),
    created_at(),
    _supplier("name", "ClickPhone"),  # what every invoice printed before 0007
    _supplier("vat_id"),  # CIF
    _supplier("registration"),  # Nr. Reg. Com.
    _supplier("address"),
    _supplier("iban"),
    _supplier("bank"),
    UniqueConstraint("series", "number"),
    CheckConstraint("kind IN ('monthly', 'interim', 'one_off')", name="kind"),
    # an account's month has one monthly invoice, whatever the series (0015)
    Index(
        "uq_invoices_monthly_account_period", "account_id", "period", unique=True,
        sqlite_where=text("kind = 'monthly'"), postgresql_where=text("kind = 'monthly'"),
    ),  # fmt: skip
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("description", Text, nullable=False),
    Column("number_class", String(16), nullable=True),
    Column("month", String(7), nullable=True),  # usage lines: the calls' month
    Column("quantity", Integer, nullable=False),  # calls, messages, days...
    Column("billable_seconds", BigInteger, nullable=False),
    Column("included_seconds", BigInteger, nullable=False),
    Column("charged_seconds", BigInteger, nullable=False),
    _micro("net_micro"),
    _micro("vat_micro"),
    _micro("net_ron_micro"),
    _micro("vat_ron_micro"),
    UniqueConstraint("invoice_id", "position"),
)

invoice_calls = Table(
    "invoice_calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("cdr_id", Integer, ForeignKey(cdrs.c.id), nullable=False, unique=True),
    Column("start", UtcDateTime(), nullable=False),
    Column("dialled", Text, nullable=False),  # normalised
    Column("number_class", String(16), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("billsec", Integer, nullable=False),
    Column("billable_seconds", Integer, nullable=False),
    Column("included_seconds", Integer, nullable=False),
    Column("charged_seconds", Integer, nullable=False),
    _micro("cost_micro"),  # as rated now (the latest re-rating, if any)
    Index(None, "invoice_id"),
)

invoice_entries = Table(
    "invoice_entries",
    metadata,
    Column("ledger_entry_id", Integer, ForeignKey(ledger_entries.c.id), primary_key=True, autoincrement=False),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Index(None, "invoice_id"),
)

invoice_payments = Table(
    "invoice_payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("ledger_entry_id", Integer, ForeignKey(ledger_entries.c.id), nullable=False, unique=True),
    Column("paid_on", Date, nullable=False),
    _micro("amount_micro"),  # the EUR share of the invoice it settles (the ledger's unit)
    Column("currency", String(3), nullable=False, server_default="EUR"),  # as received (0014)
    _micro("received_micro"),  # in ``currency``, exactly as received
    Column("fx_rate", String(40), nullable=True),  # RON per 1 EUR an EUR payment converted at
    _micro("ron_micro"),  # its value in RON against the invoice
    created_at(),
    CheckConstraint("amount_micro > 0", name="positive_amount"),
    CheckConstraint("currency IN ('RON', 'EUR')", name="payment_currency"),
    CheckConstraint("received_micro > 0", name="positive_received"),
    Index(None, "invoice_id"),
)

exchange_differences = Table(
    "exchange_differences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey(accounts.c.id), nullable=False),
    Column("invoice_payment_id", Integer, ForeignKey("invoice_payments.id"), nullable=False, unique=True),
    Column("due_rate", String(40), nullable=False),  # RON per 1 EUR valid on the invoice's due date
    Column("paid_rate", String(40), nullable=False),  # ... and on the day it was paid
    Column("amount_ron_micro", BigInteger, nullable=False),  # signed: the leu fell (+) or rose (−)
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=True),  # the invoice it went on
    created_at(),
    CheckConstraint("amount_ron_micro <> 0", name="nonzero_amount"),
    Index(None, "account_id"),
)

one_off_charges = Table(
    "one_off_charges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey(accounts.c.id), nullable=False),
    Column("description", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    _micro("unit_price_micro"),  # micro-euros, excl. VAT
    created_at(),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=True),  # its one-off invoice
    CheckConstraint("quantity >= 1 AND quantity <= 1000", name="quantity"),
    CheckConstraint("unit_price_micro > 0 AND unit_price_micro <= 100000000000", name="unit_price"),
    Index(None, "account_id", "invoice_id"),
)
