"""Benchmark of the notify outbox: throughput to a local aiosmtpd and latency
from enqueue to SMTP accept.

    .venv/bin/python -m bench.bench_outbox [--messages 2000] [--voicemails 300]
        [--trickle 300] [--rate 50] [--database-url URL ...]

The receiving server is the embedded default's catcher (notify.catcher,
writing a Maildir) in a process of its own, so its work does not share the
dispatcher's CPU. Each database (SQLite in a temporary folder unless
``--database-url`` is given, once per database) is migrated to head and
emptied between scenarios:

* ``burst``      N small alerts queued first (``enqueue``/s is measured
                 there), then one dispatcher drains them: emails/s from its
                 first claim to its last accepted email
* ``voicemail``  the same with a 160 KB WAV attached to each email
* ``trickle``    emails queued one by one at ``--rate`` per second while a
                 dispatcher runs, woken by each enqueue: the latency of each
                 email from its commit in the outbox (``created_at``) to the
                 server's "250" (``sent_at``, stamped right after it), both
                 from this process's clock; p50, p99 and max

Prints a table and saves JSON to ``bench/results/outbox.json``.
"""

from __future__ import annotations

from bench._report import cell, run_facts, save_json

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from controlplane import migrate
from controlplane.db import create_engine
from notify import outbox
from notify.dispatcher import Dispatcher
from notify.messages import Attachment, OutgoingEmail
from notify.outbox import RetryPolicy
from notify.smtp import SmtpConfig, SmtpSender
from notify.tables import attachments, outbox as outbox_table

RESULTS = Path(__file__).parent / "results" / "outbox.json"
VOICEMAIL_BYTES = 160 * 1024  # 10 s of 8 kHz 16-bit mono
BATCH_SIZE = 20  # the Dispatcher's default
SERVER_START_SECONDS = 10


def alert(n: int) -> OutgoingEmail:
    return OutgoingEmail(
        dedup_key=f"low_balance:{n}:2025-07-01",
        kind="low_balance",
        recipient=f"client{n}@example.ro",
        subject="Credit scăzut: 3,20 EUR",
        text="Bună ziua,\n\nCreditul contului dumneavoastră a scăzut la 3,20 EUR.\n" * 3,
        html="<p>Bună ziua,</p><p>Creditul contului dumneavoastră a scăzut la 3,20 EUR.</p>" * 3,
        account_id=n,
    )


def voicemail(n: int, audio: bytes) -> OutgoingEmail:
    return OutgoingEmail(
        dedup_key=f"voicemail:1751360400.{n}",
        kind="voicemail",
        recipient=f"client{n}@example.ro",
        subject="Mesaj vocal nou de la 0722123456",
        text="Aveți un mesaj vocal nou.\n",
        html="<p>Aveți un mesaj vocal nou.</p>",
        attachments=(Attachment(f"mesaj-vocal-{n}.wav", "audio/wav", audio),),
        account_id=n,
    )


# -- the catcher, in its own process ---------------------------------------------


def serve_catcher(maildir: Path) -> None:
    """Run the catcher until stdin closes; print its port first."""
    from notify.catcher import MaildirCatcher

    async def serve() -> None:
        catcher = MaildirCatcher(maildir)
        await catcher.start()
        print(catcher.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await catcher.stop()

    asyncio.run(serve())


class CatcherProcess:
    def __init__(self, maildir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_outbox", "--serve-catcher", str(maildir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the catcher did not start: {line!r}")
        self.port = int(line)

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()  # its signal to stop
        try:
            self.process.wait(timeout=SERVER_START_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- scenarios -------------------------------------------------------------------


def new_dispatcher(engine: AsyncEngine, port: int) -> Dispatcher:
    config = SmtpConfig(
        port=port, from_address="alerts@clickphone.example", local_hostname="bench",
        timeout=10, send_timeout=30,
    )
    return Dispatcher(
        engine, SmtpSender(config), policy=RetryPolicy(lease=timedelta(minutes=2)),
        batch_size=BATCH_SIZE, poll_interval=1.0,
    )


async def empty_outbox(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(attachments))
        await conn.execute(delete(outbox_table))


async def burst(engine: AsyncEngine, port: int, emails: list[OutgoingEmail], name: str) -> dict:
    await empty_outbox(engine)
    started = time.perf_counter()
    for email in emails:
        await outbox.enqueue(engine, email)
    enqueue_seconds = time.perf_counter() - started

    started = time.perf_counter()
    counts = await new_dispatcher(engine, port).dispatch_due()
    send_seconds = time.perf_counter() - started
    assert counts.sent == len(emails), counts
    return {
        "scenario": name,
        "emails": len(emails),
        "enqueue_per_second": round(len(emails) / enqueue_seconds),
        "sent_per_second": round(len(emails) / send_seconds),
        "seconds": round(send_seconds, 3),
    }


async def trickle(engine: AsyncEngine, port: int, count: int, rate: float) -> dict:
    await empty_outbox(engine)
    dispatcher = new_dispatcher(engine, port)
    task = asyncio.create_task(dispatcher.run())
    interval = 1 / rate
    started = time.perf_counter()
    for n in range(count):
        await outbox.enqueue(engine, alert(n), wake=dispatcher.wake)
        # a steady rate, not a burst: sleep to the next slot
        await asyncio.sleep(max(0.0, started + (n + 1) * interval - time.perf_counter()))
    while (await outbox.next_due_at(engine)) is not None:
        await asyncio.sleep(0.05)
    dispatcher.stop()
    await task

    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(outbox_table.c.created_at, outbox_table.c.sent_at))
        ).all()
    latencies = sorted((row.sent_at - row.created_at).total_seconds() * 1000 for row in rows)
    assert len(latencies) == count and all(row.sent_at for row in rows)
    return {
        "scenario": f"trickle at {rate:g}/s",
        "emails": count,
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(_percentile(latencies, 0.99), 1),
        "latency_ms_max": round(latencies[-1], 1),
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def bench_database(url: str, port: int, args: argparse.Namespace) -> list[dict]:
    await migrate.upgrade(url)
    engine = create_engine(url)
    backend = engine.dialect.name
    audio = bytes(range(256)) * (VOICEMAIL_BYTES // 256)
    try:
        rows = [
            await burst(engine, port, [alert(n) for n in range(args.messages)], "burst"),
            await burst(
                engine, port, [voicemail(n, audio) for n in range(args.voicemails)],
                "voicemail 160 KB",
            ),
            await trickle(engine, port, args.trickle, args.rate),
        ]
        await empty_outbox(engine)
    finally:
        await engine.dispose()
    return [{"database": backend, **row} for row in rows]


async def run(args: argparse.Namespace, work: Path) -> list[dict]:
    catcher = CatcherProcess(work / "maildir")
    try:
        urls = args.database_url or [f"sqlite+aiosqlite:///{work / 'outbox.sqlite3'}"]
        rows = []
        for url in urls:
            rows += await bench_database(url, catcher.port, args)
        return rows
    finally:
        catcher.stop()


# -- report ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--messages", type=int, default=2000, help="alerts in the burst")
    parser.add_argument("--voicemails", type=int, default=300, help="voicemails in their burst")
    parser.add_argument("--trickle", type=int, default=300, help="emails in the trickle")
    parser.add_argument("--rate", type=float, default=50.0, help="trickle emails per second")
    parser.add_argument(
        "--database-url", action="append", help="database to use (repeatable); default SQLite"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve-catcher", type=Path, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark
    if args.serve_catcher:
        serve_catcher(args.serve_catcher)
        return 0

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as work:
        rows = asyncio.run(run(args, Path(work)))
    result: dict[str, Any] = {
        **run_facts("notify outbox", load_before),
        "smtp_server": "notify.catcher (aiosmtpd, Maildir) in its own process, loopback",
        "batch_size": BATCH_SIZE,
        "rows": rows,
    }
    _print_table(result)
    save_json(args.out, result)
    print(f"saved {args.out}")
    return 0




def _print_table(result: dict) -> None:
    print(f"notify outbox benchmark — Python {result['python']}, {result['cpu']}, "
          f"{result['cpus']} CPUs; SMTP: {result['smtp_server']}")
    print(f"{'database':10} {'scenario':18} {'emails':>7} {'enqueue/s':>10} {'sent/s':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in result["rows"]:
        print(
            f"{row['database']:10} {row['scenario']:18} {row['emails']:>7} "
            f"{cell(row, 'enqueue_per_second', 10)} {cell(row, 'sent_per_second', 8)} "
            f"{cell(row, 'latency_ms_p50', 8)} {cell(row, 'latency_ms_p99', 8)} {cell(row, 'latency_ms_max', 8)}"
        )


if __name__ == "__main__":
    sys.exit(main())
