"""admission: calls refused per day, account and reason

The console's dashboard shows today's refused calls by reason; admission
counts each refusal in the refusing decision's transaction.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'refusals_by_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('refusals', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'account_id', 'reason', name=op.f('pk_refusals_by_day')),
    )


def downgrade() -> None:
    op.drop_table('refusals_by_day')
