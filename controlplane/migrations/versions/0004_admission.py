"""admission: account policies, live calls; provisioning: DIDs, endpoint account code

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dids',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('ring_seconds', sa.Integer(), server_default='25', nullable=False),
    sa.Column('voicemail_enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_dids_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_dids'))
    )
    with op.batch_alter_table('dids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dids_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('account_policies',
    sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('allowed_networks', sa.Text(), server_default='', nullable=False),
    sa.Column('premium_enabled', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('international_enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('blocked_prefixes', sa.Text(), server_default='', nullable=False),
    sa.Column('max_concurrent_calls', sa.Integer(), server_default='2', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_account_policies'))
    )
    op.create_table('live_calls',
    sa.Column('call_ref', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('number_class', sa.String(length=24), nullable=False),
    sa.Column('normalised', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('reserved_seconds', sa.Integer(), nullable=False),
    sa.Column('free', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('call_ref', name=op.f('pk_live_calls'))
    )
    with op.batch_alter_table('live_calls', schema=None) as batch_op:
        batch_op.create_index('ix_live_calls_account_id', ['account_id'], unique=False)

    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_code', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_sip_endpoints_account_code'), ['account_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sip_endpoints_account_code'))
        batch_op.drop_column('account_code')

    with op.batch_alter_table('live_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_live_calls_account_id')

    op.drop_table('live_calls')
    op.drop_table('account_policies')
    with op.batch_alter_table('dids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dids_subscriber_id'))

    op.drop_table('dids')
