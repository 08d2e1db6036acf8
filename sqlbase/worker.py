"""Short synchronous transactions in one hop, for the hot path (call
admission).

Through the async drivers every statement is a hop: a thread switch with
aiosqlite (about 0.1 ms on a small virtual machine, more than SQLite's own
work), a network round trip with asyncpg. A function of a sync
``Connection`` run here costs one hop however many statements it makes:

* SQLite file: one worker thread owns a plain ``sqlite3`` connection to the
  same file (``BEGIN IMMEDIATE``, the same busy timeout, so it serialises
  with every other writer, in this process or another). With
  ``durable=False`` its commits skip the fsync (``synchronous=NORMAL``, for
  this connection only): an application crash loses nothing, a power cut
  may lose its last commits — right for data that is rebuilt after a
  restart anyway (admission's reservations and live calls: the CDR charges
  the call, reconciliation ends or re-adopts it). Such a worker may also
  run a function *inline*, on the caller's own thread, when nothing is
  queued and the write lock is free at that instant (its own connection,
  busy timeout 0: a held lock sends the function to the thread instead, so
  the event loop never waits on another writer). A transaction of a few
  indexed statements with no fsync costs less than the two thread switches
  it saves, and under load those switches wait on the GIL for
  milliseconds. The inline connection never checkpoints the WAL itself (a
  checkpoint syncs the file): every ``CHECKPOINT_EVERY`` inline commits the
  thread runs one. Functions queued
  while one runs are run back to back in one transaction — a group commit:
  under load, one commit per batch instead of one per function. A batch
  that fails is re-run one function per transaction, so one function's
  error is only its own. The thread stops after ``idle_seconds`` without
  work and starts again on demand, so an unclosed worker leaks nothing for
  long.
* Anything else (PostgreSQL, in-memory SQLite): ``run_sync`` on the async
  engine's own connection, one transaction per function; PostgreSQL's row
  locks then hold across control-plane instances as they always do.

The result is delivered once its transaction committed. Functions must be
safe to run twice (the batch fallback re-runs them): they read and write
only the database, in their transaction.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

T = TypeVar("T")
log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
IDLE_SECONDS = 5.0
BATCH_LIMIT = 64
CHECKPOINT_EVERY = 500  # inline commits between two WAL checkpoints on the thread

_Job = tuple[Callable[[Connection], Any], asyncio.Future, asyncio.AbstractEventLoop]


class TransactionWorker:
    """Runs ``fn(connection)`` in a transaction of ``engine``'s database."""

    def __init__(self, engine: AsyncEngine, *, durable: bool = True, inline: bool = False,
                 idle_seconds: float = IDLE_SECONDS, batch_limit: int = BATCH_LIMIT) -> None:
        if inline and durable:
            raise ValueError("only a worker that skips the fsync may run inline: a synced commit blocks")
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.batch_limit = batch_limit
        self._sync_engine = _sqlite_file_engine(engine, durable)
        self._inline_engine = _sqlite_file_engine(engine, durable, inline=True) if inline else None
        self._inline: Connection | None = None
        self._inline_thread: int | None = None
        self.inline_runs = 0  # how many functions ran inline (for tests and benchmarks)
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._in_thread = 0  # functions queued or running on the thread
        self._lock = threading.Lock()
        self._running = False
        self._closed = False

    @property
    def threaded(self) -> bool:
        """True when functions run on the worker thread (a SQLite file)."""
        return self._sync_engine is not None

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Return ``fn(connection)``, run in a committed transaction; its
        exception (or the database's) is raised here."""
        if self._closed:
            raise RuntimeError("the transaction worker is closed")
        if self._sync_engine is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn)
        if self._inline_engine is not None and not self._in_thread:
            # never while the thread has work: it would lose the lock to us, again and again
            ran, result = self._run_inline(fn)
            if ran:
                return result
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queue((fn, future, loop))
        return await future

    def _queue(self, job: _Job) -> None:
        with self._lock:
            if self._closed and job[0] is not _checkpoint:
                raise RuntimeError("the transaction worker is closed")
            self._jobs.put(job)
            if job[0] is not _checkpoint:
                self._in_thread += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._serve, name="db-worker", daemon=True).start()

    def close(self) -> None:
        """Stop taking work; the thread finishes what is queued, then stops."""
        with self._lock:
            self._closed = True
        if self._sync_engine is not None:
            self._jobs.put((_stop, None, None))  # type: ignore[arg-type]
        if self._inline is not None and self._inline_thread == threading.get_ident():
            self._inline.close()
            self._inline = None

    # -- inline ------------------------------------------------------------------------
    def _run_inline(self, fn: Callable[[Connection], T]) -> tuple[bool, T | None]:
        """Run ``fn`` in a transaction on this thread if the write lock is
        free now; (False, None) when it is not (or this is not the thread
        the inline connection belongs to): queue it then."""
        assert self._inline_engine is not None
        if self._inline is None:
            self._inline = self._inline_engine.connect()
            self._inline_thread = threading.get_ident()
        elif self._inline_thread != threading.get_ident():
            return False, None
        conn = self._inline
        try:
            transaction = conn.begin()
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            conn.rollback()  # nothing began: leave the connection clean
            return False, None
        with transaction:
            result = fn(conn)
        self.inline_runs += 1
        if self.inline_runs % CHECKPOINT_EVERY == 0:
            self._queue((_checkpoint, None, None))  # type: ignore[arg-type]
        return True, result

    # -- the worker thread ---------------------------------------------------------
    def _serve(self) -> None:
        assert self._sync_engine is not None
        with self._sync_engine.connect() as conn:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    self._run_batch(conn, batch)
                if stop:
                    return

    def _next_batch(self) -> tuple[list[_Job], bool]:
        """Return the queued jobs (waiting for one), and whether to stop
        after them (closed, or idle for ``idle_seconds``)."""
        try:
            batch = [self._jobs.get(timeout=self.idle_seconds)]
        except queue.Empty:
            with self._lock:
                if self._jobs.empty():
                    self._running = False
                    return [], True
            return [], False
        while len(batch) < self.batch_limit:
            try:
                batch.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        stop = any(job[0] is _stop for job in batch)
        if stop:
            with self._lock:
                self._running = False
        return [job for job in batch if job[0] is not _stop], stop

    def _run_batch(self, conn: Connection, batch: list[_Job]) -> None:
        if any(job[0] is _checkpoint for job in batch):
            try:  # outside any transaction (the driver sends no BEGIN of its own)
                conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # noqa: BLE001 - the next one will do
                log.warning("WAL checkpoint failed: %s", exc)
            batch = [job for job in batch if job[0] is not _checkpoint]
        try:
            self._run_jobs(conn, batch)
        finally:
            with self._lock:
                self._in_thread -= len(batch)

    def _run_jobs(self, conn: Connection, batch: list[_Job]) -> None:
        if not batch:
            return
        try:
            with conn.begin():
                results = [fn(conn) for fn, _, _ in batch]
        except BaseException as exc:  # noqa: BLE001 - handed to the caller(s)
            if len(batch) == 1:
                _deliver(batch[0], exception=exc)
                return
            for job in batch:  # one function's error must not fail the others
                self._run_jobs(conn, [job])
            return
        for job, result in zip(batch, results):
            _deliver(job, result=result)


def _stop(_conn: Connection) -> None:
    """Marker queued by close()."""


def _checkpoint(_conn: Connection) -> None:
    """Marker queued after inline commits: checkpoint the WAL on the thread."""


def _is_busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (another connection holds the write lock)."""
    return "locked" in str(exc.orig) or "busy" in str(exc.orig)


def _deliver(job: _Job, *, result: Any = None, exception: BaseException | None = None) -> None:
    _fn, future, loop = job

    def settle() -> None:
        if future.done():  # the caller was cancelled
            return
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's loop is closed: nobody is waiting
        pass


def _sqlite_file_engine(engine: AsyncEngine, durable: bool, inline: bool = False) -> Engine | None:
    """Return a sync engine on the same SQLite file, or None (not a file);
    ``inline``: one whose connections never wait for the write lock nor
    checkpoint the WAL."""
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    sync = create_engine(url.set(drivername="sqlite"), poolclass=NullPool)
    event.listen(sync, "connect", configure_sqlite_connection)
    if not durable:
        event.listen(sync, "connect", _commit_without_fsync)
    if inline:
        event.listen(sync, "connect", _never_wait_nor_checkpoint)
    event.listen(sync, "begin", begin_immediate)
    return sync


def _never_wait_nor_checkpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _commit_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    # in WAL mode: the WAL is synced at checkpoints, not at each commit
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """Hand transactions to :func:`begin_immediate` and wait for a busy
    database (the async engine sets WAL mode, which the file keeps)."""
    dbapi_connection.isolation_level = None  # the driver never sends BEGIN itself
    dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def begin_immediate(connection: Connection) -> None:
    """Start every SQLite transaction holding the write lock (see controlplane.db)."""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # asked for no transaction at all
    connection.exec_driver_sql("BEGIN IMMEDIATE")
