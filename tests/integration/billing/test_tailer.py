"""Following a CDR file: appends, partial lines, restarts, rotation — on
SQLite and PostgreSQL (the offset is stored with each batch)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.cdr_format import RAW_PREFIX_CHARS
from billing.tables import cdr_quarantine, cdrs, ingest_offsets
from billing.tailer import CdrTailer, OffsetMovedError

from .cdrs import master_line

SYSTEM = "pbx1"


@pytest.fixture
async def account(engine: AsyncEngine) -> ledger.Account:
    return await ledger.open_account(engine, code="acct-1")


@pytest.fixture
def master(tmp_path: Path) -> Path:
    return tmp_path / "Master.csv"


def tailer(engine: AsyncEngine, path: Path) -> CdrTailer:
    return CdrTailer(engine, path, system_name=SYSTEM, batch_lines=2)


def append(path: Path, *lines: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(lines))


async def ingested(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.scalars(select(cdrs.c.uniqueid).order_by(cdrs.c.id))).all())


async def stored_offset(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(ingest_offsets.c.byte_offset, ingest_offsets.c.line_number))
        ).one()
    return tuple(row)


async def test_the_tailer_follows_appends(engine: AsyncEngine, account, master: Path) -> None:
    append(master, master_line("u1"), master_line("u2"), master_line("u3"))
    follower = tailer(engine, master)

    first = await follower.poll()
    append(master, master_line("u4"))
    second = await follower.poll()
    third = await follower.poll()

    assert (first.charged, second.charged, third.lines) == (3, 1, 0)
    assert await ingested(engine) == ["u1", "u2", "u3", "u4"]
    assert await stored_offset(engine) == (master.stat().st_size, 4)
    follower.close()


async def test_a_2_mib_line_is_quarantined_by_prefix_and_hash_and_the_next_line_charged(
    engine: AsyncEngine, account, master: Path
) -> None:
    """Issue 10, defect 10: the tailer reads an overlong line in chunks (its
    end may arrive in a later poll) and quarantines its prefix and SHA-256."""
    huge = master_line("u-huge").replace("Ana", "A" * (2 * 1024 * 1024))
    append(master, master_line("u1"), huge[: 1024 * 1024])
    follower = tailer(engine, master)

    await follower.poll()  # the overlong line is not complete yet: left for later
    append(master, huge[1024 * 1024 :], master_line("u2"))
    await follower.poll()

    assert await ingested(engine) == ["u1", "u2"]
    assert await stored_offset(engine) == (master.stat().st_size, 3)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(cdr_quarantine.c.line_number, cdr_quarantine.c.raw,
                       cdr_quarantine.c.raw_sha256, cdr_quarantine.c.raw_length)
            )
        ).one()  # fmt: skip
    assert row.line_number == 2
    assert row.raw == huge[:RAW_PREFIX_CHARS]
    assert (row.raw_sha256, row.raw_length) == (hashlib.sha256(huge.encode()).hexdigest(), len(huge))
    follower.close()


async def test_a_partial_last_line_waits_until_it_is_complete(
    engine: AsyncEngine, account, master: Path
) -> None:
    """Asterisk may be in the middle of writing a line: it is not consumed yet."""
    line = master_line("u2")
    append(master, master_line("u1"), line[:40])
    follower = tailer(engine, master)

    await follower.poll()
    assert await ingested(engine) == ["u1"]
    assert await stored_offset(engine) == (len(master_line("u1")), 1)

    append(master, line[40:])
    await follower.poll()
    assert await ingested(engine) == ["u1", "u2"]
    assert await count(engine, cdr_quarantine) == 0
    follower.close()


async def test_after_a_restart_the_tailer_resumes_from_the_stored_offset(
    engine: AsyncEngine, account, master: Path
) -> None:
    append(master, master_line("u1"), master_line("u2"))
    before = tailer(engine, master)
    await before.poll()
    before.close()  # the control plane stops

    append(master, master_line("u3"))
    after = tailer(engine, master)
    report = await after.poll()

    assert (report.lines, report.charged, report.duplicates) == (1, 1, 0)
    assert await ingested(engine) == ["u1", "u2", "u3"]
    after.close()


async def test_line_numbers_in_the_quarantine_count_from_the_start_of_the_file(
    engine: AsyncEngine, account, master: Path
) -> None:
    append(master, master_line("u1"), master_line("u2"), master_line("u3"))
    follower = tailer(engine, master)
    await follower.poll()

    append(master, "not a CDR\n")
    await follower.poll()

    async with engine.connect() as conn:
        assert await conn.scalar(select(cdr_quarantine.c.line_number)) == 4
    follower.close()


@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted"])
async def test_a_rotated_file_is_finished_then_the_new_one_followed(
    engine: AsyncEngine, account, master: Path, restarted: bool
) -> None:
    """logrotate's default: the file is renamed and a new one created. The
    lines appended before the rename are read from the renamed file — by the
    handle kept open, or found by its inode after a restart."""
    append(master, master_line("u1"))
    follower = tailer(engine, master)
    await follower.poll()
    append(master, master_line("u2"), master_line("u3"))
    master.rename(master.with_name("Master.csv.1"))
    append(master, master_line("u4"))
    if restarted:
        follower.close()
        follower = tailer(engine, master)

    await follower.poll()

    assert await ingested(engine) == ["u1", "u2", "u3", "u4"]
    assert await stored_offset(engine) == (master.stat().st_size, 1)
    follower.close()


async def test_copy_and_truncate_rotation_loses_nothing(
    engine: AsyncEngine, account, master: Path
) -> None:
    """logrotate's copytruncate: the old lines are in the copy, found by its first line."""
    append(master, master_line("u1"))
    follower = tailer(engine, master)
    await follower.poll()
    append(master, master_line("u2"))
    shutil.copyfile(master, master.with_name("Master.csv.1"))
    os.truncate(master, 0)
    append(master, master_line("u3"))

    await follower.poll()

    assert await ingested(engine) == ["u1", "u2", "u3"]
    follower.close()


async def test_a_deleted_file_is_finished_through_the_handle_kept_open(
    engine: AsyncEngine, account, master: Path
) -> None:
    append(master, master_line("u1"))
    follower = tailer(engine, master)
    await follower.poll()
    append(master, master_line("u2"))
    master.unlink()
    append(master, master_line("u3"))

    await follower.poll()

    assert await ingested(engine) == ["u1", "u2", "u3"]
    follower.close()


async def test_two_tailers_on_one_file_charge_each_cdr_once(
    engine: AsyncEngine, account, master: Path
) -> None:
    """Two instances following the same path: the one that finds the offset
    moved rolls its batch back."""
    append(master, *(master_line(f"u{i}") for i in range(9)))
    first, second = tailer(engine, master), tailer(engine, master)

    results = await asyncio.gather(first.poll(), second.poll(), return_exceptions=True)
    await first.poll()

    assert all(not isinstance(r, Exception) or isinstance(r, OffsetMovedError) for r in results)
    assert sorted(await ingested(engine)) == [f"u{i}" for i in range(9)]
    assert await ledger.balance_micro(engine, account.id) == -9 * 15_000
    first.close()
    second.close()


async def test_run_polls_until_stopped(engine: AsyncEngine, account, master: Path) -> None:
    follower = tailer(engine, master)
    stop = asyncio.Event()
    running = asyncio.create_task(follower.run(stop, interval=0.05))

    append(master, master_line("u1"))  # the file appears after the tailer started
    for _ in range(100):
        if await ingested(engine):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 5)

    assert await ingested(engine) == ["u1"]


async def count(engine: AsyncEngine, table) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))
