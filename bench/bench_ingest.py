"""Benchmark of CDR ingestion (billing.ingest.ingest_file) into SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_ingest [--n 1000000] [--pg-n N] [--accounts 1000]
        [--format master|clickphone] [--databases sqlite,postgresql] [--seed 42]

N synthetic CDRs (the kernel benchmark's mix of destinations and of ways of
writing numbers, 20 % unanswered; one line in ``--bad-every`` broken; half the
accounts with included minutes; a live reservation for the first
``--reservations`` calls) are streamed to a Master.csv (or clickphone.csv)
file, then ingested:

* into SQLite — a temporary database file, the engine as the product makes it;
* into PostgreSQL — a temporary server started like the test suite's
  (tests/fixtures/postgres.py: fsync off), stopped afterwards.

Each database stage runs in its own process (``--stage``), so its peak RSS is
its own: ``ru_maxrss`` of the ingesting process, and separately of the
parsing worker it starts for large files. Stages: ``ingest`` (the timed
first ingestion: parse, rate, write, settle, quarantine) and ``re-ingest``
(the same file again: every CDR a duplicate, nothing written — idempotency).
After each stage the database is checked: every line is a CDR row or a
quarantined line, and the ledger holds exactly the CDRs' cost.

Prints a table and saves JSON to ``bench/results/ingest.json``.
Target: >= 30,000 CDRs/s into SQLite, peak RSS <= 300 MB for 1,000,000 CDRs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, select

from bench._report import run_facts
from bench.bench_kernel import synthetic_cdrs
from billing import ledger, reservations
from billing.cdr_format import CLICKPHONE, CLICKPHONE_COLUMNS, MASTER, MASTER_COLUMNS
from billing.ingest import ingest_file
from billing.tables import cdr_quarantine, cdrs, ledger_entries
from controlplane import migrate
from controlplane.db import create_engine

RESULTS = Path(__file__).parent / "results" / "ingest.json"
TARGET_PER_SECOND = 30_000
TARGET_PEAK_RSS_MIB = 300
SYSTEM_NAME = "pbx1"
EUR = 1_000_000


# -- the CDR file ---------------------------------------------------------------------


def write_cdr_file(path: Path, n: int, accounts: int, fmt: str, seed: int, bad_every: int) -> None:
    """Stream ``n`` synthetic CDR lines to ``path`` (chunk by chunk, never all in memory)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        done = 0
        while done < n:
            size = min(50_000, n - done)
            for i, cdr in enumerate(synthetic_cdrs(rng, size, done), done):
                if bad_every and i % bad_every == bad_every - 1:
                    out.write(f'"broken line {i}","with","too few fields"\n')
                else:
                    out.write(cdr_line(i, cdr, f"acct{account_of(i, accounts)}", fmt))
            done += size


def account_of(i: int, accounts: int) -> int:
    """The account number of the i-th CDR: scattered, but known to the reservations."""
    return (i * 7919) % accounts


def cdr_line(i: int, cdr: tuple, account: str, fmt: str) -> str:
    """One CDR line as Asterisk writes it (every field quoted)."""
    dialled, billsec, answered, start = cdr
    answer = start + timedelta(seconds=3)
    end = answer + timedelta(seconds=billsec)
    fields = {
        "systemname": SYSTEM_NAME, "uniqueid": f"1754006400.{i}", "linkedid": f"1754006400.{i}",
        "accountcode": account, "src": "1001", "dst": dialled, "dcontext": "from-internal",
        "clid": '"Sub" <1001>', "channel": "PJSIP/1001-1", "dstchannel": "PJSIP/trunk-2",
        "lastapp": "Dial", "lastdata": f"PJSIP/{dialled}@trunk,60", "start": _time(start),
        "answer": _time(answer) if answered else "", "end": _time(end if answered else answer),
        "duration": str(billsec + 3), "billsec": str(billsec),
        "disposition": "ANSWERED" if answered else "NO ANSWER", "amaflags": "DOCUMENTATION",
        "userfield": "", "peeraccount": "", "sequence": str(i), "cp_dialled": dialled,
        "cp_class": "",
    }  # fmt: skip
    columns = MASTER_COLUMNS if fmt == MASTER else CLICKPHONE_COLUMNS
    return ",".join('"' + fields[c].replace('"', '""') + '"' for c in columns) + "\n"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


# -- one database stage (its own process) ---------------------------------------------


async def run_stage(url: str, cdr_file: Path, accounts: int, fmt: str, reserved: int) -> dict:
    """Prepare the database at ``url``, ingest ``cdr_file`` twice; return timings and checks."""
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        ids = []
        async with engine.begin() as conn:
            for n in range(accounts):
                account = await ledger.open_account(
                    conn, code=f"acct{n}", included_seconds=6000 if n % 2 else 0
                )
                await ledger.top_up(conn, account.id, 1000 * EUR)
                ids.append(account.id)
        for i in range(reserved):  # calls in progress, settled by their CDRs
            await reservations.reserve(
                engine, ids[account_of(i, accounts)], EUR, ttl=timedelta(hours=1),
                reference=f"1754006400.{i}",
            )  # fmt: skip
        stages = []
        for name in ("ingest", "re-ingest"):
            started = time.perf_counter()
            with WorkerMemory() as worker:
                report = await ingest_file(engine, cdr_file, system_name=SYSTEM_NAME)
            seconds = time.perf_counter() - started
            stages.append({
                "stage": name, "cdrs": report.lines, "seconds": round(seconds, 3),
                "cdrs_per_second": round(report.lines / seconds), "charged": report.charged,
                "duplicates": report.duplicates, "quarantined": report.quarantined,
                "settled": report.settled, "cost_micro": report.cost_micro,
                "parse_worker_peak_rss_mib": worker.peak_mib,
            })  # fmt: skip
        check = await _check(engine, stages[0])
    finally:
        await engine.dispose()
    return {
        "stages": stages,
        "check": check,
        "peak_rss_mib": _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "parse_worker_peak_rss_mib": max(s["parse_worker_peak_rss_mib"] for s in stages),
    }


class WorkerMemory:
    """Samples the RSS of this process's children (the parsing worker) in a thread.

    (The kernel's maximum RSS of a child counts the parent's pages it briefly
    shares between fork and exec, so it cannot be used for a spawned worker.)
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.interval):
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peak_mib = max(self.peak_mib, round(rss, 1))


async def _check(engine, first: dict) -> dict:
    async with engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(cdrs))
        quarantined = await conn.scalar(select(func.count()).select_from(cdr_quarantine))
        cost = int(await conn.scalar(select(func.coalesce(func.sum(cdrs.c.cost_micro), 0))))
        charges = -int(
            await conn.scalar(
                select(func.coalesce(func.sum(ledger_entries.c.amount_micro), 0)).where(
                    ledger_entries.c.kind == "call_charge"
                )
            )
        )
    return {
        "cdr_rows": rows,
        "quarantined_lines": quarantined,
        "every_line_is_a_row_or_quarantined": rows + quarantined == first["cdrs"],
        "ledger_equals_cdr_cost": charges == cost == first["cost_micro"],
        "total_cost_eur": f"{cost / EUR:.6f}",
    }


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


# -- driver -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="CDRs ingested into SQLite")
    parser.add_argument("--pg-n", type=int, default=None, help="CDRs for PostgreSQL (default: --n)")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--format", choices=(MASTER, CLICKPHONE), default=MASTER)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--reservations", type=int, default=1000)
    parser.add_argument("--bad-every", type=int, default=2000, help="one broken line in this many")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    # internal: one database stage, run in a child process
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark

    if args.stage:
        result = asyncio.run(
            run_stage(args.url, args.file, args.accounts, args.format, args.reservations)
        )
        print(json.dumps(result))
        return 0

    load_before = os.getloadavg()
    databases = [d for d in args.databases.split(",") if d]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        files: dict[int, Path] = {}
        for database in databases:
            n = args.n if database == "sqlite" else (args.pg_n or args.n)
            if n not in files:
                files[n] = (
                    Path(tmp) / f"{n}-{'Master' if args.format == MASTER else 'clickphone'}.csv"
                )
                started = time.perf_counter()
                write_cdr_file(files[n], n, args.accounts, args.format, args.seed, args.bad_every)
                print(f"wrote {n:,} CDRs ({files[n].stat().st_size / 2**20:.0f} MiB) "
                      f"in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
            results.append(_run_database(database, files[n], Path(tmp), args))
    result = {
        **run_facts("CDR ingestion", load_before),
        "format": args.format,
        "accounts": args.accounts,
        "databases": results,
        "target_cdrs_per_second_sqlite": TARGET_PER_SECOND,
        "target_peak_rss_mib": TARGET_PEAK_RSS_MIB,
    }
    sqlite = next((r for r in results if r["database"] == "sqlite" and "stages" in r), None)
    if sqlite is not None:
        result["sqlite_meets_target"] = sqlite["stages"][0]["cdrs_per_second"] >= TARGET_PER_SECOND
        result["sqlite_rss_within_target"] = sqlite["peak_rss_mib"] <= TARGET_PEAK_RSS_MIB
    _print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp_out.replace(args.out)
    print(f"saved {args.out}")
    return 0 if all("stages" in r for r in results) else 1


def _run_database(database: str, cdr_file: Path, tmp: Path, args: argparse.Namespace) -> dict:
    if database == "sqlite":
        return _run_stage_process(database, f"sqlite:///{tmp / 'ingest.sqlite3'}", cdr_file, args)
    if database == "postgresql":
        from bench._postgres import PostgresUnavailable, temporary_postgres

        try:
            with temporary_postgres() as url:
                return _run_stage_process(database, url, cdr_file, args)
        except PostgresUnavailable as exc:
            return {"database": database, "error": str(exc)}
    return {"database": database, "error": "unknown database"}


def _run_stage_process(database: str, url: str, cdr_file: Path, args: argparse.Namespace) -> dict:
    print(f"ingesting into {database}...", flush=True)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_ingest", "--stage", database, "--url", url,
         "--file", str(cdr_file), "--accounts", str(args.accounts), "--format", args.format,
         "--reservations", str(args.reservations)],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    if completed.returncode != 0:
        return {"database": database, "error": f"stage exited with {completed.returncode}"}
    return {"database": database, **json.loads(completed.stdout.strip().splitlines()[-1])}


def _print_table(result: dict) -> None:
    print(f"CDR ingestion benchmark — Python {result['python']}, {result['cpu']}, "
          f"{result['cpus']} CPUs, {result['format']} format")  # fmt: skip
    print(f"{'database':11} {'stage':10} {'CDRs':>10} {'seconds':>9} {'CDRs/s':>8} {'charged':>9} "
          f"{'dupl.':>9} {'quar.':>7} {'settled':>7} {'RSS MiB':>8} {'worker':>7}")  # fmt: skip
    for db in result["databases"]:
        if "error" in db:
            print(f"{db['database']:11} error: {db['error']}")
            continue
        for s in db["stages"]:
            print(
                f"{db['database']:11} {s['stage']:10} {s['cdrs']:>10,} {s['seconds']:>9.1f} "
                f"{s['cdrs_per_second']:>8,} {s['charged']:>9,} {s['duplicates']:>9,} "
                f"{s['quarantined']:>7,} {s['settled']:>7,} {db['peak_rss_mib']:>8} "
                f"{db['parse_worker_peak_rss_mib']:>7}"
            )
        print(f"{'':11} check: {db['check']}")


if __name__ == "__main__":
    sys.exit(main())
