"""provisioning: SIP endpoints keep a digest credential, not the password

Each endpoint's clear password becomes HA1 = MD5(username:realm:password)
(provisioning.credentials) with the realm "clickphone", kept beside it; the
password column is dropped. Phones keep working with the passwords they have:
they answer the realm Asterisk's challenge names.

Downgrade cannot give the passwords back. It refuses while any endpoint
exists, rather than leave every phone unable to register with no password
anyone knows; with no endpoint it restores the old column.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# provisioning.credentials.DEFAULT_REALM when this revision was written: a
# migration must not change when the code's default does.
REALM = 'clickphone'

_endpoints = sa.table(
    'sip_endpoints',
    sa.column('id', sa.Integer()),
    sa.column('username', sa.String()),
    sa.column('password', sa.String()),
    sa.column('md5_cred', sa.String()),
    sa.column('realm', sa.String()),
)


class PasswordsCannotBeRestoredError(RuntimeError):
    """Downgrading would need the SIP passwords, which are not stored."""


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Batch mode copies the table and drops the old one: without this,
        # its pages, passwords included, would stay readable in the file.
        op.execute('PRAGMA secure_delete=ON')
    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('md5_cred', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('realm', sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_endpoints.c.id, _endpoints.c.username, _endpoints.c.password))
    for endpoint_id, username, password in rows.fetchall():
        connection.execute(
            _endpoints.update()
            .where(_endpoints.c.id == endpoint_id)
            .values(md5_cred=_md5_cred(username, REALM, password), realm=REALM)
        )
    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.alter_column('md5_cred', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('realm', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('password')


def downgrade() -> None:
    count = op.get_bind().scalar(sa.select(sa.func.count()).select_from(_endpoints))
    if count:
        raise PasswordsCannotBeRestoredError(
            f"cannot downgrade below 0008: {count} SIP endpoint(s) keep only a digest "
            "credential and their passwords cannot be restored; delete them first "
            "(and provision them again with new passwords after the downgrade)"
        )
    with op.batch_alter_table('sip_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password', sa.String(length=128), nullable=False))
        batch_op.drop_column('realm')
        batch_op.drop_column('md5_cred')


def _md5_cred(username: str, realm: str, password: str) -> str:
    # provisioning.credentials.md5_cred, copied: a migration keeps working
    # whatever the code later becomes.
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()
