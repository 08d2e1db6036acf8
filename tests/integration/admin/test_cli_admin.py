"""``clickphone admin ...`` on the database the settings name (SQLite and
PostgreSQL): JSON on stdout, ``Error: <reason>`` and exit 1 on a refusal."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from controlplane.cli import main
from controlplane.db import create_engine
from provisioning import services as provisioning
from provisioning.credentials import md5_cred


@pytest.fixture
def clickphone(db_url, tmp_path):
    """Run ``clickphone ARGS...`` (in a thread: the CLI runs its own event loop)."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path)}

    async def run(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, main, ["admin", *args], env=env)

    return run


async def create(clickphone) -> dict:
    """Create subscriber Ion (endpoint ep-ion, account ION1, 2.50 EUR a day) and return the printed JSON."""
    result = await clickphone("subscriber", "create", "--name", "Ion Popescu", "--email", "ion@example.com",
                              "--username", "ep-ion", "--caller-id", "0212345678", "--account-code", "ION1",
                              "--daily-limit", "2.50")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


async def test_subscriber_create_prints_the_sip_password_and_the_account(clickphone):
    """``subscriber create`` prints the generated SIP password (the only
    time it is shown) and the account with its daily limit in euros."""
    created = await create(clickphone)
    assert created["endpoint"]["username"] == "ep-ion" and len(created["endpoint"]["password"]) >= 24
    assert created["account"]["daily_limit"] == "2.500000"


async def test_reset_password_prints_a_new_password_once_and_stores_only_its_digest(clickphone, db_url):
    """Issue 10, defect 8: a lost SIP password cannot be read back, only
    replaced; the new one is printed once, MD5(user:realm:password) kept."""
    first = (await create(clickphone))["endpoint"]["password"]

    reset = await clickphone("endpoint", "reset-password", "ep-ion")
    unknown = await clickphone("endpoint", "reset-password", "nobody")

    assert reset.exit_code == 0, reset.output
    password = json.loads(reset.output)["endpoint"]["password"]
    assert len(password) >= 24 and password != first
    engine = create_engine(db_url)
    try:
        endpoint = await provisioning.find_endpoint(engine, "ep-ion")
    finally:
        await engine.dispose()
    assert endpoint.md5_cred == md5_cred("ep-ion", "clickphone", password)
    assert unknown.exit_code == 1 and "no SIP endpoint 'nobody'" in unknown.output


async def test_top_up_then_show(clickphone):
    """A top-up in euros is what ``account show`` then reports as the
    balance, beside the policy (no allowlist by default)."""
    account_id = (await create(clickphone))["account"]["id"]
    top_up = await clickphone("account", "top-up", str(account_id), "12.34", "--reference", "OP-9")
    assert top_up.exit_code == 0, top_up.output
    shown = json.loads((await clickphone("account", "show", str(account_id))).output)
    assert shown["balance"] == "12.340000" and shown["policy"]["allowed_networks"] == []


async def test_policy_options_not_given_keep_their_value(clickphone):
    """``account policy`` changes only the options given: a later --allow
    keeps --premium and --max-calls; --allow-anywhere empties the list."""
    account_id = str((await create(clickphone))["account"]["id"])
    await clickphone("account", "policy", account_id, "--premium", "--max-calls", "3")
    result = await clickphone("account", "policy", account_id, "--allow", "192.0.2.0/24", "--allow", "198.51.100.7")
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)["policy"]
    assert policy["allowed_networks"] == ["192.0.2.0/24", "198.51.100.7/32"]
    assert policy["premium_enabled"] and policy["max_concurrent_calls"] == 3
    cleared = json.loads((await clickphone("account", "policy", account_id, "--allow-anywhere")).output)
    assert cleared["policy"]["allowed_networks"] == []


async def test_invalid_cidr_is_an_error_naming_it(clickphone):
    """A CIDR with host bits set is refused (exit 1) naming the entry and
    why, never silently widened."""
    account_id = str((await create(clickphone))["account"]["id"])
    result = await clickphone("account", "policy", account_id, "--allow", "10.0.0.1/24")
    assert result.exit_code == 1 and "'10.0.0.1/24'" in result.output and "host bits" in result.output


async def test_unknown_account_is_an_error(clickphone):
    """An account nobody has is a refusal (exit 1) naming its id."""
    result = await clickphone("account", "suspend", "4242", "--cause", "operator")
    assert result.exit_code == 1 and "no account 4242" in result.output


async def test_suspend_and_reinstate(clickphone):
    """``account suspend`` then ``account reinstate`` print the account's status each time."""
    account_id = (await create(clickphone))["account"]["id"]
    suspended = await clickphone("account", "suspend", str(account_id), "--cause", "non_payment")
    assert json.loads(suspended.output)["status"] == "suspended"
    assert json.loads((await clickphone("account", "reinstate", str(account_id))).output)["status"] == "active"


async def test_did_add_and_bad_amounts(clickphone):
    """``did add`` stores the number as E.164 digits; an amount that is not
    decimal euros is a usage error (exit 2), not a refusal."""
    created = await create(clickphone)
    added = await clickphone("did", "add", "0312345678", "--subscriber", str(created["subscriber_id"]))
    assert added.exit_code == 0 and json.loads(added.output)["number"] == "40312345678"
    bad = await clickphone("account", "top-up", str(created["account"]["id"]), "1.2.3")
    assert bad.exit_code == 2 and "not an amount" in bad.output
