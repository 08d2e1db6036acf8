"""billing: the quarantine keeps a bounded prefix of a bad CDR line, its hash and the call's start

A bad CDR line was stored whole (a 2 MiB line, 2 MiB in the database).
Now ``raw`` holds at most the line's first 1,024 characters and the new
``raw_sha256`` / ``raw_length`` identify the whole line (SHA-256 and length
in bytes of the line as in the file, its newline included). ``start`` is
the call's start for a line that could be parsed (unknown account, not
ratable): the invoice run reports the quarantined calls of its period.

Existing rows are backfilled from what they stored: the hash and length of
``raw`` plus its newline (the text stored was the line decoded as UTF-8),
``raw`` cut to 1,024 characters, and ``start`` read from the raw line of
the rows that had been parsed (those with a uniqueid), as UTC like the
tailer reads it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

RAW_PREFIX_CHARS = 1024
# field count -> position of "start" (billing/cdr_format.py's layouts, frozen here)
START_FIELD = {21: 9, 18: 9, 20: 11}

quarantine = sa.table(
    'cdr_quarantine',
    sa.column('id', sa.Integer()),
    sa.column('raw', sa.Text()),
    sa.column('uniqueid', sa.String()),
    sa.column('raw_sha256', sa.String()),
    sa.column('raw_length', sa.BigInteger()),
    sa.column('start', sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table('cdr_quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('raw_length', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('start', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cdr_quarantine_start'), ['start'], unique=False)
    connection = op.get_bind()
    rows = connection.execute(sa.select(quarantine.c.id, quarantine.c.raw, quarantine.c.uniqueid)).all()
    for row in rows:
        data = (row.raw + '\n').encode('utf-8', 'surrogatepass')
        connection.execute(
            quarantine.update()
            .where(quarantine.c.id == row.id)
            .values(
                raw=row.raw[:RAW_PREFIX_CHARS],
                raw_sha256=hashlib.sha256(data).hexdigest(),
                raw_length=len(data),
                start=_start(row.raw) if row.uniqueid is not None else None,
            )
        )


def _start(raw: str) -> datetime | None:
    try:
        fields = next(csv.reader((raw,), strict=True))
        text = fields[START_FIELD[len(fields)]]
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    except (csv.Error, StopIteration, KeyError, ValueError):
        return None


def downgrade() -> None:
    with op.batch_alter_table('cdr_quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cdr_quarantine_start'))
        batch_op.drop_column('start')
        batch_op.drop_column('raw_length')
        batch_op.drop_column('raw_sha256')
