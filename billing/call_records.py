"""Rated calls (the ``cdrs`` table) as operators search and export them.

Read only. A filter (:class:`CallFilter`) narrows by account, by the call's
start (``[start_from, start_to)``), number class and disposition. Pages are
keyset pages by id, newest first (ids grow as CDRs are ingested), so a
page costs the same however deep it is; :func:`stream_calls` walks the same
order in batches so an export of a million calls never holds them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.tables import cdrs
from sqlbase import Db, transaction


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One rated call: who, where to, when, how long, what it cost
    (``cost_micro`` None: not charged, such as an unanswered call)."""

    id: int
    account_id: int
    account_code: str
    dialled: str
    number_class: str
    destination: str
    disposition: str
    start: datetime
    billsec: int
    charged_seconds: int
    cost_micro: int | None
    system_name: str
    uniqueid: str


@dataclass(frozen=True)
class CallFilter:
    """Which calls: every one given narrows (None: any)."""

    account_id: int | None = None
    start_from: datetime | None = None  # inclusive
    start_to: datetime | None = None  # exclusive
    number_class: str | None = None
    disposition: str | None = None


_COLUMNS = [cdrs.c[f.name] for f in fields(CallRecord)]


def _query(which: CallFilter, before_id: int | None, limit: int) -> Any:
    query = _filtered(select(*_COLUMNS), which)
    if before_id is not None:
        query = query.where(cdrs.c.id < before_id)
    return query.order_by(cdrs.c.id.desc()).limit(limit)


def _filtered(query: Any, which: CallFilter) -> Any:
    for column, value in ((cdrs.c.account_id, which.account_id), (cdrs.c.number_class, which.number_class),
                          (cdrs.c.disposition, which.disposition)):
        if value is not None:
            query = query.where(column == value)
    if which.start_from is not None:
        query = query.where(cdrs.c.start >= which.start_from)
    if which.start_to is not None:
        query = query.where(cdrs.c.start < which.start_to)
    return query


async def list_calls(db: Db, which: CallFilter, *, before_id: int | None = None,
                     limit: int = 50) -> list[CallRecord]:
    """Return up to ``limit`` calls matching ``which`` with an id below
    ``before_id`` (None: from the newest), newest first."""
    async with transaction(db) as conn:
        return [CallRecord(*row) for row in await conn.execute(_query(which, before_id, limit))]


@dataclass(frozen=True)
class CallTotals:
    """How many calls and what they cost, together."""

    calls: int
    cost_micro: int


async def call_totals(db: Db, which: CallFilter) -> CallTotals:
    """The number of calls matching ``which`` and the sum of their cost (unanswered ones cost 0)."""
    query = _filtered(select(func.count(), func.coalesce(func.sum(cdrs.c.cost_micro), 0)).select_from(cdrs), which)
    async with transaction(db) as conn:
        count, cost = (await conn.execute(query)).one()
    return CallTotals(int(count), int(cost))


async def stream_calls(engine: AsyncEngine, which: CallFilter, *,
                       batch: int = 1000) -> AsyncIterator[list[CallRecord]]:
    """Yield the calls matching ``which``, newest first, ``batch`` at a time.

    Each batch is its own short keyset query (no transaction held open
    while the consumer writes to a slow client); a call ingested during the
    walk with a higher id than the first batch's is not included."""
    before_id: int | None = None
    while True:
        page = await list_calls(engine, which, before_id=before_id, limit=batch)
        if page:
            yield page
        if len(page) < batch:
            return
        before_id = page[-1].id
