"""Rated calls as CSV, streamed: one writer for /api/v1/calls.csv and the
console's "Export CSV" link, so both give the same columns and values.

The answer is chunked and written batch by batch from
:func:`billing.call_records.stream_calls` (keyset queries of
:data:`EXPORT_BATCH` rows), so memory stays flat however many calls match.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.call_records import CallFilter, CallRecord, stream_calls
from billing.money import format_micro

EXPORT_BATCH = 1000
CSV_COLUMNS = ("id", "account_id", "account_code", "dialled", "number_class", "destination", "disposition",
               "start", "billsec", "charged_seconds", "cost", "system_name", "uniqueid")
"""The CSV export's header: the JSON list's fields, in its order."""

_DATETIME = TypeAdapter(datetime)


def csv_row(record: CallRecord) -> dict[str, Any]:
    """A rated call's CSV values, written as /api/v1's JSON list writes them
    (money a decimal string, the start as pydantic writes a datetime)."""
    row = asdict(record)
    row["cost"] = None if record.cost_micro is None else format_micro(record.cost_micro)
    row["start"] = _DATETIME.dump_python(record.start, mode="json")
    return row


def _csv_rows(batch: list[CallRecord]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for record in batch:
        row = csv_row(record)
        writer.writerow(row[name] for name in CSV_COLUMNS)
    return out.getvalue().encode()


async def stream_calls_csv(request: web.Request, engine: AsyncEngine, calls: CallFilter) -> web.StreamResponse:
    """Answer ``request`` with every call matching ``calls`` as CSV, newest
    first, in chunks (the caller has checked who may see them)."""
    response = web.StreamResponse(headers={"Content-Disposition": 'attachment; filename="calls.csv"',
                                           "Cache-Control": "no-store"})
    response.content_type = "text/csv"
    response.charset = "utf-8"
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(",".join(CSV_COLUMNS).encode() + b"\r\n")
    async for batch in stream_calls(engine, calls, batch=EXPORT_BATCH):
        await response.write(_csv_rows(batch))
    await response.write_eof()
    return response
