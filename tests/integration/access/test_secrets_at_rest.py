"""Issue 13, "Tests that prove it": the database never holds a password or
a token in clear — the SQLite file's bytes are scanned for them."""

from __future__ import annotations

from access import tokens, users
from controlplane import migrate
from controlplane.db import create_engine
from tests.integration.access.support import cheap_hasher


async def test_passwords_and_tokens_are_never_stored_in_clear(tmp_path):
    """Only an argon2id hash of a password and the SHA-256 of a token reach
    the database file (and its write-ahead log)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'access.sqlite3'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    password = "Zq7-unique-password-" + users.generated_password()
    try:
        await users.create_user(engine, username="ana", password=password, role="operator", hasher=cheap_hasher())
        await users.verify_login(engine, "ana", password, source="192.0.2.1", hasher=cheap_hasher())
        issued = await tokens.issue_token(engine, username="ana", name="laptop")
        await tokens.authenticate(engine, issued.token)
    finally:
        await engine.dispose()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("access.sqlite3*"))
    assert b"$argon2id$" in stored and tokens.token_digest(issued.token).encode() in stored  # the scan sees rows
    for secret in (password, issued.token, issued.token.removeprefix("cpt_")):
        assert secret.encode() not in stored and secret.encode("utf-16-le") not in stored
