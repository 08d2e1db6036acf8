"""Secrets at rest (issue 13): users' passwords, personal API tokens and
SIP passwords are stored only as hashes or digests. Creates each through
the surfaces that make them (the access services the user commands call,
the admin API for subscribers), then reads the SQLite database's files
(the database and its -wal/-journal) as bytes: no clear value is in them,
while a non-secret written beside them is (the scan reads real data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from access import tokens, users
from access.roles import OPERATOR
from controlplane import migrate
from controlplane.db import create_engine
from controlplane.settings import Settings
from tests.integration.access.support import cheap_hasher
from tests.integration.admin.test_http_admin import AUTH, SUBSCRIBER, TOKEN, Plane
from tests.integration.test_secrets_at_rest import database_bytes
from web.app import build_admin_app

USER_PASSWORD = "Zq7-unique-user-password-41"
CHOSEN_SIP_PASSWORD = "Sip9-unique-chosen-password-17"


@pytest.fixture
async def sqlite_file(tmp_path) -> Path:
    (tmp_path / "state").mkdir()
    return tmp_path / "state" / "clickphone.sqlite3"


@pytest.fixture
async def sqlite_engine(sqlite_file):
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def test_no_password_token_or_sip_password_is_stored_in_clear(sqlite_engine, sqlite_file, tmp_path) -> None:
    """Users, tokens, subscribers with a chosen and a generated SIP password:
    none of the clear values is in the SQLite files, before or after a checkpoint."""
    await users.create_user(sqlite_engine, username="ops-secret", password=USER_PASSWORD, role=OPERATOR,
                            hasher=cheap_hasher())
    issued = await tokens.issue_token(sqlite_engine, username="ops-secret", name="scan")
    headers = {"Authorization": f"Bearer {issued.token}"}
    app = build_admin_app(Plane(sqlite_engine, Settings(state_dir=tmp_path, admin_token=TOKEN)).services())
    async with TestClient(TestServer(app)) as client:
        chosen = await client.post("/admin/subscribers", headers=headers,
                                   json={**SUBSCRIBER, "password": CHOSEN_SIP_PASSWORD})
        assert chosen.status == 201, await chosen.text()
        generated = await client.post("/admin/subscribers", headers=AUTH, json={
            **SUBSCRIBER, "username": "ep-gen", "account_code": "GEN1", "email": "gen@example.com"})
        assert generated.status == 201, await generated.text()
        generated_password = (await generated.json())["endpoint"]["password"]
    secrets = {"user password": USER_PASSWORD, "API token": issued.token,
               "API token's secret part": issued.token.removeprefix(tokens.TOKEN_PREFIX),
               "chosen SIP password": CHOSEN_SIP_PASSWORD, "generated SIP password": generated_password}
    for moment in ("with the WAL", "after a checkpoint"):
        stored = database_bytes(sqlite_file.parent)
        assert b"ep-gen" in stored and b"ops-secret" in stored, "the scan does not read the stored rows"
        found = [what for what, value in secrets.items() if value.encode() in stored]
        assert not found, f"{moment}: stored in clear: {found}"
        await sqlite_engine.dispose()  # the last connection's close checkpoints the WAL into the file
