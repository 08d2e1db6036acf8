"""Who calls the admin HTTP API (/api/v1 and /admin alike: :func:`identify`),
and what happens after a wrong credential.

Every failed authentication is logged (WARNING, logger
``web.auth``) with the source address, the method and the
path — never the token presented. Repeated failures from one source are
slowed down by refusing it for a while rather than by holding its
connections open: after :data:`FREE_FAILURES` failures in a row, each
further failure locks the source out for twice as long as the last one
(1 s, 2 s, 4 s … at most :data:`MAX_LOCKOUT_SECONDS`), and while locked
out every request from it answers 429 with ``Retry-After`` without the
token being compared at all. A success forgets the source's failures, as
do :data:`FORGET_AFTER_SECONDS` without one. Nothing sleeps or blocks:
the counter is a dict lookup.

A source is an IPv4 address, or an IPv6 /64 (one host can use a whole
/64). At most :data:`MAX_SOURCES` sources are remembered, the oldest
forgotten first, so the table's size is bounded whatever the attacker
sends.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from access import tokens
from access.errors import TokenRejected
from access.roles import OPERATOR

log = logging.getLogger(__name__)

FREE_FAILURES = 5
FIRST_LOCKOUT_SECONDS = 1.0
MAX_LOCKOUT_SECONDS = 300.0
FORGET_AFTER_SECONDS = 900.0
MAX_SOURCES = 10_000


def bearer_token_matches(request: web.Request, token: str) -> bool:
    """True when the request carries ``Authorization: Bearer <token>``
    (compared in constant time); an empty ``token`` matches nothing."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def source_of(request: web.Request) -> str:
    """The source a failure is counted against: the peer's IPv4 address or IPv6 /64."""
    remote = request.remote or "unknown"
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class _Failures:
    count: int
    last_at: float
    locked_until: float


class FailedLogins:
    """Failed authentications per source, and the lockouts they earn."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sources: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, source: str) -> int | None:
        """Whole seconds until ``source`` may try again, or None when it may now."""
        failures = self._current(source)
        if failures is None:
            return None
        left = failures.locked_until - self._clock()
        return math.ceil(left) if left > 0 else None

    def failed(self, source: str) -> int | None:
        """Count a failure of ``source``; return the lockout it starts, in
        whole seconds, or None while its failures are still free."""
        now = self._clock()
        failures = self._current(source) or _Failures(0, now, now)
        failures.count += 1
        failures.last_at = now
        self._sources[source] = failures
        self._sources.move_to_end(source)
        while len(self._sources) > MAX_SOURCES:
            self._sources.popitem(last=False)
        if failures.count <= FREE_FAILURES:
            return None
        lockout = min(FIRST_LOCKOUT_SECONDS * 2 ** min(failures.count - FREE_FAILURES - 1, 30),
                      MAX_LOCKOUT_SECONDS)
        failures.locked_until = now + lockout
        return math.ceil(lockout)

    def succeeded(self, source: str) -> None:
        """Forget ``source``'s failures."""
        self._sources.pop(source, None)

    def _current(self, source: str) -> _Failures | None:
        failures = self._sources.get(source)
        if failures is not None and self._clock() - failures.last_at > FORGET_AFTER_SECONDS:
            del self._sources[source]
            return None
        return failures


class Refused(Exception):
    """Why a request is not let in: its status (401 no or wrong credential,
    429 locked out), message and headers; each surface answers it in its
    own error shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


BOOTSTRAP_ACTOR = "admin_token"
"""The name the bootstrap credential acts and is audited under (reserved: no user may take it)."""

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="clickphone-admin"'}


@dataclass(frozen=True)
class Identity:
    """Who a credential names: a user (or the bootstrap operator), their
    role, their account (account admins only) and the kind of credential
    (``token`` or ``admin_token``)."""

    name: str
    role: str
    credential: str
    account_id: Optional[int] = None


async def identify(request: web.Request, engine: AsyncEngine, admin_token: str,
                   failures: FailedLogins) -> Identity:
    """Return who sent ``request`` — the one authentication of /api/v1 and
    /admin: a personal API token (``cpt_…``) is its user, the ``admin_token``
    setting the bootstrap operator. Raise :class:`Refused` 401 (no or wrong
    credential, a failure counted against the source) or 429 (the source is
    locked out, the credential not even looked at)."""
    source = source_of(request)
    wait = failures.retry_after(source)
    if wait is not None:
        raise Refused(429, f"too many failed authentications; retry in {wait} s", {"Retry-After": str(wait)})
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value.startswith(tokens.TOKEN_PREFIX):
        try:
            principal = await tokens.authenticate(engine, value)
        except TokenRejected:
            pass
        else:
            failures.succeeded(source)
            return Identity(principal.username, principal.role, "token", principal.account_id)
    elif bearer_token_matches(request, admin_token):
        failures.succeeded(source)
        return Identity(BOOTSTRAP_ACTOR, OPERATOR, "admin_token")
    lockout = failures.failed(source)
    # never the credential presented: a mistyped token is half a real one
    log.warning("admin API: failed authentication from %s (%s %s)%s", request.remote, request.method,
                request.path[:200], "" if lockout is None else f"; {source} refused for {lockout} s")
    if lockout is not None:
        raise Refused(429, f"too many failed authentications; retry in {lockout} s", {"Retry-After": str(lockout)})
    raise Refused(401, "missing or wrong bearer token", _CHALLENGE)
