"""billing: index CDRs by account and id

The API's call list filters by account and pages newest first by id; with
only (start) and the primary key, an account with few calls among a
million CDRs was answered by reading the whole table.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_cdrs_account_id_id'), 'cdrs', ['account_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cdrs_account_id_id'), table_name='cdrs')
