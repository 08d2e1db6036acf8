"""Fixtures of the invoicing tests: a local HTTP server serving BNR-format files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from billing.fx_fetch import MAX_BYTES

DATA = Path(__file__).resolve().parents[2] / "unit" / "billing" / "data"
"""BNR rates files in BNR's own format (daily, https namespace, yearly)."""

SLOW_SECONDS = 2.0

HUGE_BYTES = 2 * MAX_BYTES
"""What ``/huge.xml`` streams, without announcing it: twice the fetcher's bound."""


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

    async def server_error(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="Internal Server Error")

    async def truncated(request: web.Request) -> web.StreamResponse:
        body = (DATA / "nbrfxrates.xml").read_bytes()
        return web.Response(body=body[: len(body) // 2], content_type="text/xml")

    async def unannounced_huge(request: web.Request) -> web.StreamResponse:
        # chunked, no Content-Length: only counting while reading can stop it
        response = web.StreamResponse(headers={"Content-Type": "text/xml"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        rate = b'<Rate currency="EUR">5.0720</Rate>\n' * 2048
        try:
            await response.write(b'<?xml version="1.0" encoding="utf-8"?>\n<DataSet><Body><Cube date="2025-08-01">\n')
            for _ in range(HUGE_BYTES // len(rate) + 1):
                await response.write(rate)
            await response.write(b"</Cube></Body></DataSet>\n")
        except ConnectionResetError:  # the client stopped reading, as it should
            pass
        return response

    app = web.Application()
    app.router.add_get("/nbrfxrates.xml", serve("nbrfxrates.xml"))
    app.router.add_get("/https-namespace.xml", serve("nbrfxrates_https.xml"))
    app.router.add_get("/nbrfxrates2025.xml", serve("nbrfxrates2025.xml"))
    app.router.add_get("/slow.xml", slow)
    app.router.add_get("/maintenance.xml", html)
    app.router.add_get("/broken.xml", broken_rate)
    app.router.add_get("/error.xml", server_error)
    app.router.add_get("/truncated.xml", truncated)
    app.router.add_get("/huge.xml", unannounced_huge)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
