"""AriClient.set_variables: several channel variables in one request (each
ARI request costs Asterisk a check of the ARI password), and one request
each where Asterisk predates POST /channels/{id}/variables.

The real Asterisk 22 testbed has the operation; an older one is a small
aiohttp stand-in here (a fault the real part cannot produce on demand).
"""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from ari_app.client import AriClient
from ari_app.errors import AriError


class FakeAri:
    """Records the requests; ``multi``: whether it knows /variables."""

    def __init__(self, multi: bool) -> None:
        self.multi = multi
        self.seen: list[tuple[str, str, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.seen.append((request.method, request.path, json.loads(body) if body else dict(request.query)))
        channel = request.match_info["channel"]
        if request.path.endswith("/variables") and not self.multi:
            return web.json_response({"message": "Resource not found"}, status=404)
        if channel == "gone":
            return web.json_response({"message": "Provided channel was not found"}, status=404)
        return web.Response(status=204)


@pytest.fixture
async def fake_ari(request):
    fake = FakeAri(multi=request.param)
    app = web.Application()
    app.router.add_post("/ari/channels/{channel}/variables", fake.handle)
    app.router.add_post("/ari/channels/{channel}/variable", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = AriClient(f"http://127.0.0.1:{port}", "user", "secret", "app")
    try:
        yield fake, client
    finally:
        await client.close()
        await runner.cleanup()


MARKS = {"CDR(userfield)": "allowed", "CDR(cp_class)": "ro_mobile", "TIMEOUT(absolute)": "3660"}


@pytest.mark.parametrize("fake_ari", [True], indirect=True)
async def test_several_variables_go_in_one_request_in_order(fake_ari):
    fake, client = fake_ari
    await client.set_variables("c1", MARKS)
    assert fake.seen == [("POST", "/ari/channels/c1/variables", {"variables": MARKS})]
    assert list(fake.seen[0][2]["variables"]) == list(MARKS)


@pytest.mark.parametrize("fake_ari", [False], indirect=True)
async def test_an_asterisk_without_the_operation_gets_one_request_per_variable_from_then_on(fake_ari):
    fake, client = fake_ari
    await client.set_variables("c1", MARKS)
    await client.set_variables("c2", {"CP_CALL": "{}"})
    assert [(m, p) for m, p, _ in fake.seen] == [
        ("POST", "/ari/channels/c1/variables"),
        *[("POST", "/ari/channels/c1/variable")] * 3,
        ("POST", "/ari/channels/c2/variable"),
    ]
    assert [q["variable"] for _, p, q in fake.seen[1:4]] == list(MARKS)


@pytest.mark.parametrize("fake_ari", [True], indirect=True)
async def test_a_channel_that_is_gone_is_an_error_not_a_reason_to_fall_back(fake_ari):
    fake, client = fake_ari
    with pytest.raises(AriError) as raised:
        await client.set_variables("gone", MARKS)
    assert raised.value.status == 404 and len(fake.seen) == 1
