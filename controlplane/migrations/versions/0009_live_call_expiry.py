"""admission: live calls carry an expiry

A FastAGI call whose hangup never reached the control plane left its
live_calls row behind for good, refusing the account with too_many_calls
(issue 10). Rows written before this revision keep NULL: they count until
the ARI app's reconciliation finishes them (their channel is gone).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('live_calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('live_calls', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
