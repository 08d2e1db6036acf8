"""Following a CDR file as Asterisk appends to it: :class:`CdrTailer`.

The tailer ingests (:mod:`billing.ingest`) what was appended since its
stored offset, in batches; each batch and the new offset commit in ONE
transaction, so after a crash or a restart it resumes exactly where the
last commit left it (and idempotent ingestion would make a replay harmless
anyway).

* The first poll of a path starts at the beginning of its file.
* Only complete lines are consumed: a last line without its newline is
  Asterisk still writing it; it is read on a later poll, once complete.
* The offset is stored per (system name, path) in ``ingest_offsets`` with the
  identity of the file it belongs to: device, inode and the SHA-256 of its
  first line (inodes are reused).
* Rotation: when the file at the path is another one (other inode or first
  line) or shrank below the offset (copy-and-truncate), the old file is
  finished first if it can still be read — the handle kept open from the
  last poll, or a sibling named like it (``Master.csv.1``…) with the same
  inode or first line — its last line taken even without a newline once the
  new file exists, since nobody writes the old one any more. Then the new
  file is followed from offset 0.
* A line longer than :data:`billing.cdr_format.MAX_LINE_BYTES` is read in
  chunks, never whole (:func:`billing.cdr_format.read_cdr_line`), and
  quarantined with its first characters and its SHA-256.
* Several instances tailing the same path: the offset is updated only if it
  is still the one the batch started from; otherwise the batch rolls back
  and the poll stops (another instance is ahead).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass, replace
from datetime import tzinfo
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.cdr_format import AUTO, CdrLine, line_complete, line_length, read_cdr_line
from billing.ingest import DEFAULT_BATCH_LINES, CdrIngester, CdrSource, IngestReport
from billing.numbering import OnNet
from billing.tables import ingest_offsets
from sqlbase import transaction, utc_now
from sqlbase.bulk import insert_or_skip

log = logging.getLogger(__name__)

FIRST_LINE_LIMIT = 64 * 1024
"""Bytes read to fingerprint a file by its first line."""


@dataclass(frozen=True)
class FilePosition:
    """Which file is followed at a path, and how far it has been ingested."""

    device: int
    inode: int
    first_line_sha256: str | None
    byte_offset: int
    line_number: int  # lines consumed, blank ones included

    def is_file(self, st: os.stat_result) -> bool:
        """True when ``st`` is this position's file (same device and inode)."""
        return (st.st_dev, st.st_ino) == (self.device, self.inode)


class OffsetMovedError(RuntimeError):
    """Another tailer moved the stored offset meanwhile; this batch was rolled back."""


class CdrTailer:
    """Follows the CDR file at ``path`` of the Asterisk system ``system_name``."""

    def __init__(
        self,
        engine: AsyncEngine,
        path: str | Path,
        *,
        system_name: str,
        fmt: str = AUTO,
        tz: tzinfo | None = None,
        on_net: OnNet = frozenset(),
        batch_lines: int = DEFAULT_BATCH_LINES,
    ) -> None:
        self.engine = engine
        self.path = Path(path)
        self.system_name = system_name
        self.fmt = fmt
        self.tz = tz
        self.on_net = on_net
        self.batch_lines = batch_lines
        self._file: BinaryIO | None = None  # the file followed, kept open across polls

    async def poll(self) -> IngestReport:
        """Ingest the complete lines appended since the stored offset; return the counts.

        Handles a rotated file (finished, then the new one from 0). Raise
        :class:`OffsetMovedError` if another tailer got ahead.
        """
        report = IngestReport()
        ingester = CdrIngester(on_net=self.on_net)
        position = await self._stored_position()
        current = _stat(self.path)
        if position is not None and (current is None or self._rotated(position, current)):
            old = self._old_file(position, current)
            if old is not None:
                # Finished once a new file exists: a last line without its
                # newline is then a cut-off write, ingested (and quarantined).
                with old:
                    position = await self._consume(
                        ingester, old, position, report, final=current is not None
                    )
            self._close()
            if current is None:
                return report  # rotated away, the new file not created yet
            position = await self._follow_new_file(position, current)
        elif position is None:
            if current is None:
                return report
            position = await self._follow_new_file(None, current)
        followed = self._open_followed(position)
        if followed is not None:
            await self._consume(ingester, followed, position, report, final=False)
        return report

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set; a failed poll is
        logged and retried (the offset did not move)."""
        try:
            while not stop.is_set():
                try:
                    report = await self.poll()
                    if report.lines:
                        log.info("ingested %s from %s: %s", report.lines, self.path, report)
                except (OSError, OffsetMovedError) as exc:
                    log.warning("tailing %s: %s", self.path, exc)
                except Exception:
                    log.exception("tailing %s failed; retrying", self.path)
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._close()

    def close(self) -> None:
        """Close the file kept open between polls."""
        self._close()

    # -- positions ----------------------------------------------------------------

    async def _stored_position(self) -> FilePosition | None:
        async with transaction(self.engine) as conn:
            row = (
                await conn.execute(
                    select(
                        ingest_offsets.c.device,
                        ingest_offsets.c.inode,
                        ingest_offsets.c.first_line_sha256,
                        ingest_offsets.c.byte_offset,
                        ingest_offsets.c.line_number,
                    ).where(*self._this_row())
                )
            ).first()
        return None if row is None else FilePosition(*row)

    async def _follow_new_file(self, old: FilePosition | None, st: os.stat_result) -> FilePosition:
        """Store (and return) offset 0 of the file now at the path."""
        new = FilePosition(st.st_dev, st.st_ino, _first_line_sha256(self.path), 0, 0)
        async with transaction(self.engine) as conn:
            if old is None:
                await conn.execute(
                    insert_or_skip(
                        conn, ingest_offsets, ingest_offsets.c.system_name, ingest_offsets.c.path
                    ).values(system_name=self.system_name, path=str(self.path), **_values(new))
                )
            else:
                await self._move(conn, old, new)
        return new

    async def _move(self, conn: AsyncConnection, old: FilePosition, new: FilePosition) -> None:
        """Replace the stored position ``old`` by ``new``, or raise :class:`OffsetMovedError`."""
        result = await conn.execute(
            ingest_offsets.update()
            .where(
                *self._this_row(),
                ingest_offsets.c.device == old.device,
                ingest_offsets.c.inode == old.inode,
                ingest_offsets.c.byte_offset == old.byte_offset,
            )
            .values(**_values(new))
        )
        if result.rowcount != 1:
            raise OffsetMovedError(f"{self.path}: the stored offset moved past {old.byte_offset}")

    def _this_row(self) -> tuple:
        return (
            ingest_offsets.c.system_name == self.system_name,
            ingest_offsets.c.path == str(self.path),
        )

    # -- files --------------------------------------------------------------------

    def _rotated(self, position: FilePosition, st: os.stat_result) -> bool:
        if not position.is_file(st) or st.st_size < position.byte_offset:
            return True
        known = position.first_line_sha256
        return known is not None and _first_line_sha256(self.path) not in (None, known)

    def _open_followed(self, position: FilePosition) -> BinaryIO | None:
        """The file of ``position``, kept open across polls; None if the path
        changed hands since it was looked at (the next poll sees a rotation)."""
        if self._file is not None and position.is_file(os.fstat(self._file.fileno())):
            return self._file
        self._close()
        try:
            self._file = open(self.path, "rb")
        except FileNotFoundError:
            return None
        if not position.is_file(os.fstat(self._file.fileno())):
            self._close()
        return self._file

    def _old_file(self, position: FilePosition, current: os.stat_result | None) -> BinaryIO | None:
        """Return the followed file, if it can still be read."""
        # Copy-and-truncate leaves the old inode at the path, emptied: the
        # lines past the offset are in the copy, found by its first line.
        copy_and_truncate = current is not None and position.is_file(current)
        if (
            not copy_and_truncate
            and self._file is not None
            and position.is_file(os.fstat(self._file.fileno()))
        ):
            old, self._file = self._file, None  # kept open: readable even if deleted
            return old
        for sibling in sorted(self.path.parent.glob(self.path.name + "?*")):
            st = _stat(sibling)
            if st is None or st.st_size < position.byte_offset:
                continue
            same_inode = position.is_file(st) and not copy_and_truncate
            same_first_line = (
                position.first_line_sha256 is not None
                and _first_line_sha256(sibling) == position.first_line_sha256
            )
            if same_inode or same_first_line:
                return open(sibling, "rb")
        log.warning("%s was rotated and its old file is gone: lines after offset %s may be lost",
                    self.path, position.byte_offset)  # fmt: skip
        return None

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- ingesting ----------------------------------------------------------------

    async def _consume(
        self,
        ingester: CdrIngester,
        fh: BinaryIO,
        position: FilePosition,
        report: IngestReport,
        *,
        final: bool,
    ) -> FilePosition:
        """Ingest ``fh`` from ``position`` in batches, moving the stored offset
        with each, adding to ``report``; return the position reached."""
        source = CdrSource(str(self.path), self.system_name, self.fmt, self.tz)
        fh.seek(position.byte_offset)
        while True:
            lines, size = _complete_lines(fh, self.batch_lines, final)
            if not lines:
                return position
            moved = replace(
                position,
                byte_offset=position.byte_offset + size,
                line_number=position.line_number + len(lines),
                first_line_sha256=position.first_line_sha256
                or (_first_line_sha256_of(fh) if position.byte_offset == 0 else None),
            )
            async with transaction(self.engine) as conn:
                report.add(
                    await ingester.ingest_batch(conn, source, lines, position.line_number + 1)
                )
                await self._move(conn, position, moved)
            position = moved


def _complete_lines(fh: BinaryIO, limit: int, final: bool) -> tuple[list[CdrLine], int]:
    """Up to ``limit`` lines from ``fh``'s position and their size in bytes; a
    last line without a newline is left unread unless ``final``."""
    lines: list[CdrLine] = []
    size = 0
    while len(lines) < limit:
        line = read_cdr_line(fh)
        length = line_length(line)
        if not length:
            break
        if not line_complete(line) and not final:
            fh.seek(-length, os.SEEK_CUR)  # still being written: next poll
            break
        lines.append(line)
        size += length
    return lines, size


def _first_line_sha256(path: Path) -> str | None:
    """SHA-256 of the file's first complete line, None while it has none."""
    try:
        with open(path, "rb") as fh:
            return _first_line_sha256_of(fh)
    except OSError:
        return None


def _first_line_sha256_of(fh: BinaryIO) -> str | None:
    """:func:`_first_line_sha256` of an open file (its position kept)."""
    position = fh.tell()
    fh.seek(0)
    line = fh.readline(FIRST_LINE_LIMIT)
    fh.seek(position)
    return _sha256_of_line(line) if line.endswith(b"\n") or len(line) == FIRST_LINE_LIMIT else None


def _sha256_of_line(line: bytes) -> str:
    return hashlib.sha256(line[:FIRST_LINE_LIMIT]).hexdigest()


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _values(position: FilePosition) -> dict[str, object]:
    return {
        "device": position.device,
        "inode": position.inode,
        "first_line_sha256": position.first_line_sha256,
        "byte_offset": position.byte_offset,
        "line_number": position.line_number,
        "updated_at": utc_now(),
    }
