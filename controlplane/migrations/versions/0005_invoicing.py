"""invoicing: BNR rate cache, service downtime, invoice counters, invoices
(lines, itemised calls, invoiced ledger entries, payments)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fx_rates',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('ron_per_unit', sa.String(length=40), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("source IN ('bnr', 'manual')", name=op.f('ck_fx_rates_source')),
    sa.PrimaryKeyConstraint('day', 'currency', 'source', name=op.f('pk_fx_rates'))
    )
    op.create_table('invoice_counters',
    sa.Column('series', sa.String(length=16), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('last_issue_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_invoice_counters'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=16), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('account_code', sa.String(length=80), nullable=False),
    sa.Column('account_kind', sa.String(length=16), nullable=False),
    sa.Column('customer_name', sa.Text(), nullable=False),
    sa.Column('customer_email', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('period_first', sa.Date(), nullable=False),
    sa.Column('period_last', sa.Date(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('vat_rate', sa.String(length=16), nullable=False),
    sa.Column('fx_rate', sa.String(length=40), nullable=False),
    sa.Column('fx_date', sa.Date(), nullable=False),
    sa.Column('fx_source', sa.String(length=8), nullable=False),
    sa.Column('bundle_seconds', sa.Integer(), nullable=False),
    sa.Column('bundle_used_seconds', sa.Integer(), nullable=False),
    sa.Column('net_micro', sa.BigInteger(), nullable=False),
    sa.Column('vat_micro', sa.BigInteger(), nullable=False),
    sa.Column('total_micro', sa.BigInteger(), nullable=False),
    sa.Column('net_ron_micro', sa.BigInteger(), nullable=False),
    sa.Column('vat_ron_micro', sa.BigInteger(), nullable=False),
    sa.Column('total_ron_micro', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_invoices_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('account_id', 'period', name=op.f('uq_invoices_account_id_period')),
    sa.UniqueConstraint('series', 'number', name=op.f('uq_invoices_series_number'))
    )
    op.create_table('service_downtime',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_service_downtime'))
    )
    op.create_table('invoice_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('cdr_id', sa.Integer(), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dialled', sa.Text(), nullable=False),
    sa.Column('number_class', sa.String(length=16), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('billsec', sa.Integer(), nullable=False),
    sa.Column('billable_seconds', sa.Integer(), nullable=False),
    sa.Column('included_seconds', sa.Integer(), nullable=False),
    sa.Column('charged_seconds', sa.Integer(), nullable=False),
    sa.Column('cost_micro', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['cdr_id'], ['cdrs.id'], name=op.f('fk_invoice_calls_cdr_id_cdrs')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_calls_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_calls')),
    sa.UniqueConstraint('cdr_id', name=op.f('uq_invoice_calls_cdr_id'))
    )
    with op.batch_alter_table('invoice_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_calls_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_entries',
    sa.Column('ledger_entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_entries_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_invoice_entries_ledger_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('ledger_entry_id', name=op.f('pk_invoice_entries'))
    )
    with op.batch_alter_table('invoice_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_entries_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('number_class', sa.String(length=16), nullable=True),
    sa.Column('month', sa.String(length=7), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('billable_seconds', sa.BigInteger(), nullable=False),
    sa.Column('included_seconds', sa.BigInteger(), nullable=False),
    sa.Column('charged_seconds', sa.BigInteger(), nullable=False),
    sa.Column('net_micro', sa.BigInteger(), nullable=False),
    sa.Column('vat_micro', sa.BigInteger(), nullable=False),
    sa.Column('net_ron_micro', sa.BigInteger(), nullable=False),
    sa.Column('vat_ron_micro', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines')),
    sa.UniqueConstraint('invoice_id', 'position', name=op.f('uq_invoice_lines_invoice_id_position'))
    )
    op.create_table('invoice_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount_micro', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('amount_micro > 0', name=op.f('ck_invoice_payments_positive_amount')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_payments_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_invoice_payments_ledger_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payments')),
    sa.UniqueConstraint('ledger_entry_id', name=op.f('uq_invoice_payments_ledger_entry_id'))
    )
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_payments_invoice_id'), ['invoice_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_payments_invoice_id'))

    op.drop_table('invoice_payments')
    op.drop_table('invoice_lines')
    with op.batch_alter_table('invoice_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_entries_invoice_id'))

    op.drop_table('invoice_entries')
    with op.batch_alter_table('invoice_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_calls_invoice_id'))

    op.drop_table('invoice_calls')
    op.drop_table('service_downtime')
    op.drop_table('invoices')
    op.drop_table('invoice_counters')
    op.drop_table('fx_rates')
