"""/api/v1's quarantined CDR lines (list, re-process), FX rates and downtime days."""

from __future__ import annotations

from billing import reprocessing
from billing.fx_store import stored_rates
from billing.invoicing.downtime import downtime_days
from billing.invoicing.recurring import BillingPeriod
from provisioning.services import our_numbers

from .errors import ApiError
from .registry import ApiCall, RouteTable, id_from_cursor, next_cursor
from .schemas import (
    MAX_DAY_RANGE,
    DayRangeQuery,
    DowntimeDayOut,
    DowntimeList,
    FxRateList,
    FxRateOut,
    PageQuery,
    QuarantinedLineOut,
    QuarantinePage,
    ReprocessedOut,
    ReprocessReport,
    ReprocessRequest,
)

routes = RouteTable()


@routes.route("GET", "/quarantine", summary="Quarantined CDR lines, resolved ones included, by id",
              permission="quarantine.read", query=PageQuery, response=QuarantinePage)
async def list_quarantine(call: ApiCall) -> QuarantinePage:
    """Lines that could not be charged, with their reason and resolution."""
    query: PageQuery = call.query
    after = 0 if query.cursor is None else id_from_cursor(query.cursor)
    lines = await reprocessing.list_quarantined(call.engine, after_id=after, limit=query.limit)
    return QuarantinePage(items=[QuarantinedLineOut.model_validate(line, from_attributes=True) for line in lines],
                          next_cursor=next_cursor(lines, query.limit))


@routes.route("POST", "/quarantine/reprocess", summary="Re-process one quarantined line, or all still waiting",
              permission="quarantine.reprocess", body=ReprocessRequest, response=ReprocessReport)
async def reprocess_quarantine(call: ApiCall) -> ReprocessReport:
    """Charge the line ``id`` (or every one waiting) as ingestion would,
    exactly once (invariant 4); a line that still fails stays quarantined."""
    on_net = await our_numbers(call.engine)
    async with call.change("reprocess", "quarantine", call.body.id) as change:
        if call.body.id is None:
            results = await reprocessing.reprocess_all_quarantined(change.conn, on_net=on_net)
        else:
            try:
                results = [await reprocessing.reprocess_quarantined(change.conn, call.body.id, on_net=on_net)]
            except reprocessing.UnknownQuarantineEntryError as exc:
                raise ApiError(404, str(exc)) from None
        change.fields({"resolved": 0}, {"resolved": sum(1 for r in results if r.resolved)})
    resolved = sum(1 for r in results if r.resolved)
    return ReprocessReport(results=[ReprocessedOut.model_validate(r, from_attributes=True) for r in results],
                           resolved=resolved, still_quarantined=len(results) - resolved)


def _period(query: DayRangeQuery) -> BillingPeriod:
    if query.last < query.first:
        raise ApiError(400, "to: must not be before from", "to")
    if (query.last - query.first).days >= MAX_DAY_RANGE:
        raise ApiError(400, f"to: at most {MAX_DAY_RANGE} days from from", "to")
    return BillingPeriod(query.first, query.last)


@routes.route("GET", "/fx-rates", summary="EUR→RON rates used for each stored day (manual over BNR)",
              permission="fx.read", query=DayRangeQuery, response=FxRateList)
async def list_fx_rates(call: ApiCall) -> FxRateList:
    """The rate of each day in ``[from, to]`` that has one."""
    period = _period(call.query)
    rates = await stored_rates(call.engine, period.first, period.last)
    return FxRateList(items=[FxRateOut(day=r.day, currency=r.currency, ron_per_unit=str(r.rate), source=r.source)
                             for r in rates])


@routes.route("GET", "/downtime", summary="Service downtime days recorded (credited on invoices)",
              permission="downtime.read", query=DayRangeQuery, response=DowntimeList)
async def list_downtime(call: ApiCall) -> DowntimeList:
    """The downtime days in ``[from, to]`` and their reasons."""
    days = await downtime_days(call.engine, _period(call.query))
    return DowntimeList(items=[DowntimeDayOut(day=day, reason=reason) for day, reason in days])
