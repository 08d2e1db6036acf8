"""JSON in, JSON out: the admin HTTP app's one body reader and one error shape.

Every answer that is not a success is ``{"error": "<reason>"}`` (plus
``"field"`` when one field is to blame), with ``Content-Type:
application/json`` — aiohttp's own 404, 405 and 413 included, and an
unexpected exception, which answers 500 ``{"error": "internal error"}``
(its traceback goes to the log, never to the client). :func:`json_errors`
is the middleware that makes it so for every route, ``/health`` too.

A request body is read by :func:`json_object` only, with these bounds:

=======================  ==================================================
size                     at most :data:`MAX_BODY_BYTES` (64 KiB) → else 413
nesting                  at most :data:`MAX_JSON_DEPTH` (32) levels → else 400
encoding                 UTF-8 JSON (no NaN or Infinity) → else 400
shape                    one object with known fields → else 400 naming it
=======================  ==================================================

Nesting is counted before parsing, so the parser never recurses deep
enough to raise RecursionError; the size bound keeps the work of one
request (reading, counting, parsing) to a millisecond or two of the event
loop.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""The largest request body, in bytes (aiohttp's ``client_max_size``)."""
MAX_JSON_DEPTH = 32
"""The deepest nesting of arrays and objects a body may have."""

# a JSON string literal (escapes included): brackets inside one do not nest
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class BadRequest(Exception):
    """The request itself cannot be read (not JSON, wrong shape)."""

    def __init__(self, message: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def error_response(status: int, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """Return the JSON refusal ``{"error": message[, "field": field]}``."""
    body: dict[str, str] = {"error": message}
    if field:
        body["field"] = field
    return web.json_response(body, status=status, headers=headers)


# What aiohttp's own refusals say, in the API's words.
_REASONS = {
    404: lambda request, exc: f"no such resource: {request.path[:200]}",
    405: lambda request, exc: f"method {request.method} not allowed here; allowed: {exc.headers.get('Allow', '')}",
    413: lambda request, exc: f"body too large: at most {MAX_BODY_BYTES} bytes",
}


def explained(request: web.Request, exc: web.HTTPException) -> tuple[str, dict[str, str]]:
    """The message of aiohttp's own refusal ``exc``, in the API's words, and
    its headers to keep (``Allow``, ``Retry-After``...; not its body's)."""
    explain = _REASONS.get(exc.status)
    headers = {name: value for name, value in exc.headers.items()
               if name.lower() not in ("content-type", "content-length")}
    return (explain(request, exc) if explain else exc.reason), headers


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer every refusal and failure of ``handler`` as JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are not refusals
        message, headers = explained(request, exc)
        return error_response(exc.status, message, headers=headers)
    except Exception:
        # the traceback is for the operator's log, not for the client
        log.exception("admin HTTP API: %s %s failed", request.method, request.path[:200])
        return error_response(500, "internal error")


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON ``text`` nests arrays and objects deeper than
    ``limit``, or could make a parser descend deeper (unbalanced). Without
    recursion: strings are cut out, then innermost ``[]`` / ``{}`` pairs
    are removed ``limit`` times; brackets left mean deeper nesting."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if brackets.count("[") + brackets.count("{") <= limit:
        return False
    for removed in range(limit):
        if not brackets:
            return False
        if re.search(rf"[\[{{]{{{limit - removed + 1}}}", brackets):
            return True  # a run of openers alone goes past the limit
        shorter = brackets.replace("[]", "").replace("{}", "")
        if shorter == brackets:
            # unbalanced: the parser descends at most through the openers left
            openers = brackets.count("[") + brackets.count("{")
            return removed + openers > limit
        brackets = shorter
    return bool(brackets)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """Return the JSON document in ``raw`` (UTF-8), numbers with a fraction
    or exponent as exact Decimals; raise BadRequest."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not UTF-8 text") from exc
    if too_deep(text):
        raise BadRequest(f"body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError as exc:  # JSONDecodeError, and integers of over 4300 digits
        raise BadRequest(f"body is not valid JSON: {str(exc)[:200]}") from exc


async def json_object(request: web.Request, allowed: Collection[str],
                      required: Collection[str] = ()) -> dict[str, Any]:
    """Return the request's JSON object; refuse other shapes, unknown and
    missing fields (BadRequest, or aiohttp's 413 past the size bound)."""
    if request.content_type != "application/json":
        raise BadRequest("send a JSON object with Content-Type: application/json", status=415)
    body = parse_json(await request.read())  # read() enforces client_max_size
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    for key in body:
        if key not in allowed:
            raise BadRequest(f"unknown field {key[:40]!r}; expected some of {sorted(allowed)}", field=key[:40])
    for key in sorted(required):
        if body.get(key) is None:
            raise BadRequest(f"{key}: required", field=key)
    return body
