"""``clickphone admin user|token ...`` and ``clickphone audit list`` on the
database the settings name (SQLite and PostgreSQL): secrets printed once,
every change audited (actor ``cli``) in its transaction, bad values
refused naming the option."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from access import tokens, users
from access.errors import LoginRefused, TokenRejected
from billing import ledger
from controlplane.cli import main
from controlplane.db import create_engine


@pytest.fixture
def clickphone(db_url, tmp_path):
    """Run ``clickphone ARGS...`` (in a thread: the CLI runs its own event loop)."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path)}

    async def run(*args: str, stdin: str | None = None):
        return await asyncio.to_thread(CliRunner().invoke, main, list(args), input=stdin, env=env)

    return run


@pytest.fixture
async def database(db_url):
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def ok(clickphone, *args: str, stdin: str | None = None) -> dict:
    result = await clickphone(*args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


async def test_user_create_prints_a_generated_password_once_that_logs_in(clickphone, database):
    """A new user gets a generated password, printed once; it logs in; the
    creation is audited by ``cli`` without it."""
    created = await ok(clickphone, "admin", "user", "create", "--username", "ana", "--role", "operator")
    password = created["password"]

    user = await users.verify_login(database, "ana", password, source="192.0.2.1")
    listed = await ok(clickphone, "admin", "user", "list")
    entries = (await ok(clickphone, "audit", "list", "--resource", "user"))["entries"]

    assert user.role == "operator" and "password" not in json.dumps(listed)
    [entry] = entries
    assert (entry["actor"], entry["source"], entry["action"], entry["resource_id"]) == ("cli", "cli", "create", "ana")
    assert password not in json.dumps(entries)


async def test_password_stdin_sets_the_given_password_and_prints_none(clickphone, database):
    """``--password-stdin`` takes the first line of stdin and prints no password."""
    created = await ok(clickphone, "admin", "user", "create", "--username", "ana", "--role", "auditor",
                       "--password-stdin", stdin="correct horse battery staple\n")
    assert "password" not in created
    assert (await users.verify_login(database, "ana", "correct horse battery staple", source="cli")).role == "auditor"


async def test_token_create_revoke_and_disable_are_audited_and_take_effect(clickphone, database):
    """The token printed once authenticates; revoked, it fails at once;
    each change leaves one audit entry; a disabled user cannot log in."""
    password = (await ok(clickphone, "admin", "user", "create", "--username", "ana", "--role", "operator"))["password"]
    issued = await ok(clickphone, "admin", "token", "create", "--user", "ana", "--name", "laptop")
    assert (await tokens.authenticate(database, issued["value"])).username == "ana"

    await ok(clickphone, "admin", "token", "revoke", str(issued["token"]["id"]))
    await ok(clickphone, "admin", "user", "disable", "ana")

    with pytest.raises(TokenRejected):
        await tokens.authenticate(database, issued["value"])
    with pytest.raises(LoginRefused):
        await users.verify_login(database, "ana", password, source="192.0.2.1")
    [listed] = (await ok(clickphone, "admin", "token", "list", "--user", "ana"))["tokens"]
    assert listed["revoked_at"] is not None and "value" not in listed
    entries = (await ok(clickphone, "audit", "list"))["entries"]
    assert [(e["resource"], e["action"]) for e in entries] == [
        ("user", "disable"), ("token", "revoke"), ("token", "create"), ("user", "create")]
    assert issued["value"] not in json.dumps(entries)


@pytest.mark.parametrize(("args", "named"), [
    (["admin", "user", "create", "--username", "Ana", "--role", "operator"], "username"),
    (["admin", "user", "create", "--username", "ana", "--role", "root"], "--role"),
    (["admin", "user", "create", "--username", "ana", "--role", "account_admin"], "account"),
    (["admin", "user", "create", "--username", "ana", "--role", "account_admin", "--account", "99"], "account"),
    (["admin", "token", "create", "--user", "ana", "--name", "n" * 65], "name"),
    (["admin", "token", "revoke", "0"], "TOKEN_ID"),
    (["audit", "list", "--limit", "201"], "--limit"),
    (["audit", "list", "--since", "yesterday"], "--since"),
])
async def test_bad_values_exit_2_naming_the_option(clickphone, args, named):
    """A malformed value is a usage error (exit 2) naming what is wrong, never a traceback."""
    result = await clickphone(*args)
    assert result.exit_code == 2 and named in result.output and "Traceback" not in result.output


async def test_a_refusal_exits_1_and_writes_no_audit_entry(clickphone):
    """Refused changes (a taken username, an unknown user) exit 1 and leave no entry."""
    await ok(clickphone, "admin", "user", "create", "--username", "ana", "--role", "operator")
    taken = await clickphone("admin", "user", "create", "--username", "ana", "--role", "auditor")
    unknown = await clickphone("admin", "user", "disable", "nobody")
    assert taken.exit_code == 1 and "already exists" in taken.output
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
    assert len((await ok(clickphone, "audit", "list"))["entries"]) == 1


async def test_an_account_admin_is_created_for_an_existing_account(clickphone, database):
    """``--account`` names an existing billing account; the user is bound to it."""
    await ok(clickphone, "admin", "user", "list")  # migrates the database
    account = await ledger.open_account(database, code="ACME1")
    created = await ok(clickphone, "admin", "user", "create", "--username", "pbx.admin", "--role", "account_admin",
                       "--account", str(account.id))
    assert created["user"]["account_id"] == account.id
