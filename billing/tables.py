"""The tables billing owns.

Accounts, the ledger (the only source of truth for money: a balance is the
SUM of an account's entries, never a stored column), reservations of credit
for live calls, ingested CDRs and what could not be ingested (quarantine),
tailing offsets, the included-seconds counter of each account's month,
versioned tariffs, versioned service plans (a subscription's fee, set-up fee
and included minutes), accounts' subscriptions to them, re-rating
adjustments and accounts' suspensions with their cause (0017). 0018 added
the ledger kind ``one_off_fee``, the account status ``inactive`` and plans'
set-up fees; invoicing owns the one-off charges.

Money columns are ``BigInteger`` micro-euros (``*_micro``); tariff prices are
kept as their decimal text, exactly as imported (SQLite has no exact
decimal type). Schema changes go through a migration in
controlplane/migrations/versions; a test checks the migrated schema matches
what is declared here.
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

from billing.accounts import ACCOUNT_KINDS, ACCOUNT_STATUSES, ACTIVE, DEFAULT_TARIFF
from billing.suspension_causes import CAUSE_NAMES, MAX_NOTE_CHARS
from sqlbase import UtcDateTime
from sqlbase.columns import created_at
from sqlbase.naming import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

TOPUP, PAYMENT, ADJUSTMENT = "topup", "payment", "adjustment"
CALL_CHARGE, SMS_CHARGE, RECURRING_FEE = "call_charge", "sms_charge", "recurring_fee"
ONE_OFF_FEE = "one_off_fee"
"""A one-off charge (set-up, equipment...), written as its one-off invoice is issued (0018)."""
LEDGER_KINDS = (TOPUP, PAYMENT, ADJUSTMENT, CALL_CHARGE, SMS_CHARGE, RECURRING_FEE, ONE_OFF_FEE)
USAGE_KINDS = (CALL_CHARGE, SMS_CHARGE)
"""Ledger kinds that are usage: what the daily limit counts as spend."""

LIVE, SETTLED, RELEASED = "live", "settled", "released"
RESERVATION_STATES = (LIVE, SETTLED, RELEASED)

CHARGED, ALREADY_CHARGED = "charged", "already_charged"
QUARANTINE_RESOLUTIONS = (CHARGED, ALREADY_CHARGED)
"""How a quarantined line was resolved: charged by its re-processing, or found
already charged (its CDR had been ingested since, e.g. from its file again)."""


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


def _micro(name: str, nullable: bool = False, default: int | None = 0) -> Column[int]:
    return Column(
        name,
        BigInteger,
        nullable=nullable,
        default=default,
        server_default=None if default is None else str(default),
    )


accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    # the Asterisk accountcode set on the subscriber's endpoints
    Column("code", String(80), nullable=False, unique=True),
    # provisioning's subscriber; no foreign key across packages
    Column("subscriber_id", Integer, nullable=True, index=True),
    Column("kind", String(16), nullable=False),
    _micro("credit_limit_micro"),
    _micro("daily_limit_micro", nullable=True, default=None),
    Column("status", String(16), nullable=False, default=ACTIVE, server_default=ACTIVE),
    _micro("monthly_fee_micro"),
    Column("included_seconds", Integer, nullable=False, default=0, server_default="0"),
    Column(
        "tariff", String(64), nullable=False, default=DEFAULT_TARIFF, server_default=DEFAULT_TARIFF
    ),
    Column("language", String(8), nullable=True),
    created_at(),
    _one_of("kind", ACCOUNT_KINDS, "kind"),
    _one_of("status", ACCOUNT_STATUSES, "status"),
    CheckConstraint(
        "credit_limit_micro >= 0 AND monthly_fee_micro >= 0 AND included_seconds >= 0"
        " AND (daily_limit_micro IS NULL OR daily_limit_micro >= 0)",
        name="non_negative",
    ),
)


def _versions_table(name: str, *items: Column | CheckConstraint) -> Table:
    """A table of plan versions: a plan's name and version label (unique
    together), then ``items``, then when the version was imported and when
    a later import starting at the same time corrected it (superseded
    versions are kept: what was rated or subscribed under them points at them)."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("plan", String(64), nullable=False),
        Column("version", String(64), nullable=False),
        *items,
        created_at("imported_at"),
        Column("superseded_at", UtcDateTime(), nullable=True),
        UniqueConstraint("plan", "version"),
    )


tariff_versions = _versions_table(
    "tariff_versions",
    Column("effective_from", UtcDateTime(), nullable=False),
    Column("effective_to", UtcDateTime(), nullable=True),
)

tariff_rates = Table(
    "tariff_rates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "version_id",
        Integer,
        ForeignKey("tariff_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("service", String(8), nullable=False),
    Column("destination", String(32), nullable=False),
    # decimal text as imported: exact, and exported back unchanged
    Column("price_eur", String(40), nullable=False),
    Column("first_block", Integer, nullable=False),
    Column("increment", Integer, nullable=False),
    Column("connect_fee_eur", String(40), nullable=False),
    Column("description", Text, nullable=False, default="", server_default=""),
    UniqueConstraint("version_id", "service", "destination"),
)

# One version of a service plan (billing.service_plans); an account's
# subscription will name the version it is on by its id.
service_plan_versions = _versions_table(
    "service_plan_versions",
    # days, 00:00 Europe/Bucharest; effective_to exclusive, NULL open-ended
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date, nullable=True),
    _micro("monthly_fee_micro", default=None),
    # the tariff plan (tariff_versions.plan) calls are rated with
    Column("tariff", String(64), nullable=False),
    Column("description", String(200), nullable=False, default="", server_default=""),
    # charged once when an account starts on the plan (0018); NULL: none
    _micro("setup_fee_micro", nullable=True, default=None),
    CheckConstraint("monthly_fee_micro >= 0", name="non_negative_fee"),
    CheckConstraint("effective_to IS NULL OR effective_to > effective_from", name="valid_dates"),
)

service_plan_allowances = Table(
    "service_plan_allowances",
    metadata,
    # The minutes a service plan version includes each month for one
    # destination group (billing.service_plans.DESTINATION_GROUPS).
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("service_plan_versions.id", ondelete="CASCADE"), nullable=False),
    Column("destination_group", String(16), nullable=False),
    Column("included_minutes", Integer, nullable=False),
    UniqueConstraint("version_id", "destination_group"),
    CheckConstraint("included_minutes > 0", name="positive_minutes"),
)

account_service_plans = Table(
    "account_service_plans",
    metadata,
    # An account's subscriptions (billing.subscriptions): the service plan
    # (service_plan_versions.plan) it is on from from_day until the day
    # before until_day (exclusive; NULL: still on it). The version in force
    # on each day is the plan's, so a plan's new version applies by itself.
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("plan", String(64), nullable=False),
    Column("from_day", Date, nullable=False),
    Column("until_day", Date, nullable=True),
    created_at(),
    CheckConstraint("until_day IS NULL OR until_day > from_day", name="valid_days"),
)

account_suspensions = Table(
    "account_suspensions",
    metadata,
    # One stretch of an account's suspension (billing.suspensions): why
    # (billing.suspension_causes), from started_at until ended_at (NULL while
    # it lasts). At most one open stretch per account (the partial index);
    # the account's status says suspended while one is open.
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("cause", String(32), nullable=False),
    Column("note", String(MAX_NOTE_CHARS), nullable=False, default="", server_default=""),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    _one_of("cause", CAUSE_NAMES, "cause"),
    CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="valid_times"),
    Index(None, "account_id", "started_at"),
    Index(
        "uq_account_suspensions_open_account_id", "account_id", unique=True,
        sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL"),
    ),  # fmt: skip
)

cdrs = Table(
    "cdrs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_name", String(64), nullable=False),
    Column("uniqueid", String(150), nullable=False),
    Column("linkedid", String(150), nullable=False, default="", server_default=""),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("account_code", Text, nullable=False),
    Column("dialled", Text, nullable=False),
    Column("normalised", Text, nullable=False),
    Column("number_class", String(16), nullable=False),
    Column("destination", String(32), nullable=False),  # the key of the rate used
    Column("disposition", String(16), nullable=False),
    Column("start", UtcDateTime(), nullable=False),
    Column("billsec", Integer, nullable=False),
    Column("billable_seconds", Integer, nullable=False),
    Column("included_seconds", Integer, nullable=False),
    Column("charged_seconds", Integer, nullable=False),
    _micro("cost_micro", default=None),
    Column("tariff_version_id", Integer, ForeignKey("tariff_versions.id"), nullable=True),
    created_at("rated_at"),
    # the idempotency key of ingestion: one row per CDR, ever
    UniqueConstraint("system_name", "uniqueid"),
    # Periods (re-rating, invoicing) are ranges of start; CDRs arrive roughly
    # in start order, so this index is appended to. (An (account, start)
    # index would cost a scattered write per CDR, a third of the insert.)
    Index(None, "start"),
    # An account's calls newest first (the API's call list, keyset on id):
    # without it, an account with few calls among many read the whole table
    # (bench_admin_http: 160 ms for an account without calls among 1M CDRs).
    Index(None, "account_id", "id"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    # signed: + credits the account (top-up, payment), - debits it (charges)
    _micro("amount_micro", default=None),
    created_at(),
    Column("reference", Text, nullable=False, default="", server_default=""),
    # set when a retry must not write the entry twice (NULLs never collide)
    Column("idempotency_key", String(200), nullable=True, unique=True),
    # the CDR a call charge is for: at most one charge per CDR, ever
    Column("cdr_id", Integer, ForeignKey("cdrs.id"), nullable=True, unique=True),
    _one_of("kind", LEDGER_KINDS, "kind"),
    # covering: an account's balance (SUM by account) and today's usage (by
    # account, day and kind) are read from the index alone, not ~10,000 rows
    Index(None, "account_id", "created_at", "kind", "amount_micro"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    _micro("amount_micro", default=None),
    Column("state", String(16), nullable=False, default=LIVE, server_default=LIVE),
    # the call's uniqueid (or linkedid): how ingestion finds it to settle
    Column("call_reference", String(150), nullable=False, index=True),
    created_at(),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    _micro("settled_micro", nullable=True, default=None),
    # what settled it: "reservation:<id>" (its own charge) or
    # "cdr:<system>:<uniqueid>" (the charge of that CDR); NULL if it cost 0
    Column("settled_by", String(200), nullable=True),
    _one_of("state", RESERVATION_STATES, "state"),
    CheckConstraint("amount_micro > 0", name="positive_amount"),
    # an account's live, unexpired reservations: summed by every credit check
    Index(None, "account_id", "state", "expires_at"),
    Index(None, "state", "expires_at"),
)

bundle_usage = Table(
    "bundle_usage",
    metadata,
    # Included seconds used per account, contract month ('YYYY-MM',
    # Europe/Bucharest) and destination group (billing.included_minutes; 0016):
    # a counter kept in the same transaction as the CDRs, equal to the sum of
    # their current included seconds (a test holds it).
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("month", String(7), nullable=False),
    Column("destination_group", String(16), nullable=False, server_default="national"),
    Column("used_seconds", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "month", "destination_group"),
)

cdr_quarantine = Table(
    "cdr_quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    # sha256 of what identifies the line, so ingesting a file twice adds nothing
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("file", Text, nullable=False),
    Column("line_number", Integer, nullable=False),
    # at most the line's first 1,024 characters (billing.cdr_format.RAW_PREFIX_CHARS);
    # the whole line is identified by its SHA-256 and length in bytes, newline included
    Column("raw", Text, nullable=False),
    Column("raw_sha256", String(64), nullable=True),
    Column("raw_length", BigInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("system_name", String(64), nullable=False),
    Column("uniqueid", String(150), nullable=True),
    Column("account_code", Text, nullable=True),
    # the call's start when the line could be parsed: its billing period
    Column("start", UtcDateTime(), nullable=True, index=True),
    created_at(),
    # Re-processing (billing.reprocessing) marks a row, never deletes it:
    # when the line was last tried again, and once charged, how and the CDR.
    Column("retried_at", UtcDateTime(), nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("cdr_id", Integer, ForeignKey("cdrs.id"), nullable=True),
    CheckConstraint(
        "resolution IS NULL OR resolution IN ("
        + ", ".join(f"'{v}'" for v in QUARANTINE_RESOLUTIONS) + ")",
        name="resolution",
    ),
)

ingest_offsets = Table(
    "ingest_offsets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_name", String(64), nullable=False),
    Column("path", Text, nullable=False),
    # identity of the file being followed at that path
    Column("device", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),
    Column("first_line_sha256", String(64), nullable=True),
    Column("byte_offset", BigInteger, nullable=False),
    Column("line_number", BigInteger, nullable=False),
    created_at("updated_at"),
    UniqueConstraint("system_name", "path"),
)

cdr_adjustments = Table(
    "cdr_adjustments",
    metadata,
    # A CDR re-rated under a tariff version; the cdrs row keeps its original cost.
    Column("id", Integer, primary_key=True),
    Column("cdr_id", Integer, ForeignKey("cdrs.id"), nullable=False),
    Column("tariff_version_id", Integer, ForeignKey("tariff_versions.id"), nullable=False),
    Column("included_seconds", Integer, nullable=False),
    Column("charged_seconds", Integer, nullable=False),
    _micro("cost_micro", default=None),
    _micro("delta_micro", default=None),
    created_at(),
    UniqueConstraint("cdr_id", "tariff_version_id"),
)
