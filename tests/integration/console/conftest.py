"""The console served by a real aiohttp server on 127.0.0.1, driven by the
system's Chromium through Playwright (never a downloaded browser), on
SQLite and PostgreSQL (the ``engine`` fixture).

When a browser test fails, a screenshot of its page is saved under
test-output/console/<test>/ (the path is printed with the failure)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import async_playwright

from controlplane.settings import Settings
from tests.fixtures.ports import free_port
from tests.integration.admin.test_http_admin import TOKEN, Plane
from web.app import build_admin_app

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[3] / "test-output" / "console"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, for the screenshot fixture."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
async def plane(engine, tmp_path) -> Plane:
    """The control plane's parts the admin app is built with (calls ended are counted)."""
    return Plane(engine, Settings(state_dir=tmp_path, admin_token=TOKEN))


@pytest.fixture
async def console(plane):
    """The admin app on a real server: the console's base URL."""
    runner = web.AppRunner(build_admin_app(plane.services()))
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(plane):
    """An aiohttp client over the admin app, for the tests without a browser (pages in English)."""
    async with TestClient(TestServer(build_admin_app(plane.services())), headers={"Accept-Language": "en"}) as client:
        yield client


@pytest.fixture
async def browser():
    """The system's Chromium; a test FAILS (never skips) when it is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs it (Debian's chromium package)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser, request):
    """A fresh browser page (its own cookies); screenshotted when the test fails."""
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            folder = OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            folder.mkdir(parents=True, exist_ok=True)
            shot = folder / "failure.png"
            await page.screenshot(path=str(shot), full_page=True)
            (folder / "page.html").write_text(await page.content())
            print(f"\nconsole test failed: screenshot at {shot}")
        await context.close()
