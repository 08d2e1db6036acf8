"""invoicing: the supplier's details stored on each invoice

A Romanian invoice names its supplier (name, CIF, Nr. Reg. Com., registered
office, IBAN and bank), and an issued invoice never changes: the details
are frozen at issue, not read from the settings when rendered. Invoices
issued before keep what they printed: the name ClickPhone, nothing else.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SUPPLIER_COLUMNS = (
    ('supplier_name', 'ClickPhone'),
    ('supplier_vat_id', ''),
    ('supplier_registration', ''),
    ('supplier_address', ''),
    ('supplier_iban', ''),
    ('supplier_bank', ''),
)


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        for name, default in SUPPLIER_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Text(), server_default=default, nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        for name, _ in reversed(SUPPLIER_COLUMNS):
            batch_op.drop_column(name)
