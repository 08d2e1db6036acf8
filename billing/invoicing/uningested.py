"""CDRs of a billing period not charged yet: what an invoice run waits for.

A call belongs to the period of its **start** (Europe/Bucharest), whenever
its CDR is ingested; the invoice run selects calls by start
(:mod:`billing.invoicing`). A CDR ingested after its period was invoiced
still lands on the next invoice, as a late call — so the run must not issue
while CDRs of its period are still on their way. What can be known at the
run (:func:`uningested_usage`):

* **unread CDRs** — complete lines past the stored offset of a CDR file a
  tailer follows (``ingest_offsets``) whose call started before the
  period's end and that are not in ``cdrs`` yet: the control plane was down
  over midnight, the tailer is behind. (``clickphone cdr ingest`` of the
  file charges them too: they then no longer count.) Times are read as the
  tailer reads them, UTC. A file at the path that is not the one followed
  (rotated, not picked up yet) counts as unread: its CDRs cannot be told
  until the tailer has finished the old one. Only files this machine can
  read are looked at: a path another control plane follows on another host
  is not seen here;
* **live calls** — live, unexpired reservations opened before the period's
  end: paid calls of the period still going on, or ended and their CDR not
  charged yet (ingestion settles a reservation with its CDR's charge; a
  call lasts at most 4 h, a reservation expires one chunk after it ends);
* **quarantined CDRs** — calls of the period ingestion could not charge
  (unknown account, not ratable) and not ingested since, and lines that
  could not be parsed at all quarantined since the period began (they may
  be calls of it), none of them resolved by re-processing
  (:mod:`billing.reprocessing`). Waiting does not bring these: a person must.

:attr:`UningestedUsage.waiting` is true for the first two: the run refuses
(:class:`billing.invoicing.errors.UsageNotIngestedError`) and the scheduled run
tries again later. The quarantined ones are reported with the run.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select

from billing.cdr_format import AUTO, CdrRecord, line_complete, parse_cdr_stream, read_cdr_line
from billing.tables import LIVE, cdr_quarantine, cdrs, ingest_offsets, reservations
from sqlbase import Db, transaction
from sqlbase.bulk import select_where_in


@dataclass(frozen=True)
class UnreadFile:
    """A followed CDR file with CDRs of the period past its stored offset."""

    path: str
    system_name: str
    unread_bytes: int
    cdrs: int | None  # CDRs of the period not charged yet; None: another file is at the path

    def describe(self) -> str:
        """Say what is unread, in one phrase."""
        if self.cdrs is None:
            return f"{self.path} was replaced (rotated) and is not followed yet"
        return f"{self.cdrs} CDR(s) of the period in the {self.unread_bytes} bytes of {self.path} not read yet"


@dataclass(frozen=True)
class UningestedUsage:
    """What of a period's usage is not charged yet (see the module's docstring)."""

    unread: tuple[UnreadFile, ...] = ()
    live_calls: int = 0
    quarantined: int = 0
    unparsed: int = 0

    @property
    def waiting(self) -> bool:
        """True while CDRs of the period may still arrive by themselves."""
        return bool(self.unread) or self.live_calls > 0

    def describe(self) -> str:
        """Say what is missing, in one line ('' when nothing is)."""
        parts = [file.describe() for file in self.unread]
        if self.live_calls:
            parts.append(f"{self.live_calls} call(s) of the period still live or not rated yet")
        if self.quarantined:
            parts.append(f"{self.quarantined} CDR(s) of the period quarantined (unknown account or not ratable)")
        if self.unparsed:
            parts.append(f"{self.unparsed} unreadable CDR line(s) quarantined since the period began")
        return "; ".join(parts)


async def uningested_usage(
    db: Db, start: datetime, end: datetime, now: datetime, *, account_id: int | None = None
) -> UningestedUsage:
    """Return what of the usage of the period ``[start, end)`` is not charged yet at ``now``.

    With ``account_id`` (one account's interim invoice), only that account's
    live calls count: another account's call does not hold it up. Unread CDR
    files and quarantined CDRs are counted for everyone still (a CDR line is
    not tied to an account until it is rated)."""
    async with transaction(db) as conn:
        followed = (
            await conn.execute(
                select(
                    ingest_offsets.c.system_name, ingest_offsets.c.path, ingest_offsets.c.device,
                    ingest_offsets.c.inode, ingest_offsets.c.byte_offset,
                )  # fmt: skip
            )
        ).all()
        live = [reservations.c.state == LIVE, reservations.c.created_at < end, reservations.c.expires_at > now]
        if account_id is not None:
            live.append(reservations.c.account_id == account_id)
        live_calls = await conn.scalar(select(func.count()).where(*live))
        ingested_since = exists().where(
            and_(cdrs.c.system_name == cdr_quarantine.c.system_name, cdrs.c.uniqueid == cdr_quarantine.c.uniqueid)
        )
        # a line re-processed and charged (billing.reprocessing) is resolved
        unresolved = cdr_quarantine.c.resolution.is_(None)
        quarantined = await conn.scalar(
            select(func.count()).where(
                cdr_quarantine.c.start >= start, cdr_quarantine.c.start < end, ~ingested_since, unresolved
            )
        )
        unparsed = await conn.scalar(
            select(func.count()).where(
                unresolved,
                cdr_quarantine.c.start.is_(None),
                cdr_quarantine.c.uniqueid.is_(None),
                cdr_quarantine.c.created_at >= start,
            )
        )
    unread = []
    for row in followed:
        found = await _unread_file(db, row, end)
        if found is not None:
            unread.append(found)
    return UningestedUsage(tuple(unread), int(live_calls or 0), int(quarantined or 0), int(unparsed or 0))


async def _unread_file(db: Db, row, end: datetime) -> UnreadFile | None:  # noqa: ANN001 (a Row)
    try:
        st = os.stat(row.path)
    except OSError:
        return None  # not on this machine (or gone): nothing to tell
    if (st.st_dev, st.st_ino) != (row.device, row.inode) or st.st_size < row.byte_offset:
        return UnreadFile(row.path, row.system_name, st.st_size, None)
    if st.st_size == row.byte_offset:
        return None
    # reading and parsing the tail is blocking work: off the event loop
    keys = await asyncio.to_thread(_period_cdrs_after, row.path, row.byte_offset, row.system_name, end)
    if not keys:
        return None
    missing = 0
    async with transaction(db) as conn:
        by_system: dict[str, list[str]] = {}
        for system, uniqueid in keys:
            by_system.setdefault(system, []).append(uniqueid)
        for system, uniqueids in by_system.items():
            found = await select_where_in(conn, cdrs, ["uniqueid"], "uniqueid", uniqueids, system_name=system)
            missing += len(set(uniqueids) - {r.uniqueid for r in found})
    return UnreadFile(row.path, row.system_name, st.st_size - row.byte_offset, missing) if missing else None


def _period_cdrs_after(path: str, offset: int, system_name: str, end: datetime) -> set[tuple[str, str]]:
    """(system, uniqueid) of the complete CDR lines after ``offset`` that started before ``end``."""
    with open(path, "rb") as fh:
        fh.seek(offset)

        def complete_lines():  # a line still being written is read on a later look
            while (line := read_cdr_line(fh)) and line_complete(line):
                yield line

        return {
            (item.systemname or system_name, item.uniqueid)
            for _, item in parse_cdr_stream(complete_lines(), AUTO)
            if isinstance(item, CdrRecord) and item.start < end
        }
