"""The bounds of every value access takes from outside, checked in one place;
each refusal is an InvalidInput naming its field."""

from __future__ import annotations

import re

from .errors import InvalidInput
from .roles import ACCOUNT_ADMIN, ROLE_NAMES
from .tables import SOURCE_LENGTH, TOKEN_NAME_LENGTH, USERNAME_LENGTH

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD_CHARS = 12
# argon2 hashes anything, but an unbounded password is a cheap way to burn CPU
MAX_PASSWORD_CHARS = 256
MAX_ACCOUNT_ID = 2**31 - 1


def username(value: str, field: str = "username") -> str:
    """``value`` if it is 3–64 of ``[a-z0-9._-]``."""
    if not isinstance(value, str) or not USERNAME_PATTERN.fullmatch(value):
        raise InvalidInput(f"{field}: 3 to {USERNAME_LENGTH} of a-z, 0-9, '.', '_', '-'", field=field)
    return value


RESERVED_USERNAMES = frozenset({"admin_token", "cli", "system"})
"""Names the audit log gives to actors that are not users: no user may take one."""


def new_username(value: str) -> str:
    """``value`` if it is a username (:func:`username`) no actor already goes by."""
    username(value)
    if value in RESERVED_USERNAMES:
        raise InvalidInput(f"username: {value!r} is reserved (the audit log's name for a non-user actor)",
                           field="username")
    return value


def password(value: str, field: str = "password") -> str:
    """``value`` if it has 12–256 characters and no NUL."""
    if not isinstance(value, str) or not MIN_PASSWORD_CHARS <= len(value) <= MAX_PASSWORD_CHARS or "\0" in value:
        raise InvalidInput(
            f"{field}: {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, no NUL", field=field)
    return value


def login_password(value: str) -> str:
    """A password presented at login: only bounded (a short one simply fails to match)."""
    if not isinstance(value, str) or len(value) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"password: at most {MAX_PASSWORD_CHARS} characters", field="password")
    return value


def role_and_account(role: str, account_id: int | None) -> tuple[str, int | None]:
    """The role if known, with an account id exactly when it is account_admin."""
    if role not in ROLE_NAMES:
        raise InvalidInput(f"role: one of {', '.join(ROLE_NAMES)}", field="role")
    if role == ACCOUNT_ADMIN:
        if account_id is None or isinstance(account_id, bool) or not 1 <= account_id <= MAX_ACCOUNT_ID:
            raise InvalidInput("account: an account admin needs the id of their account", field="account")
    elif account_id is not None:
        raise InvalidInput(f"account: only an {ACCOUNT_ADMIN} belongs to one account", field="account")
    return role, account_id


def token_name(value: str) -> str:
    """A token's name: 1–64 printable characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= TOKEN_NAME_LENGTH or not value.isprintable():
        raise InvalidInput(f"name: 1 to {TOKEN_NAME_LENGTH} printable characters", field="name")
    return value


def source(value: str) -> str:
    """Where a request came from (an address, or ``cli``): 1–64 printable characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= SOURCE_LENGTH or not value.isprintable():
        raise InvalidInput(f"source: 1 to {SOURCE_LENGTH} printable characters", field="source")
    return value
