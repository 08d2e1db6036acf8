"""billing: one-off fees invoiced in advance, accounts inactive until paid

Contract art. 7.1.1: set-up fees and equipment are invoiced in advance
when the contract starts; the service may stay inactive until paid.

* ``one_off_charges`` — what an account is charged once, linked to its
  one-off invoice once issued;
* the ledger kind ``one_off_fee`` (the entries a one-off invoice writes);
* the account status ``inactive`` (until its first invoice is paid);
* ``service_plan_versions.setup_fee_micro`` (NULL: no set-up fee).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_KINDS = "'topup', 'payment', 'adjustment', 'call_charge', 'sms_charge', 'recurring_fee'"


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_kind'), f"kind IN ({_KINDS}, 'one_off_fee')")
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_accounts_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_accounts_status'), "status IN ('active', 'suspended', 'inactive')")
    with op.batch_alter_table('service_plan_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('setup_fee_micro', sa.BigInteger(), nullable=True))
    op.create_table(
        'one_off_charges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('unit_price_micro', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('quantity >= 1 AND quantity <= 1000', name=op.f('ck_one_off_charges_quantity')),
        sa.CheckConstraint(
            'unit_price_micro > 0 AND unit_price_micro <= 100000000000', name=op.f('ck_one_off_charges_unit_price')
        ),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_one_off_charges_account_id_accounts')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_one_off_charges_invoice_id_invoices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_one_off_charges')),
    )
    with op.batch_alter_table('one_off_charges', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_one_off_charges_account_id_invoice_id'), ['account_id', 'invoice_id'], unique=False
        )


def downgrade() -> None:
    # refused rather than losing money: one-off fees or inactive accounts have no older form
    bind = op.get_bind()
    if bind.execute(sa.text(
        "SELECT 1 FROM ledger_entries WHERE kind = 'one_off_fee' UNION ALL SELECT 1 FROM accounts WHERE status = 'inactive'"
    )).first() is not None:
        raise RuntimeError("0018 cannot be downgraded: one-off fees were charged or accounts are inactive")
    op.drop_table('one_off_charges')
    with op.batch_alter_table('service_plan_versions', schema=None) as batch_op:
        batch_op.drop_column('setup_fee_micro')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_accounts_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_accounts_status'), "status IN ('active', 'suspended')")
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_kind'), f"kind IN ({_KINDS})")
