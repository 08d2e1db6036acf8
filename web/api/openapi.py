"""The OpenAPI 3.1 document of /api/v1, generated from the route
declarations (:mod:`web.api.registry`) and their pydantic models, and a
docs page rendered from it on the server (plain HTML, escaped; no script,
no CDN). Both are public: they describe the API, never its data."""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from web.admin_input import MAX_ID

from .registry import TEXT_PARAMETERS, ApiCall, ApiRoute, RouteTable
from .schemas import ErrorBody

routes = RouteTable()

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "number": {"type": "string", "pattern": "^[0-9]{1,15}$", "description": "a DID's E.164 digits"},
}
"""Path parameters that are not ids (matched as ASCII digits all the same)."""
_ERROR_STATUSES = {"400": "bad input (a query parameter, or a body field), naming the field",
                   "401": "no or wrong bearer token", "403": "the caller's role or account may not do this",
                   "404": "no such resource", "409": "the resource's state refuses the change",
                   "413": "body over the size limit", "415": "body not application/json",
                   "429": "locked out after failed authentications"}
_AUTHENTICATED = ("401", "403", "429")
_WITH_BODY = ("413", "415")
# the media type a route without a response model answers with, by its declared media type
_UNMODELLED = {"application/json": {"type": "object"}}


def error_statuses(route: ApiRoute) -> list[str]:
    """The refusals ``route`` may answer with: 400 and 404 always (any query
    is checked, any path may name nothing), 401/403/429 when it needs a
    permission, 409 for a change, 413/415 when it takes a body."""
    statuses = ["400", "404"]
    if route.permission is not None:
        statuses += _AUTHENTICATED
    if route.method != "GET":
        statuses.append("409")
    if route.body is not None:
        statuses += _WITH_BODY
    return sorted(statuses)


def openapi_document(api_routes: list[ApiRoute]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``api_routes``."""
    pairs: list[tuple[Any, Any]] = [(ErrorBody, "serialization")]
    for route in api_routes:
        if route.body is not None:
            pairs.append((route.body, "validation"))
        if route.response is not None:
            pairs.append((route.response, "serialization"))
    refs, definitions = models_json_schema(pairs, ref_template=_REF)
    error_ref = refs[(ErrorBody, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, error_ref)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "ClickPhone control plane API", "version": API_VERSION,
                 "description": "The versioned admin API. Money is decimal euros as strings; every "
                                "refusal is {\"error\": {\"code\", \"message\", \"field\"?}}."},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: ApiRoute, refs: dict[Any, Any], error_ref: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary,
                                 "description": (route.handler.__doc__ or "").strip(),
                                 "parameters": _parameters(route)}
    if route.permission is not None:
        operation["security"] = [{"bearer": []}]
        operation["x-permission"] = route.permission
    if route.body is not None:
        operation["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": refs[(route.body, "validation")]}}}
        if route.accepts_csv:
            operation["requestBody"]["content"]["text/csv"] = {"schema": {"type": "string"}}
    if route.response is not None:
        content = {route.media_type: {"schema": refs[(route.response, "serialization")]}}
    else:
        content = {route.media_type: {"schema": _UNMODELLED.get(route.media_type, {"type": "string"})}}
    responses: dict[str, Any] = {str(route.status): {"description": route.summary, "content": content}}
    for status in error_statuses(route):
        responses[status] = {"description": _ERROR_STATUSES[status],
                             "content": {"application/json": {"schema": error_ref}}}
    operation["responses"] = responses
    return operation


def _parameters(route: ApiRoute) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": TEXT_PARAMETERS[name][1] if name in TEXT_PARAMETERS
         else _PATH_SCHEMAS.get(name, _ID_SCHEMA)}
        for name in route.path_parameters
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=_REF)
        required = set(schema.get("required", ()))
        for name, prop in schema["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                parameter["description"] = prop["description"]
            parameters.append(parameter)
    return parameters


# -- serving -------------------------------------------------------------------------

OPENAPI_DOCUMENT = web.AppKey("api_openapi_document", dict)


@routes.route("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", permission=None)
async def get_openapi(call: ApiCall) -> web.Response:
    """The document, generated once at start from the routes and their models."""
    return web.json_response(call.request.app[OPENAPI_DOCUMENT])


@routes.route("GET", "/docs", summary="This API's documentation as a web page", permission=None,
              media_type="text/html")
async def get_docs(call: ApiCall) -> web.Response:
    """Every operation with its parameters, and every schema, as plain HTML."""
    return web.Response(text=docs_page(call.request.app[OPENAPI_DOCUMENT]), content_type="text/html",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}"
          "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;"
          "text-align:left;vertical-align:top}code{background:#f4f4f4}pre{background:#f8f8f8;padding:.5rem;"
          "overflow:auto}.m{font-weight:bold;text-transform:uppercase}")


def docs_page(document: dict[str, Any]) -> str:
    """The docs page of ``document``: operations, their parameters, and the schemas."""
    e = html.escape
    info = document["info"]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(info['title'])}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{e(info['title'])} <small>{e(info['version'])}</small></h1>",
             f"<p>{e(info.get('description', ''))}</p><p><a href=openapi.json>openapi.json</a></p>",
             "<h2>Operations</h2><table><tr><th>method</th><th>path</th><th>summary</th><th>permission</th>"
             "<th>parameters</th></tr>"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = ", ".join(f"<code>{e(p['name'])}</code> ({e(p['in'])})" for p in operation["parameters"])
            parts.append(f"<tr id={e(operation['operationId'])}><td class=m>{e(method)}</td><td><code>{e(path)}"
                         f"</code></td><td>{e(operation['summary'])}</td>"
                         f"<td>{e(operation.get('x-permission', 'public'))}</td><td>{parameters}</td></tr>")
    parts.append("</table><h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        parts.append(f"<h3 id=schema-{e(name)}>{e(name)}</h3><pre>{e(json.dumps(schema, indent=2))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
