"""The tables access owns: admin users, their personal API tokens, failed
logins (for lockout) and the audit log.

Schema changes go through a migration in controlplane/migrations/versions
(0019 created these); a test checks that the migrated schema matches what
is declared here.

``admin_users.account_id`` names a billing account (only for an
``account_admin``) without a foreign key: accounts belong to billing, and
no package reaches into another's tables (ARCHITECTURE.md, "Dependency
direction"). The services that create an account admin are handed an id
the caller has checked; a check constraint keeps the id present exactly
when the role is ``account_admin``.

Nothing secret is stored in clear: ``password_hash`` is an argon2id PHC
string, ``token_hash`` the SHA-256 (hex) of a token (see access/tokens.py
for why a fast hash is right for tokens and wrong for passwords).
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from sqlbase import UtcDateTime
from sqlbase.columns import created_at
from sqlbase.naming import NAMING_CONVENTION

from .roles import ACCOUNT_ADMIN, ROLE_NAMES

metadata = MetaData(naming_convention=NAMING_CONVENTION)

USERNAME_LENGTH = 64
ROLE_LENGTH = 16
PASSWORD_HASH_LENGTH = 255
TOKEN_NAME_LENGTH = 64
SOURCE_LENGTH = 64
ACTION_LENGTH = 32
RESOURCE_LENGTH = 32
RESOURCE_ID_LENGTH = 64
OUTCOME_LENGTH = 16
LOCKOUT_KINDS = ("user", "source")

_ROLE_LIST = ", ".join(repr(role) for role in ROLE_NAMES)

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(USERNAME_LENGTH), nullable=False, unique=True),
    Column("password_hash", String(PASSWORD_HASH_LENGTH), nullable=False),
    Column("role", String(ROLE_LENGTH), nullable=False),
    # billing's account id, no foreign key (see the module docstring)
    Column("account_id", Integer, nullable=True),
    created_at(),
    Column("disabled_at", UtcDateTime(), nullable=True),
    CheckConstraint(f"role IN ({_ROLE_LIST})", name="role"),
    CheckConstraint(
        f"(role = '{ACCOUNT_ADMIN}') = (account_id IS NOT NULL)", name="account_only_for_account_admin"
    ),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("admin_users.id"), nullable=False, index=True),
    Column("name", String(TOKEN_NAME_LENGTH), nullable=False),
    # SHA-256 of the clear token, hex: what a presented token is looked up by
    Column("token_hash", String(64), nullable=False, unique=True),
    created_at(),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

# consecutive failed logins per username and per source address; a row is
# deleted by a successful login
login_failures = Table(
    "login_failures",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("subject", String(USERNAME_LENGTH), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime(), nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
    CheckConstraint(f"kind IN ({', '.join(repr(k) for k in LOCKOUT_KINDS)})", name="kind"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    # a username, or "cli" / "system"
    Column("actor", String(USERNAME_LENGTH), nullable=False),
    Column("role", String(ROLE_LENGTH), nullable=True),
    # the client's address, or "cli"
    Column("source", String(SOURCE_LENGTH), nullable=False),
    Column("action", String(ACTION_LENGTH), nullable=False),
    Column("resource", String(RESOURCE_LENGTH), nullable=False),
    Column("resource_id", String(RESOURCE_ID_LENGTH), nullable=True),
    # JSON {"field": {"before": ..., "after": ...}}, never a secret
    Column("changes", Text, nullable=True),
    Column("outcome", String(OUTCOME_LENGTH), nullable=False),
    Index(None, "resource", "resource_id"),
)

# console logins (access/sessions.py): the SHA-256 of the cookie's random id,
# never the id itself; deleted at logout, refused past their idle or absolute
# expiry and as soon as their user is disabled
admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("admin_users.id"), nullable=False, index=True),
    # sent back in every form and htmx header; useless without the cookie
    Column("csrf", String(64), nullable=False),
    created_at(),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
