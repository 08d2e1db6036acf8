"""Fixtures of the invoicing tests: a local HTTP server serving BNR-format files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

DATA = Path(__file__).resolve().parents[2] / "unit" / "billing" / "data"
"""BNR rates files in BNR's own format (daily, https namespace, yearly)."""

SLOW_SECONDS = 2.0


@pytest.fixture
async def bnr_server() -> AsyncIterator[str]:
    """A local HTTP server with BNR files (and broken answers); yields its base URL."""

    def serve(name: str) -> web.StreamResponse:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=(DATA / name).read_bytes(), content_type="text/xml")

        return handler

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(SLOW_SECONDS)
        return web.Response(body=(DATA / "nbrfxrates.xml").read_bytes(), content_type="text/xml")

    async def html(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html><body>Maintenance</body></html>", content_type="text/html")

    async def broken_rate(request: web.Request) -> web.StreamResponse:
        body = (DATA / "nbrfxrates.xml").read_text().replace(">5.0720<", ">5,0720<")
        return web.Response(text=body, content_type="text/xml")

    app = web.Application()
    app.router.add_get("/nbrfxrates.xml", serve("nbrfxrates.xml"))
    app.router.add_get("/https-namespace.xml", serve("nbrfxrates_https.xml"))
    app.router.add_get("/nbrfxrates2025.xml", serve("nbrfxrates2025.xml"))
    app.router.add_get("/slow.xml", slow)
    app.router.add_get("/maintenance.xml", html)
    app.router.add_get("/broken.xml", broken_rate)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
