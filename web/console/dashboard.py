"""The console's dashboard: the state of the service at a glance — live
calls now, calls and revenue today (Europe/Bucharest), outbox and
quarantine counts, Asterisk and database health.

Today's refused calls by reason are admission's counts
(:mod:`admission.refusals`, counted in each refusing decision's
transaction).

An account admin's dashboard counts its own account's calls only; the
outbox, the quarantine and the health are the operator's, shown to staff.
"""

from __future__ import annotations

from aiohttp import web

from admission import refusals
from admission import service as admission_service
from admission.reasons import REASONS
from billing import call_records, ledger, reprocessing
from billing.subscriptions import contract_day
from notify import outbox
from sqlbase import utc_now

from .context import services, viewer
from .render import render

PERMISSION = "calls.read"


async def dashboard(request: web.Request) -> web.Response:
    """GET /console/: what the role may read of the service's state now."""
    who = await viewer(request, PERMISSION)
    svc = services(request)
    own = who.own_account_id
    now = utc_now()
    start, end = ledger.today(now)
    today = await call_records.call_totals(svc.engine, call_records.CallFilter(
        account_id=own, start_from=start, start_to=end))
    staff = own is None
    emails = await outbox.count_by_state(svc.engine) if staff and who.may("outbox.read") else None
    return render(request, "dashboard.html", {
        "live_calls": await admission_service.live_call_count(svc.engine, own, now),
        "today": today,
        "refusals": [(code, REASONS[code].text if code in REASONS else code, count)
                     for code, count in (await refusals.refusals_on(svc.engine, contract_day(now),
                                                                    account_id=own)).items()],
        "emails": emails,
        "quarantined": (await reprocessing.count_unresolved(svc.engine)
                        if staff and who.may("quarantine.read") else None),
        "health": _health(await svc.health()) if staff else None,
    }, who=who)


def _health(report: dict) -> dict:
    """services.health's report as the page shows it: overall ok, and each
    part connected (True/False) or not reported (None)."""
    parts = {part: (report.get(part) or {}).get("connected") if isinstance(report.get(part), dict) else None
             for part in ("database", "asterisk")}
    return {"ok": report.get("status") == "ok", "parts": parts}
