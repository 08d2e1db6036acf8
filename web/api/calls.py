"""/api/v1's rated calls: a filtered, paginated list and its CSV export.

The export is streamed: aiohttp's chunked response is written batch by
batch from :func:`billing.call_records.stream_calls` (keyset queries of
:data:`EXPORT_BATCH` rows), so memory stays flat however many calls match.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from billing.call_records import CallFilter, CallRecord, list_calls, stream_calls

from .registry import ApiCall, RouteTable, id_from_cursor, next_cursor
from .schemas import CallOut, CallPage, CallQuery

routes = RouteTable()

EXPORT_BATCH = 1000
CSV_COLUMNS = ("id", "account_id", "account_code", "dialled", "number_class", "destination", "disposition",
               "start", "billsec", "charged_seconds", "cost", "system_name", "uniqueid")
"""The CSV export's header: the JSON list's fields, in its order."""


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


def _call_out(record: CallRecord) -> CallOut:
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
    return CallPage(items=[_call_out(r) for r in found], next_cursor=next_cursor(found, query.limit))


def _csv_rows(batch: list[CallRecord]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for record in batch:
        row = _call_out(record).model_dump(mode="json")
        writer.writerow(row[name] for name in CSV_COLUMNS)
    return out.getvalue().encode()


@routes.route("GET", "/calls.csv", summary="The same calls as CSV, streamed (all pages; cursor and limit ignored)",
              permission="calls.read", query=CallQuery, media_type="text/csv")
async def export_call_records(call: ApiCall) -> web.StreamResponse:
    """Every call matching the filter as CSV, newest first, in chunks."""
    calls = _filter(call)  # refused before the answer starts
    response = web.StreamResponse(headers={"Content-Disposition": 'attachment; filename="calls.csv"'})
    response.content_type = "text/csv"
    response.charset = "utf-8"
    response.enable_chunked_encoding()
    await response.prepare(call.request)
    await response.write(",".join(CSV_COLUMNS).encode() + b"\r\n")
    async for batch in stream_calls(call.engine, calls, batch=EXPORT_BATCH):
        await response.write(_csv_rows(batch))
    await response.write_eof()
    return response
