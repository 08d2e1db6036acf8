"""Schemathesis against the served /api/v1 (issue 13): every operation of
the OpenAPI document the real app serves, with generated valid and invalid
requests, answers below 500 and with a body its document declares for that
status (``not_a_server_error`` and ``response_schema_conformance``).

The app runs in its own thread with its own event loop on a migrated
SQLite file holding a subscriber, its calls and a quarantined line; the
schema is loaded from /api/v1/openapi.json, so a route declared later is
tested as soon as it is merged. Fixed seed, bounded examples.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from billing.ingest import CdrSource, ingest_lines
from controlplane import db, migrate
from controlplane.settings import Settings
from tests.integration.admin.support import new_subscriber
from tests.integration.admin.test_http_admin import AUTH, TOKEN, Plane
from tests.integration.billing.cdrs import master_line
from web.api import API_ROUTES
from web.api.openapi import openapi_document
from web.app import build_admin_app

START = datetime(2025, 8, 2, 10, 0, tzinfo=UTC)
CHECKS = [not_a_server_error, response_schema_conformance]


async def _seed(engine) -> None:
    """A subscriber with a few calls, and a line quarantined for an unknown account."""
    await new_subscriber(engine, code="FUZZ")
    lines = [master_line(f"fuzz-{i}", account="FUZZ", start=START + timedelta(minutes=i)) for i in range(5)]
    await ingest_lines(engine, [*lines, master_line("orphan", account="NOBODY")], CdrSource("Master.csv", "pbx1"))


class ServedApi:
    """The real admin app on 127.0.0.1, served by a thread with its own loop."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.url = ""
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="served-api", daemon=True)

    def __enter__(self) -> "ServedApi":
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._failure is not None or not self.url:
            raise RuntimeError("the API did not start") from self._failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        url = f"sqlite+aiosqlite:///{self.state_dir / 'api.sqlite3'}"
        await migrate.upgrade(url)
        engine = db.create_engine(url)
        try:
            await _seed(engine)
            plane = Plane(engine, Settings(state_dir=self.state_dir, admin_token=TOKEN))
            runner = web.AppRunner(build_admin_app(plane.services()), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()
        finally:
            await engine.dispose()


@pytest.fixture(scope="module")
def served_api(tmp_path_factory) -> Iterator[ServedApi]:
    with ServedApi(tmp_path_factory.mktemp("api-schema")) as served:
        yield served


# Generated from the same declarations the app serves its document from (the
# lazy fixture loader of schemathesis needs a pytest older than this suite's);
# test_the_served_document_is_the_one_tested holds the two together.
DOCUMENT = openapi_document(API_ROUTES)
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_the_one_tested(served_api):
    """/api/v1/openapi.json as served is the document the operations below come from."""
    with urllib.request.urlopen(f"{served_api.url}/api/v1/openapi.json", timeout=10) as response:
        assert json.load(response) == json.loads(json.dumps(DOCUMENT))


@schema.parametrize()
@seed(20261206)
@settings(max_examples=100, deadline=None, database=None, derandomize=False,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_below_500_as_its_document_declares(case, served_api):
    """No 5xx for any generated request, and every response matches the
    schema the document declares for its status and content type."""
    case.call_and_validate(base_url=served_api.url, headers=dict(AUTH), checks=CHECKS)


def test_every_operation_declares_its_success_schema_and_its_refusals():
    """A success body is described (an object, for JSON), and the error shape
    under 400 and 404 always, 401/403/429 where a permission is needed,
    413/415 where a body is taken."""
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            [success] = [status for status in responses if status.startswith("2")]
            [(media, content)] = responses[success]["content"].items()
            assert content["schema"].get("type") != "string" or media != "application/json", (path, method)
            wanted = {"400", "404"} | ({"401", "403", "429"} if "security" in operation else set())
            wanted |= {"413", "415"} if "requestBody" in operation else set()
            assert wanted <= set(responses), (path, method, sorted(responses))
            for status in set(responses) - {success}:
                assert responses[status]["content"]["application/json"]["schema"] == error, (path, method, status)
