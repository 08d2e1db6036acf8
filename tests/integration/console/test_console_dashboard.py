"""The console's dashboard (issue 13, item 5): live calls, calls and
revenue today, the outbox and the quarantine, health — an account admin's
counting its own account only."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from access.roles import ACCOUNT_ADMIN, OPERATOR
from admission.service import Admission, CallRequest
from billing import call_records, ledger
from billing.ingest import CdrSource, ingest_lines
from billing.money import format_amount
from sqlbase import utc_now
from tests.integration.admin.support import account_emails, new_subscriber
from tests.integration.billing.cdrs import master_line
from web import admin_operations

from .support import client_login, new_user


def _shown(html: str, testid: str) -> str | None:
    match = re.search(rf'data-testid="{testid}">(.*?)</', html, re.S)
    return None if match is None else match.group(1).strip()


async def _day_of_calls(engine) -> tuple[ledger.Account, int]:
    """Two calls today and one yesterday on DASH1, one today on DASH2, one
    quarantined line, one TopUp email waiting; DASH1's account and today's revenue of both."""
    mine = await new_subscriber(engine, code="DASH1")
    await new_subscriber(engine, code="DASH2")
    start = ledger.today(utc_now())[0]
    lines = [master_line("d1", account="DASH1", start=start + timedelta(seconds=1)),
             master_line("d2", account="DASH1", start=start + timedelta(seconds=2), billsec=200),
             master_line("d0", account="DASH1", start=start - timedelta(hours=2)),
             master_line("e1", account="DASH2", start=start + timedelta(seconds=3)),
             master_line("x1", account="NOBODY", start=start + timedelta(seconds=4))]
    report = await ingest_lines(engine, lines, CdrSource("Master.csv", "pbx1"))
    assert (report.charged, report.quarantined) == (4, 1)
    await admin_operations.top_up(engine, mine.account.id, 1_000_000, emails=account_emails())
    today = await call_records.list_calls(engine, call_records.CallFilter(start_from=start))
    return mine.account, sum(call.cost_micro or 0 for call in today)


async def test_an_operator_sees_todays_calls_revenue_outbox_quarantine_and_health(engine, client) -> None:
    """Staff's dashboard counts every account's calls today and the operator's queues."""
    _, revenue = await _day_of_calls(engine)
    assert revenue > 0
    login = await client_login(client, await new_user(engine, OPERATOR))
    html = await (await client.get("/console/", headers=login.headers)).text()
    assert _shown(html, "calls-today") == "3"
    assert _shown(html, "revenue-today") == format_amount(revenue)
    assert _shown(html, "live-calls") == "0"
    assert _shown(html, "quarantined") == "1"
    assert _shown(html, "outbox").startswith("1 <span")
    assert "health-database" in html and _shown(html, "refusals-none") == "No call was refused today."


async def test_the_dashboard_shows_todays_refused_calls_by_reason(engine, client) -> None:
    """Calls refused today by real admission decisions appear by reason;
    an account admin sees its own account's refusals only."""
    mine = await new_subscriber(engine, code="REF1")
    await new_subscriber(engine, code="REF2")
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    try:
        for endpoint in ("ep-REF1", "ep-REF1", "ep-REF2"):
            decision = await admission.decide(CallRequest(call_ref=f"ref-{uuid.uuid4().hex}", endpoint=endpoint,
                                                          source_address="192.0.2.10", dialled="0712345678"))
            assert decision.reason.code == "insufficient_credit"
        await admin_operations.top_up(engine, mine.account.id, 5_000_000)
        allowed = await admission.decide(CallRequest(call_ref=f"ref-{uuid.uuid4().hex}", endpoint="ep-REF1",
                                                     source_address="192.0.2.10", dialled="0712345678"))
        assert allowed.allowed
    finally:
        admission.close()
    login = await client_login(client, await new_user(engine, OPERATOR))
    html = await (await client.get("/console/", headers=login.headers)).text()
    assert _shown(html, "refusals-insufficient_credit") == "3"
    assert _shown(html, "live-calls") == "1"
    login = await client_login(client, await new_user(engine, ACCOUNT_ADMIN, mine.account.id))
    html = await (await client.get("/console/", headers=login.headers)).text()
    assert _shown(html, "refusals-insufficient_credit") == "2"


async def test_an_account_admins_dashboard_counts_its_own_account_only(engine, client) -> None:
    """Invariant 8: another account's calls are not counted, and the operator's queues are not shown."""
    mine, _ = await _day_of_calls(engine)
    login = await client_login(client, await new_user(engine, ACCOUNT_ADMIN, mine.id))
    html = await (await client.get("/console/", headers=login.headers)).text()
    assert _shown(html, "calls-today") == "2"
    assert _shown(html, "quarantined") is None and _shown(html, "outbox") is None
    assert "health-database" not in html
