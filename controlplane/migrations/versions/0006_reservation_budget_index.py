"""billing: index live reservations by account, state and expiry

Call admission sums an account's live, unexpired reservations for every
decision; with (account_id, state) alone SQLite preferred the
(state, expires_at) index and scanned every live reservation of every
account.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_account_id_state'))
        batch_op.create_index(
            batch_op.f('ix_reservations_account_id_state_expires_at'),
            ['account_id', 'state', 'expires_at'], unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_account_id_state_expires_at'))
        batch_op.create_index(batch_op.f('ix_reservations_account_id_state'), ['account_id', 'state'], unique=False)
