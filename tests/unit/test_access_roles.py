"""Issue 13, item 3: the roles and what each may do, every role × every
permission, and the account admin's own-account rule (invariant 8)."""

from __future__ import annotations

import pytest

from access.roles import (
    ACCOUNT_ADMIN,
    AUDITOR,
    OPERATOR,
    PERMISSIONS,
    ROLE_NAMES,
    SUPPORT,
    UnknownPermission,
    allowed,
    sees_account,
)

SUPPORT_WRITES = {"accounts.top_up", "accounts.suspend", "quarantine.reprocess"}
ACCOUNT_ADMIN_HOLDS = {
    "accounts.read", "subscribers.read", "subscribers.write", "endpoints.read", "endpoints.write",
    "dids.read", "calls.read", "invoices.read",
}


SELF_SERVICE = {"self.read", "self.write"}


def expected(role: str, permission: str) -> bool:
    """The issue's words, written out independently of roles.py's table
    (every role sees its own user and manages its own tokens)."""
    if permission in SELF_SERVICE:
        return True
    reads = permission.endswith(".read")
    return {
        OPERATOR: True,
        SUPPORT: (reads and permission != "users.read") or permission in SUPPORT_WRITES,
        AUDITOR: reads,
        ACCOUNT_ADMIN: permission in ACCOUNT_ADMIN_HOLDS,
    }[role]


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_holds_exactly_its_permissions(role, permission):
    """operator: everything; support: read (not users), top-up, suspend/reinstate,
    re-process quarantine — no tariffs, templates or users; auditor: read-only;
    account_admin: its own account's subscribers, endpoints, DIDs, calls, invoices."""
    assert allowed(role, permission, account_id=7, own_account_id=7) is expected(role, permission)


def test_the_permissions_cover_what_the_issue_names():
    """The named permissions the routes will ask for exist."""
    assert {"accounts.read", "accounts.top_up", "accounts.suspend", "tariffs.write", "templates.write",
            "users.write", "audit.read", "quarantine.reprocess"} <= PERMISSIONS


@pytest.mark.parametrize(("account_id", "own_account_id"), [(8, 7), (None, 7), (7, None), (None, None)])
def test_an_account_admin_holds_nothing_outside_its_own_account(account_id, own_account_id):
    """Invariant 8: an account admin never sees another account's data, nor an
    unnamed account's (a request not about one account is refused)."""
    assert not allowed(ACCOUNT_ADMIN, "accounts.read", account_id=account_id, own_account_id=own_account_id)


def test_other_roles_are_not_bound_to_an_account():
    """Operators, support and auditors act on every account."""
    assert all(allowed(role, "accounts.read", account_id=8, own_account_id=None)
               for role in (OPERATOR, SUPPORT, AUDITOR))


def test_an_unknown_role_holds_nothing():
    """A role not in the table (a stale row, a typo) is refused everything."""
    assert not any(allowed("root", permission) for permission in PERMISSIONS)


def test_an_unknown_permission_is_a_loud_error():
    """A route asking for a misspelt permission fails at once rather than being silently refused."""
    with pytest.raises(UnknownPermission):
        allowed(OPERATOR, "acounts.read")


def test_an_account_admin_sees_only_its_own_account_and_staff_see_every_one() -> None:
    """Invariant 8 as one rule, asked by the API, /admin and the console."""
    assert sees_account(ACCOUNT_ADMIN, 7, 7)
    assert not sees_account(ACCOUNT_ADMIN, 7, 8) and not sees_account(ACCOUNT_ADMIN, 7, None)
    assert sees_account(AUDITOR, None, 8) and sees_account(AUDITOR, None, None)
