"""billing: invoice kinds (monthly, interim, one-off)

An account's month still has one monthly invoice; interim invoices of
usage so far in a month and the invoice of a contract's one-off fees sit
beside it, so the unique (account, period) becomes a partial unique index
on the monthly ones. Invoices issued before are monthly.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_MONTHLY = sa.text("kind = 'monthly'")


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='monthly', nullable=False))
        batch_op.drop_constraint(op.f('uq_invoices_account_id_period'), type_='unique')
        batch_op.create_check_constraint(op.f('ck_invoices_kind'), "kind IN ('monthly', 'interim', 'one_off')")
    op.create_index(
        'uq_invoices_monthly_account_period', 'invoices', ['account_id', 'period'], unique=True,
        sqlite_where=_MONTHLY, postgresql_where=_MONTHLY,
    )


def downgrade() -> None:
    op.drop_index('uq_invoices_monthly_account_period', table_name='invoices')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_kind'), type_='check')
        batch_op.create_unique_constraint(op.f('uq_invoices_account_id_period'), ['account_id', 'period'])
        batch_op.drop_column('kind')
