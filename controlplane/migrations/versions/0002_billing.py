"""billing: accounts, ledger, reservations, CDRs, quarantine, offsets, tariffs

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-25

The contract's Annex B tariff is not seeded here: billing.tariff_store stores
it on first use, from the packaged CSV of the code that runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("credit_limit_micro", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("daily_limit_micro", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("monthly_fee_micro", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("included_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tariff", sa.String(length=64), server_default="annex_b", nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        _created_at(),
        sa.CheckConstraint("kind IN ('prepaid', 'postpaid')", name=op.f("ck_accounts_kind")),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_accounts_status")),
        sa.CheckConstraint(
            "credit_limit_micro >= 0 AND monthly_fee_micro >= 0 AND included_seconds >= 0"
            " AND (daily_limit_micro IS NULL OR daily_limit_micro >= 0)",
            name=op.f("ck_accounts_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_accounts_code")),
    )
    op.create_index(op.f("ix_accounts_subscriber_id"), "accounts", ["subscriber_id"], unique=False)

    op.create_table(
        "tariff_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_to", sa.DateTime(timezone=True), nullable=True),
        _created_at("imported_at"),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_versions")),
        sa.UniqueConstraint("plan", "version", name=op.f("uq_tariff_versions_plan_version")),
    )
    op.create_table(
        "tariff_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("price_eur", sa.String(length=40), nullable=False),
        sa.Column("first_block", sa.Integer(), nullable=False),
        sa.Column("increment", sa.Integer(), nullable=False),
        sa.Column("connect_fee_eur", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["tariff_versions.id"],
            name=op.f("fk_tariff_rates_version_id_tariff_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_rates")),
        sa.UniqueConstraint(
            "version_id",
            "service",
            "destination",
            name=op.f("uq_tariff_rates_version_id_service_destination"),
        ),
    )

    op.create_table(
        "cdrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_name", sa.String(length=64), nullable=False),
        sa.Column("uniqueid", sa.String(length=150), nullable=False),
        sa.Column("linkedid", sa.String(length=150), server_default="", nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("account_code", sa.Text(), nullable=False),
        sa.Column("dialled", sa.Text(), nullable=False),
        sa.Column("normalised", sa.Text(), nullable=False),
        sa.Column("number_class", sa.String(length=16), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("billsec", sa.Integer(), nullable=False),
        sa.Column("billable_seconds", sa.Integer(), nullable=False),
        sa.Column("included_seconds", sa.Integer(), nullable=False),
        sa.Column("charged_seconds", sa.Integer(), nullable=False),
        sa.Column("cost_micro", sa.BigInteger(), nullable=False),
        sa.Column("tariff_version_id", sa.Integer(), nullable=True),
        _created_at("rated_at"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cdrs_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_version_id"],
            ["tariff_versions.id"],
            name=op.f("fk_cdrs_tariff_version_id_tariff_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdrs")),
        sa.UniqueConstraint("system_name", "uniqueid", name=op.f("uq_cdrs_system_name_uniqueid")),
    )
    op.create_index(op.f("ix_cdrs_start"), "cdrs", ["start"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_micro", sa.BigInteger(), nullable=False),
        _created_at(),
        sa.Column("reference", sa.Text(), server_default="", nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("cdr_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('topup', 'payment', 'adjustment', 'call_charge', 'sms_charge',"
            " 'recurring_fee')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ledger_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["cdr_id"], ["cdrs.id"], name=op.f("fk_ledger_entries_cdr_id_cdrs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("cdr_id", name=op.f("uq_ledger_entries_cdr_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
    )
    op.create_index(
        op.f("ix_ledger_entries_account_id_created_at"),
        "ledger_entries",
        ["account_id", "created_at"],
        unique=False,
    )

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount_micro", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="live", nullable=False),
        sa.Column("call_reference", sa.String(length=150), nullable=False),
        _created_at(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_micro", sa.BigInteger(), nullable=True),
        sa.Column("settled_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "state IN ('live', 'settled', 'released')", name=op.f("ck_reservations_state")
        ),
        sa.CheckConstraint("amount_micro > 0", name=op.f("ck_reservations_positive_amount")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_reservations_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index(
        op.f("ix_reservations_account_id_state"),
        "reservations",
        ["account_id", "state"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reservations_call_reference"), "reservations", ["call_reference"], unique=False
    )
    op.create_index(
        op.f("ix_reservations_state_expires_at"),
        "reservations",
        ["state", "expires_at"],
        unique=False,
    )

    op.create_table(
        "bundle_usage",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("used_seconds", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_bundle_usage_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "month", name=op.f("pk_bundle_usage")),
    )
    op.create_table(
        "cdr_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("system_name", sa.String(length=64), nullable=False),
        sa.Column("uniqueid", sa.String(length=150), nullable=True),
        sa.Column("account_code", sa.Text(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdr_quarantine")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_cdr_quarantine_dedup_key")),
    )
    op.create_table(
        "ingest_offsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("device", sa.BigInteger(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("first_line_sha256", sa.String(length=64), nullable=True),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=False),
        _created_at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_offsets")),
        sa.UniqueConstraint("system_name", "path", name=op.f("uq_ingest_offsets_system_name_path")),
    )
    op.create_table(
        "cdr_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cdr_id", sa.Integer(), nullable=False),
        sa.Column("tariff_version_id", sa.Integer(), nullable=False),
        sa.Column("included_seconds", sa.Integer(), nullable=False),
        sa.Column("charged_seconds", sa.Integer(), nullable=False),
        sa.Column("cost_micro", sa.BigInteger(), nullable=False),
        sa.Column("delta_micro", sa.BigInteger(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["cdr_id"], ["cdrs.id"], name=op.f("fk_cdr_adjustments_cdr_id_cdrs")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_version_id"],
            ["tariff_versions.id"],
            name=op.f("fk_cdr_adjustments_tariff_version_id_tariff_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdr_adjustments")),
        sa.UniqueConstraint(
            "cdr_id", "tariff_version_id", name=op.f("uq_cdr_adjustments_cdr_id_tariff_version_id")
        ),
    )


def downgrade() -> None:
    # children before parents (foreign keys); indexes go with their tables
    for table in (
        "cdr_adjustments",
        "ingest_offsets",
        "cdr_quarantine",
        "bundle_usage",
        "reservations",
        "ledger_entries",
        "cdrs",
        "tariff_rates",
        "tariff_versions",
        "accounts",
    ):
        op.drop_table(table)
