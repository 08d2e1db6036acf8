"""/api/v1's shapes for users, personal tokens and the audit log
(:mod:`web.api.access_routes`). Never a password hash or a token's
digest; a new password or token value appears once, in its creation's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import AwareDatetime, Field

from access.audit import RESOURCE_ID_LENGTH, RESOURCE_LENGTH
from access.inputs import MAX_PASSWORD_CHARS, USERNAME_LENGTH
from access.tokens import MAX_NAME_CHARS as TOKEN_NAME_LENGTH

from .schemas import Id, PageQuery, _Out, _Query

ROLE_LENGTH = 16


class NewUser(_Query):
    """A user to create; without ``password`` one is generated and answered once."""

    username: str = Field(max_length=USERNAME_LENGTH, description="3 to 64 of a-z, 0-9, '.', '_', '-'")
    role: str = Field(max_length=ROLE_LENGTH, description="operator, support, auditor or account_admin")
    account: Optional[Id] = Field(None, description="the account of an account_admin (required for it only)")
    password: Optional[str] = Field(None, max_length=MAX_PASSWORD_CHARS, description="12 to 256 characters")


class NewToken(_Query):
    """A personal token to issue: what it is for."""

    name: str = Field(max_length=TOKEN_NAME_LENGTH, description=f"1 to {TOKEN_NAME_LENGTH} printable characters")


class AuditQuery(PageQuery):
    resource: Optional[str] = Field(None, max_length=RESOURCE_LENGTH, pattern=r"^[a-z][a-z0-9_.]*$")
    resource_id: Optional[str] = Field(None, max_length=RESOURCE_ID_LENGTH)
    actor: Optional[str] = Field(None, max_length=USERNAME_LENGTH)
    since: Optional[AwareDatetime] = Field(None, description="entries at or after")
    until: Optional[AwareDatetime] = Field(None, description="entries before")


class UserOut(_Out):
    id: int
    username: str
    role: str
    account_id: Optional[int]
    created_at: datetime
    disabled_at: Optional[datetime] = Field(description="null: active")


class UserList(_Out):
    items: list[UserOut]


class CreatedUser(_Out):
    user: UserOut
    password: Optional[str] = Field(description="the generated password, shown this once; null if one was given")


class MeOut(_Out):
    name: str
    role: str
    account_id: Optional[int]
    credential: str = Field(description="token, or admin_token (the bootstrap credential: no user, no tokens)")


class TokenOut(_Out):
    id: int
    user: str
    name: str
    created_at: datetime
    last_used_at: Optional[datetime] = Field(description="to the minute")
    revoked_at: Optional[datetime]


class TokenList(_Out):
    items: list[TokenOut]


class IssuedTokenOut(_Out):
    token: TokenOut
    value: str = Field(description="the token itself (cpt_...), shown this once: only its SHA-256 is kept")


class AuditEntryOut(_Out):
    id: int
    at: datetime
    actor: str
    role: Optional[str]
    source: str
    action: str
    resource: str
    resource_id: Optional[str]
    changes: Optional[dict[str, dict[str, Any]]] = Field(description='{"field": {"before", "after"}}')
    outcome: str


class AuditPage(_Out):
    items: list[AuditEntryOut]
    next_cursor: Optional[str]
