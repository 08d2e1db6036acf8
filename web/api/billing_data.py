"""/api/v1's quarantined CDR lines (list, re-process), FX rates and downtime
days (list, and the operator's writes: a manual rate, a downtime day)."""

from __future__ import annotations

from datetime import date

from billing import reprocessing
from billing.fx_store import InvalidRateError, parse_rate, set_manual_rate, stored_rate_on, stored_rates
from billing.invoicing.downtime import downtime_days, record_downtime, remove_downtime
from billing.invoicing.errors import InvoiceError
from billing.invoicing.recurring import BillingPeriod
from provisioning.services import our_numbers
from web import maintenance

from .errors import ApiError
from .registry import ApiCall, RouteTable, id_from_cursor, next_cursor
from .tariff_schemas import DowntimeIn, FxRateIn
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
        results, before, after = await maintenance.reprocess(change.conn, call.body.id, on_net=on_net)
        change.fields(before, after)
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


def _path_day(call: ApiCall) -> date:
    text = call.request.match_info["day"]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"day: {text!r} is not a day (YYYY-MM-DD)", "day") from None


@routes.route("PUT", "/fx-rates/{day}", summary="Set the EUR→RON rate of a day by hand (it wins over BNR's)",
              permission="fx.write", body=FxRateIn, response=FxRateOut)
async def set_fx_rate(call: ApiCall) -> FxRateOut:
    """The operator's rate for ``day``, exact as given (``"5.0720"``)."""
    day = _path_day(call)
    try:
        rate = parse_rate(call.body.ron_per_unit)
    except InvalidRateError as exc:
        raise ApiError(400, f"ron_per_unit: {exc}", "ron_per_unit") from None
    async with call.change("set", "fx_rate", day.isoformat()) as change:
        before = await stored_rate_on(change.conn, day)
        stored = await set_manual_rate(change.conn, day, rate)
        change.fields(None if before is None else {"ron_per_unit": str(before.rate), "source": before.source},
                      {"ron_per_unit": str(stored.rate), "source": stored.source})
    return FxRateOut(day=stored.day, currency=stored.currency, ron_per_unit=str(stored.rate), source=stored.source)


async def _downtime_reason(db: object, day: date) -> str | None:
    found = await downtime_days(db, BillingPeriod(day, day))  # type: ignore[arg-type]
    return found[0][1] if found else None


@routes.route("PUT", "/downtime/{day}", summary="Record a downtime day with its reason (or change the reason)",
              permission="downtime.write", body=DowntimeIn, response=DowntimeDayOut)
async def set_downtime(call: ApiCall) -> DowntimeDayOut:
    """The service was down on ``day`` through the provider's fault: credited on invoices not yet issued."""
    day = _path_day(call)
    if not call.body.reason.strip():
        raise ApiError(400, "reason: say why the service was down", "reason")
    async with call.change("set", "downtime", day.isoformat()) as change:
        before = await _downtime_reason(change.conn, day)
        try:
            await record_downtime(change.conn, day, call.body.reason)
        except InvoiceError as exc:
            raise ApiError(400, f"reason: {exc}", "reason") from None
        after = await _downtime_reason(change.conn, day)
        change.fields({"reason": before}, {"reason": after})
    return DowntimeDayOut(day=day, reason=after or "")


@routes.route("DELETE", "/downtime/{day}", summary="Forget a downtime day recorded by mistake",
              permission="downtime.write", response=DowntimeDayOut)
async def delete_downtime(call: ApiCall) -> DowntimeDayOut:
    """Remove ``day`` (404 if it is not a downtime day); issued invoices keep their credit."""
    day = _path_day(call)
    async with call.change("delete", "downtime", day.isoformat()) as change:
        reason = await remove_downtime(change.conn, day)
        if reason is None:
            raise ApiError(404, f"{day.isoformat()} is not a downtime day")
        change.fields({"reason": reason}, {"reason": None})
    return DowntimeDayOut(day=day, reason=reason)
