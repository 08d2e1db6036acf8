"""billing: a quarantined CDR line can be re-processed; its row is marked, not deleted

``retried_at`` is when the line was last tried again; ``resolution``
(``charged`` or ``already_charged``), ``resolved_at`` and ``cdr_id`` (the
CDR it became) are set once it is charged. Existing rows are unresolved and
never retried: all four are NULL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# billing/tables.py's QUARANTINE_RESOLUTIONS, frozen here
RESOLUTIONS = ('charged', 'already_charged')


def upgrade() -> None:
    with op.batch_alter_table('cdr_quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retried_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cdr_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_cdr_quarantine_cdr_id_cdrs'), 'cdrs', ['cdr_id'], ['id']
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_cdr_quarantine_resolution'),
            "resolution IS NULL OR resolution IN (" + ", ".join(f"'{v}'" for v in RESOLUTIONS) + ")",
        )


def downgrade() -> None:
    with op.batch_alter_table('cdr_quarantine', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_cdr_quarantine_resolution'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_cdr_quarantine_cdr_id_cdrs'), type_='foreignkey')
        batch_op.drop_column('cdr_id')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolution')
        batch_op.drop_column('retried_at')
