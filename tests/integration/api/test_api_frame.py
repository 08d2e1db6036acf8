"""/api/v1's frame: the OpenAPI 3.1 document generated from the route
declarations, the docs page, and one error shape for every refusal
(issue 13, items 1–2: "one error shape everywhere", "a test fails if a
route is missing from the document")."""

from __future__ import annotations

from typing import Any

from web.api import API_ROUTES
from web.json_body import MAX_BODY_BYTES

from tests.integration.admin.test_http_admin import AUTH

API = "/api/v1"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def _document(client) -> dict[str, Any]:
    response = await client.get(f"{API}/openapi.json")
    assert response.status == 200
    return await response.json()


def _assert_error(body: dict[str, Any], code: str, field: str | None = None) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"].get("field") == field
    assert "Traceback" not in body["error"]["message"]


async def test_every_declared_route_is_in_the_openapi_document(client) -> None:
    """Issue 13 item 2: a route missing from the document fails this test."""
    paths = (await _document(client))["paths"]
    for route in API_ROUTES:
        operation = paths.get(route.path, {}).get(route.method.lower(), {})
        assert operation.get("operationId") == route.operation_id, f"{route.method} {route.path} undocumented"


async def test_every_api_route_in_the_router_is_declared(client) -> None:
    """Issue 13 item 2: no /api/v1 route is added behind the registry's back
    (it would be missing from the document and from the permission checks)."""
    declared = {(r.method, r.path) for r in API_ROUTES}
    served = {(route.method, route.resource.canonical) for route in client.app.router.routes()
              if route.resource is not None and route.resource.canonical.startswith(API + "/")}
    assert served == declared


async def test_the_document_is_structurally_openapi_3_1(client) -> None:
    """OpenAPI 3.1: version 3.1.0, info, paths with operations and unique
    operationIds, responses; every $ref points at a schema that exists."""
    document = await _document(client)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    schemas = document["components"]["schemas"]
    operation_ids = []
    for path, operations in document["paths"].items():
        assert path.startswith(API + "/")
        for method, operation in operations.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert operation["responses"], f"{method} {path} has no responses"
            operation_ids.append(operation["operationId"])
            for parameter in operation["parameters"]:
                assert parameter["in"] in {"query", "path"} and "schema" in parameter
                if parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path and parameter["required"] is True
    assert len(operation_ids) == len(set(operation_ids))
    refs = _refs(document)
    assert refs, "the document references its schemas"
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


async def test_money_is_a_decimal_string_in_the_document(client) -> None:
    """Invariant 1: money is never a JSON number — its schema is a string."""
    balance = (await _document(client))["components"]["schemas"]["AccountOut"]["properties"]["balance"]
    assert balance["type"] == "string" and "pattern" in balance


async def test_the_docs_page_lists_every_operation_as_plain_html(client) -> None:
    """Issue 13 item 2: a browsable docs page, server-rendered, no script."""
    response = await client.get(f"{API}/docs")
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert "<script" not in page.lower()
    for route in API_ROUTES:
        assert f"id={route.operation_id}>" in page
    assert "AccountOut" in page


async def test_no_token_is_401_in_the_error_shape(client) -> None:
    """Every refusal is {"error": {"code", "message"}}: 401 without the token."""
    response = await client.get(f"{API}/subscribers")
    assert response.status == 401
    _assert_error(await response.json(), "unauthenticated")


async def test_an_unknown_path_is_404_in_the_error_shape(client) -> None:
    """An unknown route under /api/v1 answers 404 in the one shape."""
    response = await client.get(f"{API}/no-such-thing", headers=AUTH)
    assert response.status == 404
    _assert_error(await response.json(), "not_found")


async def test_an_unknown_account_is_404_in_the_error_shape(client) -> None:
    """An id no account has answers 404 (the owner's refusal), not 500."""
    response = await client.get(f"{API}/accounts/999999", headers=AUTH)
    assert response.status == 404
    _assert_error(await response.json(), "not_found")


async def test_a_wrong_method_is_405_in_the_error_shape(client) -> None:
    """A method the route lacks answers 405 with Allow, in the one shape."""
    response = await client.delete(f"{API}/subscribers", headers=AUTH)
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    _assert_error(await response.json(), "method_not_allowed")


async def test_a_body_too_large_is_413_in_the_error_shape(client) -> None:
    """A body past 64 KiB answers 413 in the one shape."""
    response = await client.post(f"{API}/quarantine/reprocess", data=b"{" + b" " * MAX_BODY_BYTES + b"}",
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 413
    _assert_error(await response.json(), "too_large")


async def test_a_body_not_json_is_415_in_the_error_shape(client) -> None:
    """A body that is not application/json answers 415 in the one shape."""
    response = await client.post(f"{API}/quarantine/reprocess", data=b"id=1",
                                 headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 415
    _assert_error(await response.json(), "unsupported_media")


async def test_a_bad_body_field_is_400_naming_it(client) -> None:
    """A body field breaking its rule answers 400 naming the field."""
    response = await client.post(f"{API}/quarantine/reprocess", json={"id": "one"}, headers=AUTH)
    assert response.status == 400
    _assert_error(await response.json(), "invalid", "id")


async def test_an_unknown_query_parameter_is_400_naming_it(client) -> None:
    """Unknown parameters are refused, not ignored: 400 naming it."""
    response = await client.get(f"{API}/subscribers?serch=ion", headers=AUTH)
    assert response.status == 400
    _assert_error(await response.json(), "invalid", "serch")


async def test_admin_routes_keep_their_own_error_shape(client) -> None:
    """/admin stays unchanged: its refusals are still {"error": "<reason>"}."""
    response = await client.get("/admin/accounts/999999", headers=AUTH)
    assert response.status == 404
    assert isinstance((await response.json())["error"], str)
