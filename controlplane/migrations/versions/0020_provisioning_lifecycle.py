"""provisioning: a subscriber's contract end, an endpoint's dialplan profile and disabling

Issue 13, item 1: terminating a subscriber records the last day of the
contract (``contract_ended_on``; the data-protection work counts retention
from it) and when it was recorded (``terminated_at``), and disables the
subscriber's SIP endpoints (``disabled_at``: left out of Asterisk's
configuration, so they no longer register). Each endpoint names its
dialplan profile (``standard`` until the dialplan templates add others).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('terminated_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profile', sa.String(length=32), server_default='standard', nullable=False))
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('profile')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('terminated_at')
        batch_op.drop_column('contract_ended_on')
