"""billing: included minutes used per destination group

``bundle_usage`` counts the included seconds used per account, month and
destination group (national, ro_fixed, ro_mobile, on_net, international):
a service plan may include minutes for each group apart. Counters before
were national.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bundle_usage', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('destination_group', sa.String(length=16), server_default='national', nullable=False))
        batch_op.drop_constraint(op.f('pk_bundle_usage'), type_='primary')
        batch_op.create_primary_key(op.f('pk_bundle_usage'), ['account_id', 'month', 'destination_group'])


def downgrade() -> None:
    # a month's groups become one national counter again
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        'SELECT account_id, month, SUM(used_seconds) FROM bundle_usage GROUP BY account_id, month'
    )).all()
    op.execute('DELETE FROM bundle_usage')
    with op.batch_alter_table('bundle_usage', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('pk_bundle_usage'), type_='primary')
        batch_op.drop_column('destination_group')
        batch_op.create_primary_key(op.f('pk_bundle_usage'), ['account_id', 'month'])
    if rows:
        bind.execute(
            sa.text('INSERT INTO bundle_usage (account_id, month, used_seconds) VALUES (:a, :m, :u)'),
            [{'a': a, 'm': m, 'u': u} for a, m, u in rows],
        )
