"""sqlbase.worker.TransactionWorker: a sync function of a connection, run
in one committed transaction (one hop to a worker thread on SQLite)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from controlplane.db import create_engine
from sqlbase.worker import TransactionWorker

metadata = MetaData()
notes = Table("worker_notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(40)))


@pytest.fixture
async def notes_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


def write(text: str):
    def run(conn: Connection) -> int:
        return conn.execute(insert(notes).values(text=text)).inserted_primary_key[0]
    return run


def fail_after_writing(text: str):
    def run(conn: Connection) -> None:
        conn.execute(insert(notes).values(text=text))
        raise LookupError(text)
    return run


def write_on_thread(text: str):
    """Like write(), returning the thread it ran on."""
    return lambda conn: (write(text)(conn), threading.get_ident())[1]


async def sqlite_notes(tmp_path, name: str) -> AsyncEngine:
    """An engine on a new SQLite file holding the notes table."""
    engine = create_engine(f"sqlite:///{tmp_path / name}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


class LoopTicks:
    """Counts 10 ms ticks of the event loop while in use: a loop blocked by
    a database wait ticks far less."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task | None = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def __enter__(self) -> "LoopTicks":
        self._task = asyncio.create_task(self._tick())
        return self

    def __exit__(self, *_exc) -> None:
        assert self._task is not None
        self._task.cancel()


async def stored(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(select(notes.c.text))).scalars())


async def test_the_result_comes_back_once_its_transaction_is_committed(notes_engine):
    """What the function wrote is visible to every other connection when run() returns."""
    worker = TransactionWorker(notes_engine)
    try:
        new_id = await worker.run(write("first"))
        assert new_id == 1
        assert await stored(notes_engine) == ["first"]
    finally:
        worker.close()


async def test_a_failing_function_rolls_back_its_own_writes_only(notes_engine):
    """Functions queued together share a transaction (group commit on SQLite);
    one that raises gets its exception, and the others' writes still land."""
    worker = TransactionWorker(notes_engine)
    try:
        outcomes = await asyncio.gather(
            *(worker.run(write(f"ok-{i}")) for i in range(5)),
            worker.run(fail_after_writing("bad")),
            *(worker.run(write(f"ok-{i}")) for i in range(5, 10)),
            return_exceptions=True,
        )
        assert [type(o) for o in outcomes].count(LookupError) == 1
        assert await stored(notes_engine) == sorted(f"ok-{i}" for i in range(10))
    finally:
        worker.close()


async def test_sqlite_runs_on_one_worker_thread_that_stops_when_idle(tmp_path):
    """On a SQLite file the functions run on the worker's thread, not the
    event loop's; the thread ends after ``idle_seconds`` without work and
    starts again when work comes."""
    engine = await sqlite_notes(tmp_path, "worker.sqlite3")
    worker = TransactionWorker(engine, idle_seconds=0.2)
    try:
        assert worker.threaded
        loop_thread = threading.get_ident()
        ran_on = await worker.run(lambda conn: threading.get_ident())
        assert ran_on != loop_thread
        assert any(t.name == "db-worker" for t in threading.enumerate())
        for _ in range(50):  # up to 2.5 s
            if not any(t.name == "db-worker" and t.ident == ran_on for t in threading.enumerate()):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the idle worker thread did not stop")
        assert await worker.run(write("after idle")) == 1
    finally:
        worker.close()
        await engine.dispose()


async def test_a_closed_worker_refuses_work(notes_engine):
    worker = TransactionWorker(notes_engine)
    await worker.run(write("before"))
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        await worker.run(write("after"))


async def test_a_busy_database_delays_the_worker_without_blocking_the_event_loop(tmp_path):
    """While another connection holds SQLite's write lock, the worker waits
    for it (busy timeout) on its own thread: the event loop keeps running."""
    engine = await sqlite_notes(tmp_path, "busy.sqlite3")
    worker = TransactionWorker(engine)
    try:
        with LoopTicks() as loop:
            async with engine.begin() as holder:  # BEGIN IMMEDIATE: the write lock
                await holder.execute(insert(notes).values(text="holder"))
                pending = asyncio.ensure_future(worker.run(write("waiting")))
                await asyncio.sleep(0.5)
                assert not pending.done()
            assert await pending == 2
        assert loop.ticks >= 30
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(notes)) == 2
    finally:
        worker.close()
        await engine.dispose()


async def test_a_worker_that_skips_the_fsync_runs_inline_when_the_write_lock_is_free(tmp_path):
    """Nothing queued and the lock free: the function runs on the caller's
    own thread (no thread hop), committed when run() returns."""
    engine = await sqlite_notes(tmp_path, "inline.sqlite3")
    worker = TransactionWorker(engine, durable=False, inline=True)
    try:
        ran_on = await worker.run(write_on_thread("inline"))
        assert ran_on == threading.get_ident() and worker.inline_runs == 1
        assert await stored(engine) == ["inline"]
        with pytest.raises(LookupError):
            await worker.run(fail_after_writing("rolled back"))
        assert await stored(engine) == ["inline"]
    finally:
        worker.close()
        await engine.dispose()


async def test_a_held_write_lock_sends_an_inline_function_to_the_thread_without_blocking_the_loop(tmp_path):
    """Another connection holds the write lock: the inline attempt gives up
    at once (busy timeout 0) and the function waits on the worker's thread;
    the event loop keeps ticking."""
    engine = await sqlite_notes(tmp_path, "inline-busy.sqlite3")
    worker = TransactionWorker(engine, durable=False, inline=True)
    try:
        with LoopTicks() as loop:
            async with engine.begin() as holder:
                await holder.execute(insert(notes).values(text="holder"))
                pending = asyncio.ensure_future(worker.run(write_on_thread("waiting")))
                await asyncio.sleep(0.5)
                assert not pending.done()
            assert await pending != threading.get_ident()
        assert loop.ticks >= 30 and worker.inline_runs == 0
        assert await stored(engine) == ["holder", "waiting"]
    finally:
        worker.close()
        await engine.dispose()


async def test_inline_commits_are_checkpointed_into_the_database_file_by_the_thread(tmp_path, monkeypatch):
    """The inline connection never checkpoints (a checkpoint syncs the
    file); every CHECKPOINT_EVERY inline commits the thread moves the WAL
    into the database file."""
    monkeypatch.setattr("sqlbase.worker.CHECKPOINT_EVERY", 40)
    engine = await sqlite_notes(tmp_path, "checkpoint.sqlite3")
    database = tmp_path / "checkpoint.sqlite3"
    worker = TransactionWorker(engine, durable=False, inline=True)
    try:
        size_before = database.stat().st_size
        for n in range(39):
            await worker.run(write(f"{n:04d}" + "x" * 400))
        await asyncio.sleep(0.3)
        assert database.stat().st_size == size_before  # all of it still in the WAL
        await worker.run(write("the 40th"))
        for _ in range(40):  # up to 2 s
            if database.stat().st_size > size_before:
                break
            await asyncio.sleep(0.05)
        assert database.stat().st_size > size_before
        assert len(await stored(engine)) == 40
    finally:
        worker.close()
        await engine.dispose()


def test_only_a_worker_that_skips_the_fsync_may_run_inline(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'durable.sqlite3'}")
    with pytest.raises(ValueError, match="fsync"):
        TransactionWorker(engine, durable=True, inline=True)
