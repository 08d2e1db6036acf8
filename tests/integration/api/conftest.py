"""An /api/v1 client over the real admin app, on SQLite and PostgreSQL
(the ``engine`` fixture is parametrised by tests/fixtures/postgres.py).

Every API test also holds issue 13's audit invariant at run time: a write
operation that answered without exactly one audited change makes the
adapter log an ERROR (web.api.registry), and
:func:`every_write_made_one_audited_change` fails the test that caused it —
whatever route it called, including routes added later."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from controlplane.settings import Settings
from tests.integration.admin.test_http_admin import AUTH, TOKEN, Plane
from web.app import build_admin_app

__all__ = ["AUTH"]


@pytest.fixture
async def client(engine, tmp_path):
    plane = Plane(engine, Settings(state_dir=tmp_path, admin_token=TOKEN))
    async with TestClient(TestServer(build_admin_app(plane.services()))) as client:
        yield client


@pytest.fixture(autouse=True)
def every_write_made_one_audited_change(caplog):
    """Fail a test during which a write operation answered without exactly one audited change."""
    caplog.set_level(logging.ERROR, logger="web.api.registry")
    yield
    unaudited = [r.getMessage() for r in caplog.records if r.name == "web.api.registry" and r.levelno >= logging.ERROR]
    assert not unaudited, unaudited
