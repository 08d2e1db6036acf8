"""billing: invoice payments are stored in the currency received (RON or EUR)

A payment keeps the currency and amount the bank received
(``currency``, ``received_micro``), the BNR rate an EUR payment was
converted at (``fx_rate``; none for RON), and its value in RON against
the invoice, which is payable in lei (``ron_micro``). ``amount_micro``
stays the EUR share of the invoice the payment settles (the ledger's unit).
Payments recorded before were EUR: their RON value is taken at the
invoice's own rate, rounded half-up to the ban like the invoice's lines.

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


def downgrade() -> None:
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoice_payments_positive_received'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoice_payments_payment_currency'), type_='check')
        batch_op.drop_column('ron_micro')
        batch_op.drop_column('fx_rate')
        batch_op.drop_column('received_micro')
        batch_op.drop_column('currency')
