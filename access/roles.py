"""The roles and what each may do, as data (issue 13, item 3).

A permission is a named string ``<resource>.<verb>``. Each role maps to the
set of permissions it holds; :func:`allowed` is the one question the HTTP
routes and the console ask. ``account_admin`` is also bound to one account:
it holds its permissions only for its own account (invariant 8: an account
admin never sees another account's data).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

OPERATOR = "operator"
SUPPORT = "support"
AUDITOR = "auditor"
ACCOUNT_ADMIN = "account_admin"
ROLE_NAMES = (OPERATOR, SUPPORT, AUDITOR, ACCOUNT_ADMIN)

# resource -> its verbs; every permission is "<resource>.<verb>"
_VERBS: dict[str, tuple[str, ...]] = {
    "accounts": ("read", "write", "top_up", "suspend"),  # suspend covers reinstate
    "subscribers": ("read", "write"),
    "endpoints": ("read", "write"),
    "dids": ("read", "write"),
    "calls": ("read",),
    "invoices": ("read", "write"),  # write: payments, interim invoices
    "tariffs": ("read", "write"),
    "plans": ("read", "write"),
    "templates": ("read", "write"),
    "quarantine": ("read", "reprocess"),
    "outbox": ("read", "retry"),
    "fx": ("read", "write"),
    "downtime": ("read", "write"),
    "users": ("read", "write"),
    "audit": ("read",),
    # the caller's own user and personal tokens (/me): every role, so anyone can rotate their token
    "self": ("read", "write"),
}
PERMISSIONS: frozenset[str] = frozenset(f"{resource}.{verb}" for resource, verbs in _VERBS.items() for verb in verbs)
_READS = frozenset(permission for permission in PERMISSIONS if permission.endswith(".read"))
SELF_SERVICE = frozenset({"self.read", "self.write"})
"""Every role holds these: see and manage its own user's tokens, no one else's."""

ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    OPERATOR: PERMISSIONS,
    # read everything but the users; top up, suspend/reinstate, re-process
    # quarantined CDRs; no tariff, plan, template or user changes
    SUPPORT: (_READS - {"users.read"}) | {"accounts.top_up", "accounts.suspend", "quarantine.reprocess"}
    | SELF_SERVICE,
    AUDITOR: _READS | SELF_SERVICE,
    # a business customer's PBX admin: their own account's subscribers,
    # endpoints, DIDs (read: numbers are assigned by the operator), calls
    # and invoices
    ACCOUNT_ADMIN: frozenset({
        "accounts.read", "subscribers.read", "subscribers.write", "endpoints.read", "endpoints.write",
        "dids.read", "calls.read", "invoices.read",
    }) | SELF_SERVICE,
})


class UnknownPermission(ValueError):
    """A permission name that is not in PERMISSIONS: a typo in a route, refused
    loudly rather than answered False (which would hide it)."""


def holds(role: str, permission: str) -> bool:
    """True if ``role`` holds ``permission`` at all (for an account admin: on
    its own account, which :func:`sees_account` then checks)."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def sees_account(role: str, own_account_id: int | None, account_id: int | None) -> bool:
    """True if a user of ``role`` (bound to ``own_account_id`` when an
    account admin) may see account ``account_id``: staff see every account,
    an account admin only its own (a resource of no account is not theirs)."""
    if role != ACCOUNT_ADMIN:
        return True
    return account_id is not None and account_id == own_account_id


def allowed(role: str, permission: str, *, account_id: int | None = None,
            own_account_id: int | None = None) -> bool:
    """True if ``role`` holds ``permission``. For ``account_admin`` only on its
    own account: ``account_id`` (the account the request is about) must be
    given and equal ``own_account_id`` (the user's). An unknown role holds
    nothing; an unknown permission raises UnknownPermission."""
    if permission not in PERMISSIONS:
        raise UnknownPermission(f"unknown permission {permission!r}")
    if permission not in ROLE_PERMISSIONS.get(role, frozenset()):
        return False
    if role == ACCOUNT_ADMIN:
        return account_id is not None and own_account_id is not None and account_id == own_account_id
    return True
