"""An /api/v1 client over the real admin app, on SQLite and PostgreSQL
(the ``engine`` fixture is parametrised by tests/fixtures/postgres.py)."""

from __future__ import annotations

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
