"""access: admin users, personal API tokens, failed logins, the audit log

Issue 13, items 3 and 4: named admin users with argon2id password hashes
and a role (an account admin with the id of their billing account, no
foreign key: see access/tables.py), their API tokens stored as SHA-256,
the consecutive failed logins per username and per source address that
lock a login out for a while, and the audit log.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'admin_users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('operator', 'support', 'auditor', 'account_admin')", name=op.f('ck_admin_users_role')),
        sa.CheckConstraint(
            "(role = 'account_admin') = (account_id IS NOT NULL)",
            name=op.f('ck_admin_users_account_only_for_account_admin')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_users')),
        sa.UniqueConstraint('username', name=op.f('uq_admin_users_username')),
    )
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['admin_users.id'], name=op.f('fk_api_tokens_user_id_admin_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    op.create_table(
        'login_failures',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('user', 'source')", name=op.f('ck_login_failures_kind')),
        sa.PrimaryKeyConstraint('kind', 'subject', name=op.f('pk_login_failures')),
    )
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=True),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('resource', sa.String(length=32), nullable=False),
        sa.Column('resource_id', sa.String(length=64), nullable=True),
        sa.Column('changes', sa.Text(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_resource_resource_id'), ['resource', 'resource_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('audit_log')
    op.drop_table('login_failures')
    op.drop_table('api_tokens')
    op.drop_table('admin_users')
