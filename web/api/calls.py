"""/api/v1's rated calls: a filtered, paginated list and its CSV export.

The export is streamed by :mod:`web.call_export` (the console's export
link uses the same writer).
"""

from __future__ import annotations

from aiohttp.web import StreamResponse

from billing.call_records import CallFilter, CallRecord, list_calls
from web.call_export import stream_calls_csv

from .registry import ApiCall, RouteTable, id_from_cursor, next_cursor
from .schemas import CallOut, CallPage, CallQuery

routes = RouteTable()


def _filter(call: ApiCall) -> CallFilter:
    """The query's filter; an account admin's is bound to their account (403 for another)."""
    query: CallQuery = call.query
    account = query.account
    if call.own_account_id is not None:
        if account is None:
            account = call.own_account_id
        call.check_account(account)
    return CallFilter(account_id=account, start_from=query.start_from, start_to=query.start_to,
                      number_class=query.number_class, disposition=query.disposition)


def call_out(record: CallRecord) -> CallOut:
    """A rated call as the list shows it (money as a decimal string)."""
    return CallOut(id=record.id, account_id=record.account_id, account_code=record.account_code,
                   dialled=record.dialled, number_class=record.number_class, destination=record.destination,
                   disposition=record.disposition, start=record.start, billsec=record.billsec,
                   charged_seconds=record.charged_seconds, cost=record.cost_micro,
                   system_name=record.system_name, uniqueid=record.uniqueid)


@routes.route("GET", "/calls", summary="Rated calls, filtered, newest first", permission="calls.read",
              query=CallQuery, response=CallPage)
async def list_call_records(call: ApiCall) -> CallPage:
    """Calls by account, start range ``[from, to)``, number class and disposition."""
    query: CallQuery = call.query
    before = None if query.cursor is None else id_from_cursor(query.cursor)
    found = await list_calls(call.engine, _filter(call), before_id=before, limit=query.limit)
    return CallPage(items=[call_out(r) for r in found], next_cursor=next_cursor(found, query.limit))


@routes.route("GET", "/calls.csv", summary="The same calls as CSV, streamed (all pages; cursor and limit ignored)",
              permission="calls.read", query=CallQuery, media_type="text/csv")
async def export_call_records(call: ApiCall) -> StreamResponse:
    """Every call matching the filter as CSV, newest first, in chunks."""
    calls = _filter(call)  # refused before the answer starts
    return await stream_calls_csv(call.request, call.engine, calls)
