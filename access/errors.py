"""access's refusals: one type per failure. ``field`` names the input to
blame when there is one, so an HTTP adapter can answer 400 with it and the
CLI can name the option."""

from __future__ import annotations

from datetime import datetime


class AccessError(Exception):
    """Base of every refusal of the access package."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidInput(AccessError):
    """A value from outside is malformed or out of its bounds (``field`` says which)."""


class UserExists(AccessError):
    """A user with this username already exists."""


class UnknownUser(AccessError):
    """No user has this username (management operations; a login says LoginRefused)."""


class LoginRefused(AccessError):
    """Wrong username or password, or a disabled user: one answer for all,
    so a login tells nothing about which usernames exist."""


class LockedOut(AccessError):
    """Too many failed logins in a row for this username or source address."""

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class UnknownToken(AccessError):
    """No token has this id (management operations)."""


class TokenRejected(AccessError):
    """A presented API token is malformed, unknown, revoked, or its user disabled."""


class TooManyTokens(AccessError):
    """The user already holds the maximum number of live tokens."""


class SecretInAudit(AccessError):
    """An audit entry's changes name a secret field (``field``): refused, never stored."""
