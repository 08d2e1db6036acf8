"""notify: the email outbox, its attachments and marketing consent

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("marketing", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'dead')",
            name=op.f("ck_notify_outbox_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_notify_outbox_dedup_key")),
    )
    op.create_index(
        op.f("ix_notify_outbox_account_id"), "notify_outbox", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_notify_outbox_next_attempt_at"), "notify_outbox", ["next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_notify_outbox_state"), "notify_outbox", ["state"], unique=False)
    op.create_table(
        "notify_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["email_id"],
            ["notify_outbox.id"],
            name=op.f("fk_notify_attachments_email_id_notify_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_attachments")),
        sa.UniqueConstraint("email_id", "position", name=op.f("uq_notify_attachments_email_id")),
    )
    op.create_table(
        "notify_marketing_consent",
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_notify_marketing_consent")),
    )


def downgrade() -> None:
    op.drop_table("notify_marketing_consent")
    op.drop_table("notify_attachments")
    op.drop_index(op.f("ix_notify_outbox_state"), table_name="notify_outbox")
    op.drop_index(op.f("ix_notify_outbox_next_attempt_at"), table_name="notify_outbox")
    op.drop_index(op.f("ix_notify_outbox_account_id"), table_name="notify_outbox")
    op.drop_table("notify_outbox")
