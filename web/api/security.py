"""Who is calling /api/v1, and may they: the one place a request is
authenticated and its role checked (issue 13, item 3).

A request carries ``Authorization: Bearer <credential>``:

- a personal API token (``cpt_…``, :mod:`access.tokens`): the caller is
  its user, with the user's role (and, for an ``account_admin``, account);
- the ``admin_token`` setting: the bootstrap credential, with which the
  first operator is created. It acts as the operator named
  :data:`BOOTSTRAP_ACTOR` (audited under that name); once named operators
  exist, an operator may leave the setting empty to turn it off.

A wrong credential is a failure counted against the source (429 with
``Retry-After`` after a few; :mod:`web.auth`) and answers 401; a caller
whose role lacks the route's permission gets 403 ``forbidden``. An account
admin holds its permissions only for its own account: the route asks
:meth:`Caller.check_account` with the account the resource belongs to (403
for another), and lists are filtered by :attr:`Caller.own_account_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aiohttp import web

from access.audit import Actor
from access.roles import ACCOUNT_ADMIN, holds, sees_account
from web.admin_routes import ADMIN_SERVICES, FAILED_LOGINS
from web.auth import BOOTSTRAP_ACTOR, Refused, identify

from .errors import ApiError

__all__ = ["BOOTSTRAP_ACTOR", "Caller", "authenticated", "caller"]


@dataclass(frozen=True)
class Caller:
    """Who made a request: a user (or the bootstrap operator), their role,
    their account (account admins only), the client's address and the kind
    of credential (``token``, ``admin_token`` or ``session``)."""

    name: str
    role: str
    credential: str
    source: str
    account_id: Optional[int] = None

    @property
    def actor(self) -> Actor:
        """The caller as the audit log names them."""
        return Actor(name=self.name, source=self.source[:64] or "unknown", role=self.role)

    @property
    def own_account_id(self) -> Optional[int]:
        """The one account an account admin may see; None for staff (every account)."""
        return self.account_id if self.role == ACCOUNT_ADMIN else None

    def may(self, permission: str) -> bool:
        """True if the caller's role holds ``permission`` (on some account, for an account admin)."""
        return holds(self.role, permission)

    def check_account(self, account_id: Optional[int]) -> None:
        """Raise ApiError 403 unless the caller may see ``account_id``: staff
        may see every account, an account admin only its own (a resource of
        no account is not theirs)."""
        if not sees_account(self.role, self.account_id, account_id):
            raise ApiError(403, "forbidden: this resource belongs to another account")


def _remote(request: web.Request) -> str:
    return (request.remote or "unknown")[:64]


async def authenticated(request: web.Request) -> Caller:
    """Return who sent ``request`` (:func:`web.auth.identify`, shared with
    /admin); raise ApiError 401 (no or wrong credential) or 429 (the source
    is locked out after failures)."""
    services = request.app[ADMIN_SERVICES]
    try:
        who = await identify(request, services.engine, services.admin_token,  # type: ignore[attr-defined]
                             request.app[FAILED_LOGINS])
    except Refused as refused:
        raise ApiError(refused.status, str(refused), headers=refused.headers) from None
    return Caller(name=who.name, role=who.role, credential=who.credential, source=_remote(request),
                  account_id=who.account_id)


async def caller(request: web.Request, permission: str) -> Caller:
    """Return who sent ``request`` if their role holds ``permission``;
    ApiError 401/429 as :func:`authenticated`, 403 when the role lacks it."""
    who = await authenticated(request)
    if not who.may(permission):
        raise ApiError(403, f"forbidden: the role {who.role} may not do this ({permission})")
    return who
