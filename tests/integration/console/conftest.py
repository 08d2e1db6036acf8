"""The console served by a real aiohttp server on 127.0.0.1 and driven by
the system's Chromium (tests/fixtures/browser.py: ``browser``, ``page``),
or by an aiohttp client; on SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from controlplane.settings import Settings
from tests.fixtures.browser import served
from tests.integration.admin.test_http_admin import TOKEN, Plane
from web.app import build_admin_app


@pytest.fixture
async def plane(engine, tmp_path) -> Plane:
    """The control plane's parts the admin app is built with (calls ended are counted)."""
    return Plane(engine, Settings(state_dir=tmp_path, admin_token=TOKEN))


@pytest.fixture
async def console(plane):
    """The admin app on a real server: the console's base URL."""
    async with served(build_admin_app(plane.services())) as base:
        yield base


@pytest.fixture
async def client(plane):
    """An aiohttp client over the admin app, for the tests without a browser (pages in English)."""
    async with TestClient(TestServer(build_admin_app(plane.services())), headers={"Accept-Language": "en"}) as client:
        yield client
