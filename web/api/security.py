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

import logging
from dataclasses import dataclass
from typing import Optional

from aiohttp import web

from access import tokens
from access.audit import Actor
from access.errors import TokenRejected
from access.roles import ACCOUNT_ADMIN, OPERATOR, ROLE_PERMISSIONS
from web.admin_routes import ADMIN_SERVICES, FAILED_LOGINS
from web.auth import bearer_token_matches, source_of

from .errors import ApiError

log = logging.getLogger(__name__)

BOOTSTRAP_ACTOR = "admin_token"
"""The name the bootstrap credential acts and is audited under (reserved: no user may take it)."""

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="clickphone-admin"'}


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
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def check_account(self, account_id: Optional[int]) -> None:
        """Raise ApiError 403 unless the caller may see ``account_id``: staff
        may see every account, an account admin only its own (a resource of
        no account is not theirs)."""
        if self.role == ACCOUNT_ADMIN and (account_id is None or account_id != self.account_id):
            raise ApiError(403, "forbidden: this resource belongs to another account")


def _remote(request: web.Request) -> str:
    return (request.remote or "unknown")[:64]


async def authenticated(request: web.Request) -> Caller:
    """Return who sent ``request``; raise ApiError 401 (no or wrong
    credential) or 429 (the source is locked out after failures)."""
    failures = request.app[FAILED_LOGINS]
    source = source_of(request)
    wait = failures.retry_after(source)
    if wait is not None:
        raise ApiError(429, f"too many failed authentications; retry in {wait} s", headers={"Retry-After": str(wait)})
    services = request.app[ADMIN_SERVICES]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value.startswith(tokens.TOKEN_PREFIX):
        try:
            principal = await tokens.authenticate(services.engine, value)  # type: ignore[attr-defined]
        except TokenRejected:
            pass
        else:
            failures.succeeded(source)
            return Caller(name=principal.username, role=principal.role, credential="token",
                          source=_remote(request), account_id=principal.account_id)
    elif bearer_token_matches(request, services.admin_token):  # type: ignore[attr-defined]
        failures.succeeded(source)
        return Caller(name=BOOTSTRAP_ACTOR, role=OPERATOR, credential="admin_token", source=_remote(request))
    lockout = failures.failed(source)
    # never the credential presented: a mistyped token is half a real one
    log.warning("API: failed authentication from %s (%s %s)%s", request.remote, request.method,
                request.path[:200], "" if lockout is None else f"; {source} refused for {lockout} s")
    if lockout is not None:
        raise ApiError(429, f"too many failed authentications; retry in {lockout} s",
                       headers={"Retry-After": str(lockout)})
    raise ApiError(401, "missing or wrong bearer token", headers=_CHALLENGE)


async def caller(request: web.Request, permission: str) -> Caller:
    """Return who sent ``request`` if their role holds ``permission``;
    ApiError 401/429 as :func:`authenticated`, 403 when the role lacks it."""
    who = await authenticated(request)
    if not who.may(permission):
        raise ApiError(403, f"forbidden: the role {who.role} may not do this ({permission})")
    return who
