"""billing: service plans, versioned: a subscription's monthly fee and included minutes

A service plan (billing.service_plans) is data: a monthly fee in EUR
excluding VAT, the minutes it includes each month per destination group
and the tariff plan its calls are rated with, valid from one day to
another and versioned like tariffs (a correction supersedes the version it
replaces, which is kept). Accounts will name the version they are on by
its id.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'service_plan_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan', sa.String(length=64), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('effective_to', sa.Date(), nullable=True),
        sa.Column('monthly_fee_micro', sa.BigInteger(), nullable=False),
        sa.Column('tariff', sa.String(length=64), nullable=False),
        sa.Column('description', sa.String(length=200), server_default='', nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('monthly_fee_micro >= 0', name=op.f('ck_service_plan_versions_non_negative_fee')),
        sa.CheckConstraint(
            'effective_to IS NULL OR effective_to > effective_from',
            name=op.f('ck_service_plan_versions_valid_dates'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_plan_versions')),
        sa.UniqueConstraint('plan', 'version', name=op.f('uq_service_plan_versions_plan_version')),
    )
    op.create_table(
        'service_plan_allowances',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('destination_group', sa.String(length=16), nullable=False),
        sa.Column('included_minutes', sa.Integer(), nullable=False),
        sa.CheckConstraint('included_minutes > 0', name=op.f('ck_service_plan_allowances_positive_minutes')),
        sa.ForeignKeyConstraint(
            ['version_id'], ['service_plan_versions.id'],
            name=op.f('fk_service_plan_allowances_version_id_service_plan_versions'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_plan_allowances')),
        sa.UniqueConstraint(
            'version_id', 'destination_group', name=op.f('uq_service_plan_allowances_version_id_destination_group'),
        ),
    )


def downgrade() -> None:
    op.drop_table('service_plan_allowances')
    op.drop_table('service_plan_versions')
