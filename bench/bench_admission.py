"""Benchmark of call admission: ``Admission.decide`` in-process with 100,000
accounts in the database, then ``finish`` of each call.

    .venv/bin/python -m bench.bench_admission [--accounts 100000] [--decisions 20000]
        [--concurrency 8] [--seed 7] [--postgres] [--database-url URL ...]

The database (SQLite in a temporary folder, WAL, as the embedded default
runs it; ``--postgres`` adds a throwaway PostgreSQL server, see
bench/_postgres.py; ``--database-url`` names others) is migrated to head and
filled, in bulk through the owning packages' tables, with N subscribers,
each with one SIP endpoint and one billing account: 80 % funded (a top-up of
5-50 EUR and a payment entry, a few with a daily limit or an allowlist),
20 % at zero balance; 1 % of the accounts suspended.

The mix of calls (each from a random endpoint) is realistic for a small
operator's busy hour:

==============  =====  =============================================
allowed paid     70 %  Romanian mobile and fixed numbers from funded accounts
refused          20 %  zero balance, premium not enabled, outside the allowlist,
                       suspended
free             10 %  112, 116xxx, 0800 (any account)
==============  =====  =============================================

Phases, each from a fresh set of calls:

* ``sequential``  one decision at a time: latency of each ``decide`` (p50,
                  p99, max) and decisions per second; then ``finish`` of
                  every call (its own p50/p99)
* ``concurrent``  ``--concurrency`` callers deciding at once (several calls
                  of one busy moment): decisions per second overall, and
                  each decision's latency (p50, p99, max)

Targets, on SQLite (the embedded default): p99 <= 1 ms for a decision
alone (sequential), and >= 5,000 decisions/s as capacity, with calls
arriving together. On SQLite a decision runs on the event loop itself
when the write lock is free, else on the database worker's thread, which
then commits several decisions at once (see sqlbase.worker).
Prints a table and saves JSON to ``bench/results/admission.json``.
"""

from __future__ import annotations

from bench._report import cell, run_facts, save_json

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from admission.service import Admission, CallRequest
from admission.tables import account_policies
from billing.accounts import ACTIVE, PREPAID, SUSPENDED
from billing.tables import PAYMENT, TOPUP, accounts, ledger_entries
from billing.tariff_store import load_tariff
from controlplane import migrate
from controlplane.db import create_engine
from provisioning.credentials import DEFAULT_REALM, md5_cred
from provisioning.tables import sip_endpoints, subscribers

RESULTS = Path(__file__).parent / "results" / "admission.json"
TARGET_P99_MS = 1.0
TARGET_PER_SECOND = 5_000
INSERT_BATCH = 5_000
PHONE_ADDRESS = "192.0.2.10"
OUTSIDE_ADDRESS = "198.51.100.99"
EPOCH = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Population:
    """Which endpoints fall in which group (indexes 0..N-1)."""

    funded: list[int]
    broke: list[int]
    allowlisted: list[int]  # funded, allowlist 192.0.2.0/24
    suspended: list[int]


def endpoint_name(i: int) -> str:
    return f"sub{i:06d}"


# -- filling the database ---------------------------------------------------------


async def fill(engine: AsyncEngine, n: int, rng: random.Random) -> Population:
    """Insert N subscribers, endpoints, accounts, ledger entries, policies."""
    created = EPOCH - timedelta(days=30)
    funded, broke, allowlisted, suspended = [], [], [], []
    for i in range(n):
        (funded if rng.random() < 0.8 else broke).append(i)
    funded_set = set(funded)
    for i in rng.sample(funded, max(1, n // 50)):
        allowlisted.append(i)
    suspended = rng.sample(range(n), max(1, n // 100))
    suspended_set = set(suspended)
    async with engine.begin() as conn:
        for start in range(0, n, INSERT_BATCH):
            ids = range(start, min(start + INSERT_BATCH, n))
            await conn.execute(insert(subscribers), [
                {"id": i + 1, "name": f"Abonat {i}", "email": f"sub{i}@example.ro", "language": "ro",
                 "created_at": created} for i in ids])
            await conn.execute(insert(sip_endpoints), [
                {"id": i + 1, "subscriber_id": i + 1, "username": endpoint_name(i),
                 "md5_cred": md5_cred(endpoint_name(i), DEFAULT_REALM, f"pw-{i:012d}-bench"),
                 "realm": DEFAULT_REALM, "display_name": f"Abonat {i}",
                 "caller_id_number": f"{1000 + i}", "account_code": f"acct{i:06d}", "created_at": created}
                for i in ids])
            await conn.execute(insert(accounts), [
                {"id": i + 1, "code": f"acct{i:06d}", "subscriber_id": i + 1, "kind": PREPAID,
                 "credit_limit_micro": 0, "status": SUSPENDED if i in suspended_set else ACTIVE,
                 "daily_limit_micro": 20_000_000 if i % 10 == 0 else None, "monthly_fee_micro": 0,
                 "included_seconds": 0, "tariff": "annex_b", "language": "ro", "created_at": created}
                for i in ids])
            entries = []
            for i in ids:
                if i in funded_set:
                    amount = rng.randrange(5, 51) * 1_000_000
                    entries.append({"account_id": i + 1, "kind": TOPUP, "amount_micro": amount,
                                    "created_at": created, "reference": "bench"})
                    entries.append({"account_id": i + 1, "kind": PAYMENT, "amount_micro": 1_000_000,
                                    "created_at": created + timedelta(days=1), "reference": "bench"})
            if entries:
                await conn.execute(insert(ledger_entries), entries)
        await conn.execute(insert(account_policies), [
            {"account_id": i + 1, "allowed_networks": "192.0.2.0/24", "premium_enabled": False,
             "international_enabled": True, "blocked_prefixes": "", "max_concurrent_calls": 4,
             "updated_at": created} for i in allowlisted])
    return Population(funded, broke, allowlisted, suspended)


# -- the call mix -------------------------------------------------------------------


def calls(population: Population, count: int, rng: random.Random, phase: str) -> list[tuple[str, CallRequest]]:
    """Return ``count`` (kind, request) pairs in the mix's proportions."""
    funded = [i for i in population.funded if i not in set(population.suspended)]
    allow = population.allowlisted
    suspended = population.suspended
    everyone = population.funded + population.broke
    out = []
    for k in range(count):
        ref = f"{phase}.{k}"
        roll = rng.random()
        if roll < 0.70:
            who = rng.choice(funded)
            number = rng.choice(("07", "02", "03")) + f"{rng.randrange(10**8):08d}"
            kind, source = "allowed paid", PHONE_ADDRESS
        elif roll < 0.90:
            pick = rng.random()
            if pick < 0.5:
                who, number = rng.choice(population.broke), "07" + f"{rng.randrange(10**8):08d}"
            elif pick < 0.75:
                who, number = rng.choice(funded), "0900" + f"{rng.randrange(10**6):06d}"
            elif pick < 0.9:
                who, number = rng.choice(allow), "02" + f"{rng.randrange(10**8):08d}"
            else:
                who, number = rng.choice(suspended), "07" + f"{rng.randrange(10**8):08d}"
            kind = "refused"
            source = OUTSIDE_ADDRESS if pick >= 0.75 and pick < 0.9 else PHONE_ADDRESS
        else:
            who = rng.choice(everyone)
            number = rng.choice(("112", "116111", "0800" + f"{rng.randrange(10**6):06d}"))
            kind, source = "free", PHONE_ADDRESS
        out.append((kind, CallRequest(ref, endpoint_name(who), source, number)))
    return out


# -- phases ---------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def sequential(admission: Admission, mix: list[tuple[str, CallRequest]]) -> dict[str, Any]:
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    mismatched = unavailable = 0
    started = time.perf_counter()
    for kind, request in mix:
        t0 = time.perf_counter()
        decision = await admission.decide(request)
        latencies.append(time.perf_counter() - t0)
        outcome = "free" if decision.free else ("allowed paid" if decision.allowed else "refused")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        mismatched += outcome != kind
        unavailable += decision.reason is not None and decision.reason.code == "unavailable"
    decide_seconds = time.perf_counter() - started
    finish_latencies = []
    for _, request in mix:
        t0 = time.perf_counter()
        await admission.finish(request.call_ref)
        finish_latencies.append(time.perf_counter() - t0)
    latencies.sort()
    finish_latencies.sort()
    return {
        "decisions": len(mix),
        "decisions_per_second": round(len(mix) / decide_seconds),
        "p50_ms": _ms(_percentile(latencies, 0.50)),
        "p99_ms": _ms(_percentile(latencies, 0.99)),
        "max_ms": _ms(latencies[-1]),
        "mean_ms": _ms(statistics.fmean(latencies)),
        "finish_p50_ms": _ms(_percentile(finish_latencies, 0.50)),
        "finish_p99_ms": _ms(_percentile(finish_latencies, 0.99)),
        "outcomes": outcomes,
        "outcomes_not_as_planned": mismatched,
        "unavailable": unavailable,
    }


async def concurrent(admission: Admission, mix: list[tuple[str, CallRequest]], workers: int) -> dict[str, Any]:
    queue = iter(mix)
    unavailable = 0
    latencies: list[float] = []

    async def caller() -> None:
        nonlocal unavailable
        for _, request in queue:
            t0 = time.perf_counter()
            decision = await admission.decide(request)
            latencies.append(time.perf_counter() - t0)
            unavailable += decision.reason is not None and decision.reason.code == "unavailable"

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(workers)))
    seconds = time.perf_counter() - started
    for _, request in mix:
        await admission.finish(request.call_ref)
    latencies.sort()
    return {"decisions": len(mix), "concurrency": workers, "decisions_per_second": round(len(mix) / seconds),
            "p50_ms": _ms(_percentile(latencies, 0.50)), "p99_ms": _ms(_percentile(latencies, 0.99)),
            "max_ms": _ms(latencies[-1]), "unavailable": unavailable}


async def bench_database(url: str, name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = random.Random(args.seed)
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        population = await fill(engine, args.accounts, rng)
        fill_seconds = time.perf_counter() - t0
        await load_tariff(engine)  # seeds Annex B once, as the running control plane has
        admission = Admission(engine)
        warm = calls(population, 500, rng, "warm")
        await sequential(admission, warm)
        seq = await sequential(admission, calls(population, args.decisions, rng, "seq"))
        conc = await concurrent(admission, calls(population, args.decisions, rng, "conc"), args.concurrency)
    finally:
        await engine.dispose()
    common = {"database": name, "accounts": args.accounts, "fill_seconds": round(fill_seconds, 1)}
    return [{**common, "phase": "sequential", **seq}, {**common, "phase": "concurrent", **conc}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL server")
    parser.add_argument("--database-url", action="append", help="another empty database (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark

    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-admission-") as work:
        url = f"sqlite+aiosqlite:///{Path(work) / 'admission.sqlite3'}"
        rows += asyncio.run(bench_database(url, "sqlite", args))
    for url in args.database_url or ():
        rows += asyncio.run(bench_database(url, url.split(":", 1)[0], args))
    if args.postgres:
        from bench._postgres import PostgresUnavailable, temporary_postgres

        try:
            with temporary_postgres("bench_admission") as url:
                rows += asyncio.run(bench_database(url, "postgresql", args))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
    sequential_sqlite = next(r for r in rows if r["database"] == "sqlite" and r["phase"] == "sequential")
    concurrent_sqlite = next(r for r in rows if r["database"] == "sqlite" and r["phase"] == "concurrent")
    result: dict[str, Any] = {
        **run_facts("call admission (Admission.decide, then finish)", load_before),
        "mix": {"allowed paid": 0.70, "refused": 0.20, "free": 0.10},
        "targets": {"p99_ms (sqlite, sequential)": TARGET_P99_MS,
                    "decisions_per_second (sqlite, concurrent)": TARGET_PER_SECOND},
        "targets_met": sequential_sqlite["p99_ms"] <= TARGET_P99_MS
        and concurrent_sqlite["decisions_per_second"] >= TARGET_PER_SECOND,
        "rows": rows,
    }
    _print_table(result)
    save_json(args.out, result)
    print(f"saved {args.out}")
    return 0


def _print_table(result: dict) -> None:
    print(f"admission benchmark — Python {result['python']}, {result['cpu']}, {result['cpus']} CPUs; "
          f"targets p99 <= {TARGET_P99_MS} ms (sequential), >= {TARGET_PER_SECOND}/s (concurrent): "
          f"{'met' if result['targets_met'] else 'NOT met'}")
    print(f"{'database':11} {'phase':11} {'accounts':>8} {'decisions':>9} {'per s':>7} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7} {'finish p50':>10} {'finish p99':>10} {'unavail.':>8}")
    for row in result["rows"]:
        print(f"{row['database']:11} {row['phase']:11} {row['accounts']:>8} {row['decisions']:>9} "
              f"{row['decisions_per_second']:>7} {cell(row, 'p50_ms', 7)} {cell(row, 'p99_ms', 7)} {cell(row, 'max_ms', 7)} "
              f"{cell(row, 'finish_p50_ms', 10)} {cell(row, 'finish_p99_ms', 10)} {cell(row, 'unavailable', 8)}")


if __name__ == "__main__":
    sys.exit(main())
