"""The routes of /api/v1, each declared once with what it needs and answers.

An :class:`ApiRoute` names its method, path (OpenAPI style, ``{id}`` an
id), summary, the permission it needs (``"accounts.read"``; checked by
:func:`web.api.security.caller`'s successor), its query, body and response
models. The aiohttp routes are added from these declarations and the
OpenAPI document is generated from them, so neither can forget a route.

A handler receives an :class:`ApiCall` whose query and body are already
validated, and returns its response model's instance (sent as JSON with
the route's status) or a ready aiohttp response (a CSV stream).

A handler that changes anything does it inside :meth:`ApiCall.change`:
one transaction holding the change and its audit entry (issue 13, item 4),
so a change that fails leaves neither. A write operation (POST, PUT, PATCH,
DELETE) that answers without exactly one such change is logged as an ERROR
naming the route; the API tests fail on that log. A handler whose resource belongs to
an account calls :meth:`ApiCall.check_account` (an account admin sees only
its own; 403 otherwise) and filters its lists by :attr:`ApiCall.own_account_id`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from web.admin_input import MAX_ID, AdminError, InvalidInputError, refusals
from web.admin_routes import ADMIN_SERVICES
from web.audited import Change, audited_change
from web.json_body import BadRequest, parse_json

from .errors import API_PREFIX, ApiError
from .schemas import CLIENT
from .security import Caller, caller

Handler = Callable[["ApiCall"], Awaitable[Any]]
log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")

TEXT_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "username": (r"[a-z0-9._-]{3,64}", {"type": "string", "pattern": r"^[a-z0-9._-]{3,64}$"}),
    "plan": (r"[A-Za-z0-9_-]{1,64}", {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}),
    "invoice": (r"[A-Za-z]{1,16}-[0-9]{1,9}", {"type": "string", "pattern": r"^[A-Za-z]{1,16}-[0-9]{1,9}$",
                                              "examples": ["CP-000012"]}),
    "day": (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", {"type": "string", "format": "date"}),
    # a channel's uniqueid (dots in it: no route puts a suffix after it)
    "call_ref": (r"[A-Za-z0-9._-]{1,64}", {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$",
                                          "examples": ["1733480000.42"]}),
}
"""Path parameters that are not digits: their router pattern (no dot where
a suffix such as ``.html`` may follow, so it stays apart) and their schema.
Any other is ASCII digits."""


@dataclass(frozen=True)
class ApiRoute:
    """One operation of /api/v1 (see the module docstring)."""

    method: str
    path: str
    summary: str
    permission: Optional[str]  # None: public (the API's own documents)
    handler: Handler
    query: Optional[type[BaseModel]] = None
    body: Optional[type[BaseModel]] = None
    response: Optional[type[BaseModel]] = None
    status: int = 200
    media_type: str = "application/json"
    accepts_csv: bool = False  # the body may also be text/csv: the handler gets its text

    @property
    def operation_id(self) -> str:
        """The handler's name: unique across the API."""
        return self.handler.__name__

    @property
    def path_parameters(self) -> list[str]:
        """The names of the ids in the path, in order."""
        return _PATH_PARAMETER.findall(self.path)

    @property
    def router_path(self) -> str:
        """The path as aiohttp matches it: an id is ASCII digits ([0-9], not \\d)."""
        return _PATH_PARAMETER.sub(
            lambda m: "{" + m.group(1) + ":" + TEXT_PARAMETERS.get(m.group(1), ("[0-9]+",))[0] + "}", self.path)


@dataclass
class RouteTable:
    """The routes one module declares, in order."""

    routes: list[ApiRoute] = field(default_factory=list)

    def route(self, method: str, path: str, *, summary: str, permission: Optional[str], **options: Any
              ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` as ``method path`` (path after /api/v1)."""
        def declare(handler: Handler) -> Handler:
            self.routes.append(ApiRoute(method, API_PREFIX + path, summary, permission, handler, **options))
            return handler
        return declare


@dataclass
class _Count:
    value: int = 0


@dataclass(frozen=True)
class ApiCall:
    """A request as a handler sees it: validated query and body, and who sent it.

    ``changes_made`` counts the audited changes the handler committed
    (mutable inside the frozen call): a write must make exactly one."""

    request: web.Request
    caller: Optional[Caller]
    query: Any
    body: Any
    changes_made: _Count = field(default_factory=_Count)

    @property
    def engine(self) -> AsyncEngine:
        """The database the owners' services are called with."""
        return self.request.app[ADMIN_SERVICES].engine  # type: ignore[attr-defined,no-any-return]

    @property
    def who(self) -> Caller:
        """The authenticated caller (every route but the public documents has one)."""
        if self.caller is None:
            raise RuntimeError("a public route has no caller")
        return self.caller

    @property
    def own_account_id(self) -> Optional[int]:
        """The account an account admin is bound to (filter lists by it); None for staff."""
        return self.who.own_account_id

    def check_account(self, account_id: Optional[int]) -> None:
        """403 unless the caller may see account ``account_id`` (see :class:`Caller`)."""
        self.who.check_account(account_id)

    def change(self, action: str, resource: str, resource_id: Optional[str | int] = None
               ) -> AbstractAsyncContextManager[Change]:
        """The audited change this call makes (:func:`web.audited.audited_change`):
        ``action`` on ``resource`` ``resource_id``, by the caller."""
        return self._counted(action, resource, resource_id)

    @asynccontextmanager
    async def _counted(self, action: str, resource: str, resource_id: Optional[str | int]
                       ) -> AsyncIterator[Change]:
        services = self.request.app[ADMIN_SERVICES]
        async with audited_change(services.engine, self.who.actor, services.notifier,  # type: ignore[attr-defined]
                                  action=action, resource=resource, resource_id=resource_id) as change:
            yield change
        self.changes_made.value += 1  # committed with its entry

    def path_id(self, name: str = "id") -> int:
        """The id in the path; one no row can have answers 404, as an unknown one would."""
        text = self.request.match_info[name]
        value = int(text) if len(text) <= 10 else 0
        if not 1 <= value <= MAX_ID:
            raise ApiError(404, f"no such resource: ids are whole numbers from 1 to {MAX_ID}")
        return value


# -- cursors -------------------------------------------------------------------------


def encoded_cursor(tag: str, value: str) -> str:
    """The opaque cursor carrying ``value`` (the last row's key) under ``tag`` (the list's kind of key)."""
    return base64.urlsafe_b64encode(f"{tag}:{value}".encode()).decode().rstrip("=")


def decoded_cursor(cursor: str, tag: str, pattern: str) -> str:
    """The key a cursor of :func:`encoded_cursor` carries, if it fully
    matches ``pattern``; raise ApiError 400 naming ``cursor`` otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    match = re.fullmatch(f"{re.escape(tag)}:({pattern})", text)
    if match is None:
        raise ApiError(400, "cursor: not a cursor this API gave (pass next_cursor as it came)", "cursor")
    return match.group(1)


def cursor_for(last_id: int) -> str:
    """The opaque cursor of the page after the row ``last_id``."""
    return encoded_cursor("k1", str(last_id))


def id_from_cursor(cursor: str) -> int:
    """The row id a cursor of :func:`cursor_for` carries; raise ApiError 400 naming ``cursor``."""
    value = int(decoded_cursor(cursor, "k1", "[0-9]{1,10}"))
    if not 0 <= value <= MAX_ID:
        raise ApiError(400, "cursor: not a cursor this API gave (pass next_cursor as it came)", "cursor")
    return value


def next_cursor(rows: list[Any], limit: int) -> Optional[str]:
    """The cursor of the page after ``rows`` (None when it was the last: fewer than ``limit``)."""
    return cursor_for(rows[-1].id) if len(rows) == limit else None


# -- the adapter ---------------------------------------------------------------------


def _validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    return ApiError(400, f"{where}: {first['msg']}" if where else first["msg"], where)


def _query_of(route: ApiRoute, request: web.Request) -> Any:
    if route.query is None:
        if request.query:
            name = next(iter(request.query))[:40]
            raise ApiError(400, f"{name}: this operation takes no query parameters", name)
        return None
    values: dict[str, str] = {}
    for name in request.query:
        if name in values:
            raise ApiError(400, f"{name[:40]}: given more than once", name[:40])
        values[name] = request.query[name]
    try:
        return route.query.model_validate(values, context=CLIENT)
    except ValidationError as exc:
        raise _validation_error(exc) from None


async def _body_of(route: ApiRoute, request: web.Request) -> Any:
    if route.body is None:
        return None
    raw = await request.read()  # aiohttp's 413 past client_max_size
    document: Any = {}  # no body: the defaults, validated (a body may require a field)
    if raw and route.accepts_csv and request.content_type == "text/csv":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "body: a CSV body is UTF-8 text", "body") from None
    if raw:
        if request.content_type != "application/json":
            raise ApiError(415, "send a JSON object with Content-Type: application/json")
        try:
            document = parse_json(raw)
        except BadRequest as exc:
            raise ApiError(exc.status, str(exc), exc.field) from None
    try:
        return route.body.model_validate(document, context=CLIENT)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def adapter(route: ApiRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``route``: authenticate, validate, call, answer."""
    async def handle(request: web.Request) -> web.StreamResponse:
        who = None if route.permission is None else await caller(request, route.permission)
        call = ApiCall(request, who, _query_of(route, request), await _body_of(route, request))
        try:
            with refusals():
                answer = await route.handler(call)
        except InvalidInputError as exc:
            raise ApiError(exc.status, str(exc), getattr(exc, "field", None)) from None
        except AdminError as exc:
            raise ApiError(exc.status, str(exc)) from None
        if route.method in WRITE_METHODS and call.changes_made.value != 1:
            # item 4's invariant: a successful write is exactly one audited change
            log.error("API write %s %s (%s) made %d audited changes, not exactly one", route.method, route.path,
                      route.operation_id, call.changes_made.value)
        if isinstance(answer, web.StreamResponse):
            return answer
        return web.Response(body=answer.model_dump_json(by_alias=True), status=route.status,
                            content_type="application/json")
    handle.__name__ = route.operation_id
    return handle


def add_routes(app: web.Application, routes: list[ApiRoute]) -> None:
    """Add ``routes`` to ``app``'s router (no implicit HEAD: each method is declared)."""
    for route in routes:
        app.router.add_route(route.method, route.router_path, adapter(route))
