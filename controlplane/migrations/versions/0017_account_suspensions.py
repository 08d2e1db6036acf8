"""billing: suspensions with a cause (art. 9.2)

Each suspension of an account is a stretch with its cause (non_payment,
breach, subscriber_request, operator), an optional note, when it started
and when it ended (NULL while it lasts; at most one open per account). The
month's fee is reduced for the days suspended for a cause that is not the
subscriber's fault (billing.invoicing.recurring).

Accounts suspended before this revision get no stretch: nobody recorded
why, so nothing reduces their fee (as invoiced until now); reinstating them
works as before.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_table(
        'account_suspensions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('cause', sa.String(length=32), nullable=False),
        sa.Column('note', sa.String(length=200), server_default='', nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "cause IN ('non_payment', 'breach', 'subscriber_request', 'operator')",
            name=op.f('ck_account_suspensions_cause'),
        ),
        sa.CheckConstraint(
            'ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_account_suspensions_valid_times'),
        ),
        sa.ForeignKeyConstraint(
            ['account_id'], ['accounts.id'], name=op.f('fk_account_suspensions_account_id_accounts'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_suspensions')),
    )
    op.create_index(
        op.f('ix_account_suspensions_account_id_started_at'), 'account_suspensions',
        ['account_id', 'started_at'], unique=False,
    )
    op.create_index(
        'uq_account_suspensions_open_account_id', 'account_suspensions', ['account_id'], unique=True,
        sqlite_where=_OPEN, postgresql_where=_OPEN,
    )


def downgrade() -> None:
    op.drop_index('uq_account_suspensions_open_account_id', table_name='account_suspensions')
    op.drop_index(op.f('ix_account_suspensions_account_id_started_at'), table_name='account_suspensions')
    op.drop_table('account_suspensions')
