"""Every `clickphone` command that changes data leaves exactly one audit
entry by the ``cli`` actor, committed with its change (issue 13): a
refused command leaves none, and no entry holds the SIP password a
subscriber creation prints."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from click.testing import CliRunner

from access import audit
from controlplane.cli import main
from controlplane.db import create_engine

from .test_one_off_at_creation import PLANS
from .test_plan_subscriptions import bucharest_today


async def entries(db_url: str) -> list[audit.AuditEntry]:
    engine = create_engine(db_url)
    try:
        return (await audit.list_entries(engine, limit=200)).entries
    finally:
        await engine.dispose()


async def test_each_cli_change_leaves_one_cli_entry_and_a_refused_one_none(db_url, tmp_path) -> None:
    """Walk the changing commands in order; after each, exactly one new
    entry, by ``cli`` from ``cli``, with its action, resource and fields."""
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path)}

    async def clickphone(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)

    plans = tmp_path / "plans.csv"
    plans.write_text("".join(PLANS))
    exported = await clickphone("tariffs", "export", "--plan", "annex_b")
    tariffs = tmp_path / "annex_b.csv"
    tariffs.write_text(exported.stdout)
    yesterday = (bucharest_today() - timedelta(days=1)).isoformat()
    steps = [
        (("plans", "import", str(plans)), ("import", "service_plan")),
        (("tariffs", "import", str(tariffs)), ("import", "tariff")),
        (("fx", "set", "--date", yesterday, "--eur", "5.0000"), ("set", "fx_rate")),
        (("downtime", "add", "--date", "2025-07-10", "--reason", "carrier outage"), ("create", "downtime")),
        (("admin", "subscriber", "create", "--name", "Ion Popescu", "--email", "ion@example.com", "--username",
          "ep-ion", "--caller-id", "0212345678", "--account-code", "ION1", "--kind", "postpaid"),
         ("create", "subscriber")),
        (("admin", "endpoint", "reset-password", "ep-ion"), ("reset_password", "endpoint")),
        (("admin", "did", "add", "0212345679", "--subscriber", "1"), ("create", "did")),
        (("admin", "account", "top-up", "1", "10.50"), ("top_up", "account")),
        (("admin", "account", "policy", "1", "--premium"), ("set_policy", "account")),
        (("admin", "account", "plan", "1", "home5", "--immediately"), ("change_plan", "account")),
        (("admin", "account", "charge", "1", "--description", "Router", "--amount", "40"),
         ("create", "one_off_charge")),
        (("invoice", "one-off", "1"), ("issue_one_off", "invoice")),
        (("payments", "add", "--account", "1", "--amount", "100"), ("record_payment", "account")),
        (("admin", "account", "suspend", "1", "--cause", "breach"), ("suspend", "account")),
        (("admin", "account", "reinstate", "1"), ("reinstate", "account")),
        (("admin", "account", "plan-end", "1", "--last-day", bucharest_today().isoformat()),
         ("end_plan", "account")),
    ]
    printed: list[str] = []
    for done, (args, (action, resource)) in enumerate(steps):
        result = await clickphone(*args)
        assert result.exit_code == 0, f"{args}: {result.output}"
        printed.append(result.stdout)
        logged = await entries(db_url)
        assert len(logged) == done + 1, f"{args}: {len(logged)} entries"
        newest = logged[0]
        assert (newest.actor, newest.source, newest.action, newest.resource) == ("cli", "cli", action, resource)
        assert newest.changes or action == "reset_password", f"{args} records no fields"
    refused = await clickphone("admin", "account", "top-up", "999", "5")
    assert refused.exit_code == 1
    assert len(await entries(db_url)) == len(steps)
    passwords = [json.loads(printed[4])["endpoint"]["password"], json.loads(printed[5])["endpoint"]["password"]]
    audited = json.dumps([e.changes for e in await entries(db_url)])
    assert all(p not in audited for p in passwords)
