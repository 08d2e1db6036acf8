"""/api/v1's one error shape: ``{"error": {"code", "message", "field"?}}``.

Every answer of /api/v1 that is not a success has this body and
``Content-Type: application/json``: the routes' own refusals
(:class:`ApiError`), the owners' refusals (through
:func:`web.admin_input.refusals`), aiohttp's 404, 405 and 413, and an
unexpected exception (500 ``internal``; its traceback goes to the log,
never to the client). ``code`` is a stable word a client can branch on;
``message`` is for a person; ``field`` names the input to blame (a query
parameter, or a body field's dotted path such as ``items.0.id``).

==========  ======================  =========================================
status      code                    when
==========  ======================  =========================================
400         ``invalid``             a query parameter or body field breaks its rule
401         ``unauthenticated``     no or wrong bearer token
404         ``not_found``           no such route or resource
405         ``method_not_allowed``  the route has no such method
409         ``conflict``            the resource's state refuses the change
413         ``too_large``           body over 64 KiB
415         ``unsupported_media``   body not ``application/json``
429         ``too_many_failures``   locked out after failed authentications
500         ``internal``            a fault of ours
==========  ======================  =========================================
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from web.json_body import explained

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

CODES = {400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media", 429: "too_many_failures",
         500: "internal", 503: "unavailable"}
"""The ``code`` of each status /api/v1 answers with."""


class ApiError(Exception):
    """A refusal of /api/v1: its status, message and the field to blame."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.headers = headers or {}


def error_response(status: int, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """Return ``{"error": {"code", "message"[, "field"]}}`` with ``status``."""
    error: dict[str, Any] = {"code": CODES.get(status, "error"), "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status, headers=headers)


@web.middleware
async def api_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer every refusal and failure under /api/v1 in the one error shape
    (other paths pass through untouched, to :func:`web.json_body.json_errors`)."""
    if not (request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, str(exc), exc.field, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message, headers = explained(request, exc)
        return error_response(exc.status, message, headers=headers)
    except Exception:
        log.exception("API: %s %s failed", request.method, request.path[:200])
        return error_response(500, "internal error")
