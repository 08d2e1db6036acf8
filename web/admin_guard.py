"""The /admin routes' guard: who may call each route, and the audited
change a write makes (issue 13: /admin stays, and is authenticated,
authorised and audited like /api/v1).

:func:`admin_route` authenticates a request with the one function /api/v1
uses (:func:`web.auth.identify`: personal API tokens and the bootstrap
``admin_token``, the same failed-login counter, 401/429), checks the route's
permission (:mod:`access.roles`; /admin is staff-only, so an account admin
gets 403 on every route), turns the owners' refusals into /admin's error
shape ``{"error", "field"?}``, and remembers the caller for
:func:`audited`: the one audited change (:func:`web.audited.audited_change`)
a write makes, in the transaction of the change itself.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from functools import wraps
from typing import TYPE_CHECKING, Awaitable, Callable, Optional

from aiohttp import web

from access.audit import Actor
from access.roles import ACCOUNT_ADMIN, PERMISSIONS, UnknownPermission, holds

from .admin_input import AdminError, InvalidInputError, PlanImportError, refusals
from .audited import Change, audited_change
from .auth import FailedLogins, Refused, identify
from .json_body import BadRequest, error_response

if TYPE_CHECKING:
    from .app import AdminServices

ADMIN_SERVICES = web.AppKey("admin_services", object)
FAILED_LOGINS = web.AppKey("admin_failed_logins", FailedLogins)
_ACTOR = web.RequestKey("admin_actor", Actor)  # the authenticated caller, as the audit log names them

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def services_of(request: web.Request) -> "AdminServices":
    """The services the /admin routes work with."""
    return request.app[ADMIN_SERVICES]  # type: ignore[return-value]


def admin_route(permission: str) -> Callable[[Handler], Handler]:
    """Guard a /admin handler needing ``permission`` (see the module
    docstring); the guarded handler carries it as ``.permission``."""
    if permission not in PERMISSIONS:
        raise UnknownPermission(f"unknown permission {permission!r}")  # a typo fails at import

    def guard(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            services = services_of(request)
            try:
                who = await identify(request, services.engine, services.admin_token, request.app[FAILED_LOGINS])
            except Refused as refused:
                return error_response(refused.status, str(refused), headers=refused.headers)
            if who.role == ACCOUNT_ADMIN or not holds(who.role, permission):
                # /admin has no per-account filtering: it is for staff only
                return error_response(403, f"forbidden: the role {who.role} may not do this ({permission})")
            request[_ACTOR] = Actor(name=who.name, source=(request.remote or "unknown")[:64], role=who.role)
            try:
                with refusals():
                    return await handler(request)
            except BadRequest as exc:
                return error_response(exc.status, str(exc), exc.field)
            except PlanImportError as exc:
                return web.json_response({"error": str(exc), "field": exc.field, "problems": exc.problems},
                                         status=400)
            except InvalidInputError as exc:
                return error_response(exc.status, str(exc), exc.field)
            except AdminError as exc:
                return error_response(exc.status, str(exc))

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded

    return guard


def actor_of(request: web.Request) -> Actor:
    """The caller of a guarded request, as the audit log names them."""
    return request[_ACTOR]


def audited(request: web.Request, action: str, resource: str, resource_id: Optional[str | int] = None
            ) -> AbstractAsyncContextManager[Change]:
    """The audited change a /admin write makes: ``action`` on ``resource``
    ``resource_id`` by the caller, committed with its audit entry."""
    services = services_of(request)
    return audited_change(services.engine, actor_of(request), services.notifier,
                          action=action, resource=resource, resource_id=resource_id)
