"""billing: a covering index for an account's money

An account's balance is the SUM of its ledger entries and today's usage a
SUM over today's call and SMS charges; with (account_id, created_at) alone
both read every matching row from the table (~10,000 for a busy account on
the account page). With kind and amount in the index, SQLite and
PostgreSQL answer both from the index.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_ledger_entries_account_id_created_at_kind_amount_micro'), 'ledger_entries',
                    ['account_id', 'created_at', 'kind', 'amount_micro'], unique=False)
    op.drop_index(op.f('ix_ledger_entries_account_id_created_at'), table_name='ledger_entries')


def downgrade() -> None:
    op.create_index(op.f('ix_ledger_entries_account_id_created_at'), 'ledger_entries', ['account_id', 'created_at'],
                    unique=False)
    op.drop_index(op.f('ix_ledger_entries_account_id_created_at_kind_amount_micro'), table_name='ledger_entries')
