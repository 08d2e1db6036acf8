"""billing: invoice payments in the currency received (RON or EUR), exchange differences

A payment keeps the currency and amount the bank received
(``currency``, ``received_micro``), the BNR rate an EUR payment was
converted at (``fx_rate``; none for RON), and its value in RON against
the invoice, which is payable in lei (``ron_micro``). ``amount_micro``
stays the EUR share of the invoice the payment settles (the ledger's unit).
Payments recorded before were EUR: their RON value is taken at the
invoice's own rate, rounded half-up to the ban like the invoice's lines.

``exchange_differences`` holds, for a payment in lei made after its
invoice's due date, the difference between the BNR rates of the due date
and of the payment's day on what it paid (art. 7.7 ii), until the account's
next invoice carries it as its own line.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from billing import money

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), server_default='EUR', nullable=False))
        batch_op.add_column(sa.Column('received_micro', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('fx_rate', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('ron_micro', sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        'SELECT p.id, p.amount_micro, i.fx_rate FROM invoice_payments p JOIN invoices i ON i.id = p.invoice_id'
    )).all()
    for payment_id, amount_micro, rate in rows:
        # micro-euros × rate → bani, half-up once, back to micro-RON (as records.ron_micro)
        numerator, denominator = money.decimal_ratio(Decimal(rate))
        bani = money.round_half_up(amount_micro * numerator, denominator * 10_000)
        bind.execute(
            sa.text('UPDATE invoice_payments SET received_micro = amount_micro, ron_micro = :ron WHERE id = :id'),
            {'ron': bani * 10_000, 'id': payment_id},
        )
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.alter_column('received_micro', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('ron_micro', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint(op.f('ck_invoice_payments_payment_currency'), "currency IN ('RON', 'EUR')")
        batch_op.create_check_constraint(op.f('ck_invoice_payments_positive_received'), 'received_micro > 0')
    op.create_table(
        'exchange_differences',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('invoice_payment_id', sa.Integer(), nullable=False),
        sa.Column('due_rate', sa.String(length=40), nullable=False),
        sa.Column('paid_rate', sa.String(length=40), nullable=False),
        sa.Column('amount_ron_micro', sa.BigInteger(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint('amount_ron_micro <> 0', name=op.f('ck_exchange_differences_nonzero_amount')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_exchange_differences_account_id_accounts')),
        sa.ForeignKeyConstraint(
            ['invoice_payment_id'], ['invoice_payments.id'],
            name=op.f('fk_exchange_differences_invoice_payment_id_invoice_payments'),
        ),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_exchange_differences_invoice_id_invoices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_differences')),
        sa.UniqueConstraint('invoice_payment_id', name=op.f('uq_exchange_differences_invoice_payment_id')),
    )
    with op.batch_alter_table('exchange_differences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_differences_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('exchange_differences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_differences_account_id'))
    op.drop_table('exchange_differences')
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoice_payments_positive_received'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoice_payments_payment_currency'), type_='check')
        batch_op.drop_column('ron_micro')
        batch_op.drop_column('fx_rate')
        batch_op.drop_column('received_micro')
        batch_op.drop_column('currency')
