"""Issue 13, item 4, held structurally: a write operation of /api/v1 that
answers without exactly one audited change is logged as an ERROR naming
its route (the conftest's fixture fails any API test that causes one)."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from controlplane.settings import Settings
from tests.integration.admin.test_http_admin import AUTH, TOKEN, Plane
from web.api.registry import RouteTable, add_routes
from web.api.schemas import _Out
from web.app import build_admin_app

extra = RouteTable()


class Done(_Out):
    """What the probe routes answer."""

    changes: int


@extra.route("POST", "/probe/{count}", summary="Makes {count} audited changes", permission="fx.write",
             response=Done)
async def probe_changes(call) -> Done:
    """Open ``count`` audited changes, each with no fields."""
    count = call.path_id("count") - 1  # ids start at 1: /probe/1 makes none
    for _ in range(count):
        async with call.change("probe", "fx_rate", 1):
            pass
    return Done(changes=count)


@pytest.fixture
async def probing(engine, tmp_path):
    app = build_admin_app(Plane(engine, Settings(state_dir=tmp_path, admin_token=TOKEN)).services())
    add_routes(app, extra.routes)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(("path_count", "logged"), [(1, True), (2, False), (3, True)])
async def test_a_write_without_exactly_one_audited_change_logs_an_error_naming_it(probing, caplog, path_count,
                                                                                  logged) -> None:
    """No change, or two, is an ERROR naming the route; exactly one is not."""
    response = await probing.post(f"/api/v1/probe/{path_count}", headers=AUTH)
    assert response.status == 200, await response.text()
    errors = [r.getMessage() for r in caplog.records if r.name == "web.api.registry" and r.levelno >= logging.ERROR]
    assert bool(errors) == logged, errors
    if logged:
        assert "POST /api/v1/probe/{count} (probe_changes)" in errors[0]
    caplog.clear()  # what this test provoked is not a failure of the conftest's invariant
