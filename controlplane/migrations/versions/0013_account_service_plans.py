"""billing: accounts subscribe to service plans, with their history

An account is on a service plan (billing.service_plans) from one day until
another (exclusive; open-ended while it stays on it); a change of plan ends
one row and starts the next, so the history is kept. The invoice's monthly
fee and the month's included national minutes come from the plan versions
in force on each day of service (billing.subscriptions).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_service_plans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('plan', sa.String(length=64), nullable=False),
        sa.Column('from_day', sa.Date(), nullable=False),
        sa.Column('until_day', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            'until_day IS NULL OR until_day > from_day', name=op.f('ck_account_service_plans_valid_days'),
        ),
        sa.ForeignKeyConstraint(
            ['account_id'], ['accounts.id'], name=op.f('fk_account_service_plans_account_id_accounts'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_service_plans')),
    )
    op.create_index(
        op.f('ix_account_service_plans_account_id'), 'account_service_plans', ['account_id'], unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_account_service_plans_account_id'), table_name='account_service_plans')
    op.drop_table('account_service_plans')
