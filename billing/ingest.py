"""CDR ingestion: lines Asterisk wrote → rated ``cdrs`` rows and ledger charges.

CDR lines (Master.csv or clickphone.csv, :mod:`billing.cdr_format`) are
ingested in batches, one transaction per batch:

1. parsed; a malformed line — bad CSV, a field past its bound, not UTF-8, a
   control character, longer than 8 KiB (the bounds are in
   :mod:`billing.cdr_format`) — goes to ``cdr_quarantine`` with its file,
   line number, reason and what identifies it: at most its first 1,024
   characters (``raw``) and the SHA-256 and byte length of the whole line
   (``raw_sha256``, ``raw_length``) — never dropped, never fatal for the rest;
2. identified by **system name + uniqueid** (clickphone.csv carries the
   system name; for Master.csv it is the ``system_name`` argument, the
   Asterisk ``systemname`` setting). A CDR already ingested is skipped:
   ingesting a file twice changes nothing (architecture invariant 4);
3. matched to its account by accountcode (unknown → quarantined with that
   reason, not lost), classified and rated with the account's tariff
   version in effect at the call's start (a CDR that has something to
   charge but cannot be rated — invalid number, barred destination, no
   version in effect — is quarantined with the kernel's reason);
4. written: the ``cdrs`` row and, when it costs something, ONE ledger
   ``call_charge`` entry pointing at it (``ledger_entries.cdr_id`` is
   unique: a CDR cannot be charged twice); a live reservation whose call
   reference is the CDR's uniqueid (or else its linkedid) on the same
   account is settled by that charge (``settled_by = cdr:<system>:<uniqueid>``).

Included minutes: a call uses the included seconds of its contract month
(Europe/Bucharest) first, from the pool of its destination group
(:mod:`billing.included_minutes`): those of the account's service plans
that month, per group and pro-rated (:func:`billing.subscriptions.month_terms`,
looked up once per account and month of a batch), or the account's own
``included_seconds`` (national) when it is on no plan that month; within a
batch calls are rated in call-start order and the call crossing the end of
its pool is split at the exact second (the kernel's
:func:`~billing.rating.rate_call`). What each month has used is kept in
``bundle_usage``, per group. Across batches the bundle goes in arrival order: a CDR
arriving after a later-starting one was rated takes what is left;
:func:`billing.rerating.rerate_period` over the month restores the exact
call-start split with adjustments.

The accounts of a batch are locked (``FOR UPDATE``, id order) for its
transaction, like every other writer of their money: bundle use and charges
stay exact with several ingesters and instances on one PostgreSQL.

A quarantined line is charged later by :mod:`billing.reprocessing`, through
:meth:`CdrIngester.charge_parsed` — the same rating and writing as here.

Speed: the writes go through :func:`sqlbase.bulk.bulk_insert_or_skip`
(multi-row statements, no per-row SQLAlchemy processing); for a large file,
a worker process parses the next batch while this one rates and writes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from multiprocessing import get_context
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger, reservations as reservations_service
from billing.subscriptions import month_terms_of
from billing.cdr_format import (
    AUTO,
    RAW_PREFIX_CHARS,
    CdrLine,
    CdrParseError,
    LineText,
    parse_cdr_stream,
    quarantined_text,
    read_cdr_lines,
)
from billing.errors import UnknownTariffError
from billing.numbering import Classification, NumberingPlan, OnNet, default_numbering_plan
from billing.included_minutes import Pool, own_allowance, pools_by_class
from billing.rating import RatedCall, UnratableCall, classify_and_rate, rate_call
from billing.tables import CALL_CHARGE, bundle_usage, cdr_quarantine, cdrs, ledger_entries
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import bulk_insert_or_skip, native_time, select_where_in, upsert_adding
from billing.tariff_store import StoredTariff, load_stored_tariff
from billing.tariffs import CONTRACT_TZ

DEFAULT_BATCH_LINES = 20_000
"""Lines per transaction. Lists of keys go to the database as one parameter
and multi-row INSERTs are split to the drivers' limits, so only memory
bounds this (a batch in flight is some tens of MB)."""

WORKER_THRESHOLD_BYTES = 32 * 1024 * 1024
"""From this file size on, :func:`ingest_file` parses in a worker process
(starting one costs a fraction of a second)."""


@dataclass
class IngestReport:
    """Counts of one ingestion: lines read, CDRs charged (rated and recorded, a zero
    cost included), duplicates skipped, lines quarantined, reservations settled;
    ``cost_micro`` is what the new CDRs cost."""

    lines: int = 0
    charged: int = 0
    duplicates: int = 0
    quarantined: int = 0
    settled: int = 0
    cost_micro: int = 0

    def add(self, other: IngestReport) -> None:
        """Add ``other``'s counts to this report."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class CdrSource:
    """Where CDR lines come from and how to read them."""

    file: str
    system_name: str
    fmt: str = AUTO
    tz: tzinfo | None = None  # the Asterisk server's local time zone (None: UTC)


def cdr_key(system_name: str, uniqueid: str) -> str:
    """Return ``cdr:<system>:<uniqueid>``, how a CDR is named outside the cdrs table."""
    return f"cdr:{system_name}:{uniqueid}"


def contract_month(instant: datetime) -> str:
    """Return ``'YYYY-MM'`` of ``instant`` in Europe/Bucharest: the bundle's month."""
    return _month_of_hour(int(instant.timestamp()) // 3600)


@lru_cache(maxsize=8192)
def _month_of_hour(hours_since_epoch: int) -> str:
    # Bucharest is a whole number of hours from UTC: the UTC hour decides the month.
    return datetime.fromtimestamp(hours_since_epoch * 3600, CONTRACT_TZ).strftime("%Y-%m")


# -- entry points ---------------------------------------------------------------------


async def ingest_file(
    db: Db,
    path: str | Path,
    *,
    system_name: str,
    fmt: str = AUTO,
    tz: tzinfo | None = None,
    on_net: OnNet = frozenset(),
    batch_lines: int = DEFAULT_BATCH_LINES,
    parse_in_worker: bool | None = None,
) -> IngestReport:
    """Ingest every CDR line of the file at ``path`` (``clickphone cdr ingest FILE``).

    Streams the file, one transaction per batch of lines; idempotent, so it
    may be run again on the same (or a grown) file. ``parse_in_worker``
    (default: for files of :data:`WORKER_THRESHOLD_BYTES` or more) parses in
    a worker process, in parallel with rating and writing.
    """
    source = CdrSource(str(path), system_name, fmt, tz)
    if parse_in_worker is None:
        parse_in_worker = os.path.getsize(path) >= WORKER_THRESHOLD_BYTES
    with open(path, "rb") as fh:
        async with _parser(parse_in_worker) as pool:
            return await ingest_batches(
                db, numbered_batches(read_cdr_lines(fh), batch_lines), source,
                CdrIngester(on_net=on_net), pool,
            )  # fmt: skip


async def ingest_lines(
    db: Db,
    lines: Iterable[CdrLine],
    source: CdrSource,
    *,
    on_net: OnNet = frozenset(),
    batch_lines: int = DEFAULT_BATCH_LINES,
) -> IngestReport:
    """Ingest CDR ``lines`` (any iterable, consumed lazily) from ``source``."""
    return await ingest_batches(
        db, numbered_batches(lines, batch_lines), source, CdrIngester(on_net=on_net)
    )


async def ingest_batches(
    db: Db,
    batches: Iterable[tuple[int, Sequence[CdrLine]]],
    source: CdrSource,
    ingester: CdrIngester,
    pool: Executor | None = None,
) -> IngestReport:
    """Ingest ``(first line number, lines)`` batches, one transaction each.

    With a ``pool``, the next batch is parsed there while this one is rated
    and written.
    """
    loop = asyncio.get_running_loop()
    batches = iter(batches)

    def start_parsing() -> tuple[int, Sequence[CdrLine], Any] | None:
        batch = next(batches, None)
        if batch is None:
            return None
        first_line, lines = batch
        if pool is None:
            return first_line, lines, parse_batch(source, lines, first_line)
        return first_line, lines, loop.run_in_executor(pool, parse_batch, source, lines, first_line)

    report = IngestReport()
    pending = start_parsing()
    while pending is not None:
        first_line, lines, parsing = pending
        parsed = parsing if pool is None else await parsing
        pending = start_parsing()
        async with transaction(db) as conn:
            report.add(await ingester.ingest_parsed(conn, source, parsed, lines, first_line))
    return report


def numbered_batches(
    lines: Iterable[CdrLine], size: int
) -> Iterator[tuple[int, list[CdrLine]]]:
    """Yield ``(number of the first line, lines)`` in batches of ``size`` lines."""
    batch: list[CdrLine] = []
    first = 1
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield first, batch
            first += size
            batch = []
    if batch:
        yield first, batch


@asynccontextmanager
async def _parser(in_worker: bool) -> AsyncIterator[Executor | None]:
    if not in_worker:
        yield None
        return
    # spawn: forking a process whose other threads (the database driver's)
    # may hold locks is unsafe
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    try:
        yield pool
    finally:
        await asyncio.to_thread(pool.shutdown)


# -- parsing (pure: runs in a worker process for large files) -------------------------


class ParsedCdr(NamedTuple):
    """What ingestion needs of one parsed CDR line (small, cheap to pass between processes)."""

    line_number: int
    system_name: str
    uniqueid: str
    linkedid: str
    accountcode: str
    dialled: str
    disposition: str
    answered: bool
    billsec: int
    start: datetime


class Rejected(NamedTuple):
    """A line that cannot be charged, and why (it goes to the quarantine)."""

    line_number: int
    raw: LineText
    reason: str
    uniqueid: str | None = None
    account_code: str | None = None
    start: datetime | None = None  # the call's, when the line could be parsed


@dataclass
class ParsedBatch:
    """One batch of lines, parsed: no database involved yet."""

    records: list[ParsedCdr]
    broken: list[Rejected]


def parse_batch(
    source: CdrSource, lines: Sequence[CdrLine], first_line_number: int = 1
) -> ParsedBatch:
    """Return the batch's CDRs (with their line numbers and system names) and broken lines."""
    records: list[ParsedCdr] = []
    broken: list[Rejected] = []
    for number, item in parse_cdr_stream(lines, source.fmt, source.tz):
        line_number = first_line_number + number - 1
        if isinstance(item, CdrParseError):
            assert item.raw is not None  # parse_cdr_stream sets it
            broken.append(Rejected(line_number, item.raw, item.reason))
        else:
            records.append(
                ParsedCdr(
                    line_number,
                    item.systemname or source.system_name,
                    item.uniqueid,
                    item.linkedid,
                    item.accountcode,
                    item.dialled,
                    item.disposition,
                    item.answered,
                    item.billsec,
                    item.start,
                )  # fmt: skip
            )
    return ParsedBatch(records, broken)


# -- rating and writing ---------------------------------------------------------------


CDR_COLUMNS = (
    "system_name", "uniqueid", "linkedid", "account_id", "account_code", "dialled",
    "normalised", "number_class", "destination", "disposition", "start", "billsec",
    "billable_seconds", "included_seconds", "charged_seconds", "cost_micro",
    "tariff_version_id", "rated_at",
)  # fmt: skip
_CHARGE_COLUMNS = ("account_id", "kind", "amount_micro", "created_at", "reference", "cdr_id")
_QUARANTINE_COLUMNS = (
    "dedup_key", "file", "line_number", "raw", "raw_sha256", "raw_length", "reason",
    "system_name", "uniqueid", "account_code", "start", "created_at",
)  # fmt: skip


@dataclass
class _Writes:
    """What one batch turns into before it is written."""

    cdr_rows: list[tuple[Any, ...]] = field(default_factory=list)
    costs: dict[tuple[str, str], tuple[int, int]] = field(
        default_factory=dict
    )  # key → account, cost
    rejected: list[Rejected] = field(default_factory=list)
    bundle_used: dict[tuple[int, str, str], int] = field(default_factory=dict)  # (account, month, group)
    settlements: list[tuple[int, int, str | None]] = field(default_factory=list)


class CdrIngester:
    """Rates and writes batches of CDRs; keeps the tariffs it loaded for one run.

    A run is one file or one tailer poll: a tariff imported meanwhile is
    used from the next run on.
    """

    def __init__(
        self, *, on_net: OnNet = frozenset(), numbering: NumberingPlan | None = None
    ) -> None:
        self.on_net = on_net
        self.numbering = numbering or default_numbering_plan()
        self._classify = self.numbering.classify
        self._tariffs: dict[str, StoredTariff | UnknownTariffError] = {}

    async def ingest_batch(
        self,
        conn: AsyncConnection,
        source: CdrSource,
        lines: Sequence[CdrLine],
        first_line_number: int = 1,
    ) -> IngestReport:
        """Parse, rate and write one batch of lines in ``conn``'s transaction; return its counts."""
        parsed = parse_batch(source, lines, first_line_number)
        return await self.ingest_parsed(conn, source, parsed, lines, first_line_number)

    async def ingest_parsed(
        self,
        conn: AsyncConnection,
        source: CdrSource,
        parsed: ParsedBatch,
        lines: Sequence[CdrLine],
        first_line_number: int,
    ) -> IngestReport:
        """Rate and write one parsed batch in ``conn``'s transaction; return its counts.

        ``lines`` are the batch's lines (for the raw text of a CDR quarantined
        after parsing), the first of them numbered ``first_line_number``.
        What cannot be charged — broken lines, CDRs that cannot be rated —
        goes to the quarantine.
        """
        now = utc_now()

        def raw_of(record: ParsedCdr) -> LineText:
            return quarantined_text(lines[record.line_number - first_line_number])

        report, unratable = await self.charge_parsed(conn, parsed.records, raw_of, now)
        rejected = [*parsed.broken, *unratable]
        await _quarantine(conn, source, rejected, native_time(conn)(now))
        report.lines += len(parsed.broken)
        report.quarantined = len(rejected)
        return report

    async def charge_parsed(
        self,
        conn: AsyncConnection,
        records: list[ParsedCdr],
        raw_of: Callable[[ParsedCdr], LineText],
        now: datetime | None = None,
    ) -> tuple[IngestReport, list[Rejected]]:
        """Rate and charge parsed CDRs in ``conn``'s transaction: the ``cdrs``
        rows, their ledger charges, bundle use and settled reservations.

        Return the counts (lines, charged, duplicates, settled, cost) and the
        CDRs that cannot be charged, with why (``raw_of(record)`` gives what
        the quarantine keeps of a record's line); quarantining those is the
        caller's. A CDR already ingested is a duplicate: nothing is written.
        """
        now = now or utc_now()
        db_time = native_time(conn)
        db_now = db_time(now)
        report = IngestReport(lines=len(records))
        writes = _Writes()

        accounts = await ledger.locked_billing_terms(conn, {r.accountcode for r in records})
        await self.load_tariffs(conn, {account.tariff for account in accounts.values()})
        fresh = await _not_yet_ingested(conn, records)
        report.duplicates = len(records) - len(fresh)
        fresh.sort(key=attrgetter("start"))  # the bundle goes in call-start order
        remaining = await _bundle_remaining(conn, fresh, accounts)
        unsettled = await _unsettled_reservations(conn, fresh)

        for record in fresh:
            account = accounts.get(record.accountcode)
            outcome = self.rate(record, account, remaining)
            if isinstance(outcome, str):
                writes.rejected.append(
                    Rejected(
                        record.line_number, raw_of(record), outcome, record.uniqueid,
                        record.accountcode, record.start,
                    )
                )
                continue
            assert account is not None
            rated, version_id, classification = outcome
            system, uniqueid, cost = record.system_name, record.uniqueid, rated.cost_micro
            writes.cdr_rows.append((
                system, uniqueid, record.linkedid, account.id, record.accountcode,
                record.dialled, classification.normalised, classification.number_class,
                rated.destination, record.disposition, db_time(record.start), record.billsec,
                rated.billable_seconds, rated.included_seconds, rated.charged_seconds,
                cost, version_id, db_now,
            ))  # fmt: skip
            report.charged += 1
            report.cost_micro += cost
            if cost:
                writes.costs[(system, uniqueid)] = (account.id, cost)
            if rated.included_seconds:
                month = contract_month(record.start)
                group = remaining[(account.id, month)][classification.number_class].group
                used_key = (account.id, month, group)
                writes.bundle_used[used_key] = writes.bundle_used.get(used_key, 0) + rated.included_seconds
            if unsettled:
                rid = unsettled.pop((account.id, uniqueid), None) or unsettled.pop(
                    (account.id, record.linkedid), None
                )
                if rid is not None:
                    writes.settlements.append(
                        (rid, cost, cdr_key(system, uniqueid) if cost else None)
                    )

        await _write(conn, writes, db_now, now)
        report.settled = len(writes.settlements)
        return report, writes.rejected

    def rate(
        self,
        record: ParsedCdr,
        account: ledger.BillingTerms | None,
        remaining: dict[tuple[int, str], dict[str, Pool]],
    ) -> str | tuple[RatedCall, int | None, Classification]:
        """Return why the CDR cannot be charged, or ``(rated call, tariff version id,
        classification)``.

        Uses (and decrements) ``remaining``: per (account id, month) of the
        months that have included seconds, number class → the pool its
        calls draw from (:func:`billing.included_minutes.pools_by_class`).
        """
        if account is None:
            return (
                f"unknown account code {record.accountcode!r}"
                if record.accountcode
                else "no account code"
            )
        stored = self._tariffs[account.tariff]
        if isinstance(stored, UnknownTariffError):
            return str(stored)
        tariff = stored.tariff
        start = record.start
        plan = tariff.plan_at(start)
        version_id = None if plan is None else stored.version_id(plan)
        if record.answered and record.billsec > 0 and plan is not None:
            # the common case, composed from the kernel's parts (one classification)
            classification = self._classify(record.dialled, self.on_net)
            rate = plan.voice_rate(classification)
            if rate is not None:
                pool = None
                if remaining:
                    pools = remaining.get((account.id, contract_month(start)))
                    if pools:  # the month has included seconds
                        pool = pools.get(classification.number_class)
                rated = rate_call(rate, record.billsec, True, 0 if pool is None else pool.left)
                if pool is not None:
                    pool.left -= rated.included_seconds
                return rated, version_id, classification
        # nothing to charge, or not ratable: the kernel decides which, and why
        try:
            classification, rated = classify_and_rate(
                record.dialled, record.billsec, record.answered, start, tariff,
                self.on_net, self.numbering,
            )  # fmt: skip
        except UnratableCall as exc:
            return exc.reason
        return rated, version_id, classification

    async def load_tariffs(self, conn: AsyncConnection, names: set[str]) -> None:
        """Load the stored tariffs ``names`` not loaded yet (a missing one is remembered)."""
        for name in names - self._tariffs.keys():
            try:
                self._tariffs[name] = await load_stored_tariff(conn, name)
            except UnknownTariffError as exc:
                self._tariffs[name] = exc


async def _not_yet_ingested(conn: AsyncConnection, records: list[ParsedCdr]) -> list[ParsedCdr]:
    """The records whose (system, uniqueid) is in no cdrs row nor earlier in the batch."""
    by_system: dict[str, list[str]] = {}
    for record in records:
        by_system.setdefault(record.system_name, []).append(record.uniqueid)
    seen: set[tuple[str, str]] = set()
    for system, uniqueids in by_system.items():
        rows = await select_where_in(
            conn, cdrs, ["uniqueid"], "uniqueid", uniqueids, system_name=system
        )
        seen.update((system, row.uniqueid) for row in rows)
    fresh = []
    for record in records:
        key = (record.system_name, record.uniqueid)
        if key not in seen:
            seen.add(key)
            fresh.append(record)
    return fresh


async def _bundle_remaining(
    conn: AsyncConnection, fresh: list[ParsedCdr], accounts: dict[str, ledger.BillingTerms]
) -> dict[tuple[int, str], dict[str, Pool]]:
    """The included-minute pools per (account id, month) for the batch's
    months that have some (number class → pool, see
    :func:`billing.included_minutes.pools_by_class`): the service plans' of
    that month (pro-rated, per group), else the account's own
    ``included_seconds`` (national), less what ``bundle_usage`` says is used."""
    months: dict[tuple[int, str], int] = {}  # → the account's own included seconds
    for record in fresh:
        account = accounts.get(record.accountcode)
        if account is not None and record.billsec > 0:
            months[(account.id, contract_month(record.start))] = account.included_seconds
    if not months:
        return {}
    on_plans = await month_terms_of(conn, months)
    included: dict[tuple[int, str], dict[str, int]] = {}
    for key, own in months.items():
        terms = on_plans.get(key)
        groups = own_allowance(own) if terms is None else terms.included
        if groups:
            included[key] = groups
    if not included:
        return {}
    used: dict[tuple[int, str], dict[str, int]] = {}
    rows = await conn.execute(
        select(bundle_usage.c.account_id, bundle_usage.c.month, bundle_usage.c.destination_group,
               bundle_usage.c.used_seconds).where(
            tuple_(bundle_usage.c.account_id, bundle_usage.c.month).in_(list(included))
        )
    )
    for row in rows:
        used.setdefault((row.account_id, row.month), {})[row.destination_group] = row.used_seconds
    return {key: pools_by_class(groups, used.get(key, {})) for key, groups in included.items()}


async def _unsettled_reservations(
    conn: AsyncConnection, fresh: list[ParsedCdr]
) -> dict[tuple[int, str], int]:
    """Live reservation ids by (account id, call reference), for the batch's CDRs."""
    references = [ref for r in fresh for ref in (r.uniqueid, r.linkedid) if ref]
    unsettled: dict[tuple[int, str], int] = {}
    for rid, account_id, reference in reversed(
        await reservations_service.live_references(conn, references)
    ):
        unsettled[(account_id, reference)] = rid  # reversed: the oldest wins
    return unsettled


async def _write(conn: AsyncConnection, writes: _Writes, db_now: Any, now: datetime) -> None:
    inserted = await bulk_insert_or_skip(
        conn, cdrs, CDR_COLUMNS, ("system_name", "uniqueid"), writes.cdr_rows,
        returning=("id", "system_name", "uniqueid"),
    )  # fmt: skip
    # Only the rows this batch inserted are charged here: a CDR that already
    # had a row (a concurrent ingester got there first) was charged with it,
    # and the unique cdr_id would refuse a second charge anyway.
    charges = []
    for cdr_id, system, uniqueid in inserted:
        account_cost = writes.costs.get((system, uniqueid))
        if account_cost is not None:
            account_id, cost = account_cost
            charges.append((account_id, CALL_CHARGE, -cost, db_now, f"{system}/{uniqueid}", cdr_id))
    # in account order: the (account, time) index is then written page by
    # page instead of at a random place per entry
    charges.sort(key=itemgetter(0))
    await bulk_insert_or_skip(conn, ledger_entries, _CHARGE_COLUMNS, ("cdr_id",), charges)
    if writes.bundle_used:
        await add_bundle_seconds(conn, writes.bundle_used)
    await reservations_service.mark_settled(conn, writes.settlements, now)


async def add_bundle_seconds(conn: AsyncConnection, used: dict[tuple[int, str, str], int]) -> None:
    """Add ``used[(account_id, month, group)]`` seconds (negative: given back)
    to each account's included-seconds counter of that month and
    destination group, created at 0."""
    key = [bundle_usage.c.account_id, bundle_usage.c.month, bundle_usage.c.destination_group]
    await conn.execute(
        upsert_adding(conn, bundle_usage, key, "used_seconds"),
        [
            {"account_id": account_id, "month": month, "destination_group": group, "used_seconds": seconds}
            for (account_id, month, group), seconds in used.items()
        ],
    )


async def _quarantine(
    conn: AsyncConnection, source: CdrSource, rejected: list[Rejected], db_now: Any
) -> None:
    await bulk_insert_or_skip(
        conn, cdr_quarantine, _QUARANTINE_COLUMNS, ("dedup_key",),
        [
            (
                _dedup_key(source.system_name, r), source.file, r.line_number, r.raw.text,
                r.raw.sha256, r.raw.length, r.reason, source.system_name, r.uniqueid,
                r.account_code, None if r.start is None else native_time(conn)(r.start), db_now,
            )
            for r in rejected
        ],
    )  # fmt: skip


def _dedup_key(system_name: str, rejected: Rejected) -> str:
    # A parsed CDR is identified like an ingested one (system + uniqueid); a
    # broken line by its system, line number and content: quarantining the
    # same line again adds nothing. (A line kept whole is named by its text,
    # as before hashes were stored; a cut one by its hash.)
    if rejected.uniqueid is not None:
        identity = f"cdr\n{system_name}\n{rejected.uniqueid}"
    elif len(rejected.raw.text) < RAW_PREFIX_CHARS:
        identity = f"line\n{system_name}\n{rejected.line_number}\n{rejected.raw.text}"
    else:
        identity = f"line\n{system_name}\n{rejected.line_number}\nsha256:{rejected.raw.sha256}"
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
