"""Re-processing a quarantined CDR line, by its quarantine id.

A line is quarantined when it cannot be charged (:mod:`billing.ingest`):
its account did not exist yet, no tariff version was in effect, it was read
with the wrong layout, the parser refused it. Once the cause is fixed,
:func:`reprocess_quarantined` parses the stored line again and charges it
through the ingester's own path (:meth:`billing.ingest.CdrIngester.charge_parsed`:
rating, the ``cdrs`` row, its one ledger charge, bundle use, the settled
reservation) — never a second copy of the charging rules.

Architecture invariant 4 holds across re-processing:

* **exactly once** — the CDR is identified by system name + uniqueid as in
  ingestion, so a CDR already ingested (the file ingested again since) is
  not charged twice but resolved ``already_charged``; the quarantine row is
  locked for the transaction and a resolved row is left as it is, so calling
  again (or twice at once) charges nothing more;
* **never dropped** — the row is marked, not deleted: ``retried_at`` on
  every attempt; ``resolution``, ``resolved_at`` and ``cdr_id`` once
  charged. A line that still fails stays quarantined with the reason of its
  last attempt.

Only a line whose stored text is the whole line can be parsed again: the
quarantine keeps at most 1,024 characters, shows bytes that are not UTF-8
and control characters escaped, and the SHA-256 and length of the line as
it was in the file say whether the text is that line. One that is not
(cut, or escaped) cannot be re-processed from the database — its file can
be ingested again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.cdr_format import AUTO, LineText
from billing.errors import BillingError
from billing.ingest import CdrIngester, CdrSource, ParsedCdr, parse_batch
from billing.numbering import NumberingPlan, OnNet
from billing.tables import ALREADY_CHARGED, CHARGED, cdr_quarantine, cdrs
from sqlbase import Db, reading, transaction, utc_now

NOT_THE_WHOLE_LINE = (
    "the stored text is not the whole line (cut, or bytes shown escaped): ingest its file again"
)


class UnknownQuarantineEntryError(BillingError, LookupError):
    """No quarantined line has this id."""

    def __init__(self, quarantine_id: int) -> None:
        super().__init__(f"no quarantined CDR line {quarantine_id}")
        self.quarantine_id = quarantine_id


@dataclass(frozen=True)
class Reprocessed:
    """What re-processing one quarantined line found.

    ``resolution`` is ``charged`` (charged now, or by an earlier call),
    ``already_charged`` (its CDR had been ingested otherwise) or None (still
    quarantined, ``reason`` says why); ``cdr_id`` is the CDR the line is.
    ``tried`` is False when the line had been resolved before: nothing was done.
    """

    quarantine_id: int
    resolution: str | None
    cdr_id: int | None
    reason: str | None
    tried: bool

    @property
    def resolved(self) -> bool:
        """True once the line's CDR is charged (by this or an earlier attempt, or by ingestion)."""
        return self.resolution is not None


async def reprocess_quarantined(
    db: Db,
    quarantine_id: int,
    *,
    fmt: str = AUTO,
    tz: tzinfo | None = None,
    on_net: OnNet = frozenset(),
    numbering: NumberingPlan | None = None,
    now: datetime | None = None,
) -> Reprocessed:
    """Parse the quarantined line ``quarantine_id`` again and charge it as ingestion does.

    ``fmt``, ``tz``, ``on_net`` and ``numbering`` are read as by
    :func:`billing.ingest.ingest_lines` (the layout, the Asterisk server's
    time zone, our own numbers). One transaction: the CDR, its charge and
    the row's marks are written together. Idempotent: a resolved line is
    returned as it was resolved, nothing charged again. Raise
    :class:`UnknownQuarantineEntryError`.
    """
    ingester = CdrIngester(on_net=on_net, numbering=numbering)
    async with transaction(db) as conn:
        entry = await _entry(conn, quarantine_id)
        if entry.resolution is not None:
            return _resolved_before(entry)
        attempt = _parsed_again(entry, fmt, tz)
        if isinstance(attempt, ParsedCdr):
            # the account before the quarantine row: ingestion's order, so an
            # ingester quarantining this line again meanwhile cannot deadlock with us
            await ledger.locked_billing_terms(conn, {attempt.accountcode})
        entry = await _entry(conn, quarantine_id, locked=True)
        if entry.resolution is not None:  # by another call, while we waited for the lock
            return _resolved_before(entry)
        now = now or utc_now()
        if isinstance(attempt, str):
            return await _still_quarantined(conn, entry, attempt, now)
        report, unratable = await ingester.charge_parsed(conn, [attempt], lambda _: _stored_text(entry), now)
        if unratable:
            return await _still_quarantined(conn, entry, unratable[0].reason, now)
        # charged now, or a duplicate: the CDR was ingested since it was quarantined
        resolution = CHARGED if report.charged else ALREADY_CHARGED
        cdr_id = await conn.scalar(
            select(cdrs.c.id).where(cdrs.c.system_name == attempt.system_name, cdrs.c.uniqueid == attempt.uniqueid)
        )
        await conn.execute(
            update(cdr_quarantine)
            .where(cdr_quarantine.c.id == entry.id)
            .values(retried_at=now, resolution=resolution, resolved_at=now, cdr_id=cdr_id)
        )
        return Reprocessed(entry.id, resolution, cdr_id, None, tried=True)


@dataclass(frozen=True)
class QuarantinedLine:
    """A quarantined CDR line as an operator reviews it: where it came from,
    its stored text (at most 1,024 characters), why it was quarantined (the
    last attempt's reason), and how it was resolved (None: still waiting)."""

    id: int
    file: str
    line_number: int
    raw: str
    reason: str
    system_name: str
    uniqueid: str | None
    account_code: str | None
    start: datetime | None
    created_at: datetime
    retried_at: datetime | None
    resolution: str | None
    resolved_at: datetime | None
    cdr_id: int | None


_LINE_COLUMNS = [cdr_quarantine.c[name] for name in QuarantinedLine.__dataclass_fields__]


async def list_quarantined(db: Db, *, after_id: int = 0, limit: int = 50) -> list[QuarantinedLine]:
    """Return up to ``limit`` quarantined lines with an id above ``after_id``,
    by id, resolved ones included (a row is marked, never deleted)."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            select(*_LINE_COLUMNS).where(cdr_quarantine.c.id > after_id).order_by(cdr_quarantine.c.id).limit(limit)
        )
        return [QuarantinedLine(*row) for row in rows]


async def count_unresolved(db: Db) -> int:
    """How many quarantined lines are still waiting (not charged by a re-process)."""
    async with reading(db) as conn:
        return int(await conn.scalar(
            select(func.count()).select_from(cdr_quarantine).where(cdr_quarantine.c.resolution.is_(None))))


async def reprocess_all_quarantined(db: Db, **options: object) -> list[Reprocessed]:
    """Re-process every line still quarantined, oldest first, each in its own
    transaction as :func:`reprocess_quarantined` (``options`` are its
    keywords); a line that still fails stays quarantined, the others go on."""
    async with transaction(db) as conn:
        waiting = (await conn.scalars(
            select(cdr_quarantine.c.id).where(cdr_quarantine.c.resolution.is_(None)).order_by(cdr_quarantine.c.id)
        )).all()
    return [await reprocess_quarantined(db, quarantine_id, **options) for quarantine_id in waiting]  # type: ignore[arg-type]


async def _entry(conn: AsyncConnection, quarantine_id: int, *, locked: bool = False) -> Row:
    query = select(cdr_quarantine).where(cdr_quarantine.c.id == quarantine_id)
    row = (await conn.execute(query.with_for_update() if locked else query)).first()
    if row is None:
        raise UnknownQuarantineEntryError(quarantine_id)
    return row


def _resolved_before(entry: Row) -> Reprocessed:
    return Reprocessed(entry.id, entry.resolution, entry.cdr_id, None, tried=False)


def _parsed_again(entry: Row, fmt: str, tz: tzinfo | None) -> ParsedCdr | str:
    """The stored line parsed as ingestion parses it, or why it cannot be."""
    line = _whole_line(entry)
    if line is None:
        return NOT_THE_WHOLE_LINE
    parsed = parse_batch(CdrSource(entry.file, entry.system_name, fmt, tz), [line], entry.line_number)
    if parsed.broken:
        return parsed.broken[0].reason
    if not parsed.records:
        return "empty line"
    return parsed.records[0]


def _whole_line(entry: Row) -> str | None:
    """The line as it was in the file, when the stored text is all of it."""
    if entry.raw_sha256 is None:
        return None
    # the stored text has lost its line ending: try what the file may have had
    for ending in ("\n", "\r\n", ""):
        data = (entry.raw + ending).encode("utf-8", "surrogatepass")
        if len(data) == entry.raw_length and hashlib.sha256(data).hexdigest() == entry.raw_sha256:
            return entry.raw + ending
    return None


def _stored_text(entry: Row) -> LineText:
    return LineText(entry.raw, entry.raw_sha256, entry.raw_length)


async def _still_quarantined(conn: AsyncConnection, entry: Row, reason: str, now: datetime) -> Reprocessed:
    # the reason is the last attempt's; the line's text and identity stay as stored
    values: dict[str, object] = {"retried_at": now}
    if reason != NOT_THE_WHOLE_LINE:
        values["reason"] = reason
    await conn.execute(update(cdr_quarantine).where(cdr_quarantine.c.id == entry.id).values(**values))
    return Reprocessed(entry.id, None, None, reason, tried=True)
