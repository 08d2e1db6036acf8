"""Benchmark of the admin HTTP surfaces through the real server.

    .venv/bin/python -m bench.bench_admin_http [--n 1000000] [--accounts 100]
        [--requests 500] [--rounds 3] [--baseline DIR] [--seed 42]

N synthetic CDRs (bench_ingest's file, shared by ``--accounts`` accounts:
about 9,700 calls each with the defaults, as 3 % of the lines are not
charged calls) are ingested into a temporary SQLite database. The admin app then runs in its own process (``--serve``),
as ``clickphone run`` serves it (aiohttp, the product's engine), so its
memory is its own, and this process measures it over HTTP:

* latency — ``--requests`` sequential requests of each URL of :data:`PAGES`
  (after a warm-up) for the first account: p50 and p99, ``--rounds`` times;
  the medians of the rounds and their spread (max − min) are reported. A page
  that is not there (404: the console, before it is merged) is reported as
  absent. The console's pages are requested with the session cookie of an
  operator logged in through POST /console/login.
* before/after — with ``--baseline DIR`` (a checkout of the code to compare
  with, e.g. ``git worktree add /tmp/before main``), a second server runs
  that code on a copy of the database migrated down to that code's head,
  and each page is timed on both in turn (the order reversed every other
  round): on a shared, noisy machine both see the same load.
* export — GET /api/v1/calls.csv of every CDR, read to the end: the rows,
  the seconds, and the server's peak RSS during the export (VmHWM, reset
  just before it: the console login's argon2id verification alone peaks
  at ~64 MiB more, freed at once, which is not the export's memory), and
  its peak before the export.

Prints a table and saves JSON to ``bench/results/admin_http.json``.
Targets: p99 <= 20 ms for each page; the 1,000,000-CDR export within
150 MB of server RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench._report import cell, run_facts, save_json
from access import users
from access.roles import OPERATOR
from bench.bench_ingest import SYSTEM_NAME, write_cdr_file
from billing import ledger
from billing.ingest import ingest_file
from controlplane import migrate
from controlplane.db import create_engine

RESULTS = Path(__file__).parent / "results" / "admin_http.json"
TOKEN = "bench-admin-token"
TARGET_P99_MS = 20.0
TARGET_EXPORT_RSS_MIB = 150
WARM_UP = 20
EUR = 1_000_000
CONSOLE_USER = "bench-operator"
CONSOLE_PASSWORD = "bench correct horse battery staple"

PAGES = {
    "account": "/api/v1/accounts/{account_id}",
    "calls page": "/api/v1/calls?account={account_id}&limit=50",
    "calls, no calls": "/api/v1/calls?account={quiet_id}&limit=50",
    "console account": "/console/accounts/{account_id}",
}
"""The pages timed, by name: add a URL here to time it too ({account_id}: the
first account; {quiet_id}: an account without calls, the worst case of a filter)."""


# -- the database -----------------------------------------------------------------------


async def prepare(url: str, cdr_file: Path, accounts: int) -> tuple[dict[str, int], int, float]:
    """Migrate, open the accounts and one without calls, ingest ``cdr_file``;
    return the URL ids, the CDRs written and the ingestion's seconds."""
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            ids = []
            for n in range(accounts + 1):  # the last one has no calls
                account = await ledger.open_account(conn, code=f"acct{n}")
                await ledger.top_up(conn, account.id, 100_000 * EUR)
                ids.append(account.id)
        await users.create_user(engine, username=CONSOLE_USER, password=CONSOLE_PASSWORD, role=OPERATOR)
        started = time.perf_counter()
        report = await ingest_file(engine, cdr_file, system_name=SYSTEM_NAME)
        return {"account_id": ids[0], "quiet_id": ids[-1]}, report.charged, time.perf_counter() - started
    finally:
        await engine.dispose()


# -- the server (its own process) -------------------------------------------------------


async def serve(url: str, port: int) -> None:
    """Serve the admin app on 127.0.0.1:``port`` until stdin closes."""
    from aiohttp import web

    from controlplane.invoicing_wiring import invoicing_service
    from controlplane.recipients import account_contact
    from controlplane.settings import Settings
    from notify.notifier import Notifier
    from notify.render import Renderer
    from web.app import AdminServices, build_admin_app

    settings = Settings(admin_token=TOKEN)
    engine = create_engine(url)
    notifier = Notifier(Renderer(timezone=settings.timezone))

    async def nothing(*_args: object) -> int:
        return 0

    async def health() -> dict[str, object]:
        return {"status": "ok"}

    services = AdminServices(
        engine=engine, admin_token=TOKEN, sip_realm=settings.sip_realm, notifier=notifier,
        account_contact=account_contact, end_calls=nothing, provisioning_changed=nothing, health=health,
        invoicing=invoicing_service(engine, notifier), supplier=settings.supplier,
    )  # fmt: skip
    runner = web.AppRunner(build_admin_app(services), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)  # the benchmark closes it to stop us
    await runner.cleanup()
    await engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset_peak_rss(pid: int) -> None:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0's clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc")


# -- the client -------------------------------------------------------------------------


async def console_cookie(base: str) -> str | None:
    """Log in to the console as the bench's operator; the session cookie
    header, or None when the server has no console."""
    async with aiohttp.ClientSession() as session:
        async with session.post(base + "/console/login", allow_redirects=False,
                                data={"username": CONSOLE_USER, "password": CONSOLE_PASSWORD}) as response:
            if response.status == 404:
                return None
            if response.status != 303 or "cp_session" not in response.cookies:
                raise RuntimeError(f"console login: {response.status} {(await response.text())[:200]}")
            return f"cp_session={response.cookies['cp_session'].value}"


async def time_page(session: aiohttp.ClientSession, base: str, name: str, path: str, ids: dict[str, int],
                    requests: int) -> dict:
    """p50/p99 of one page of :data:`PAGES`, requested one request after another."""
    url = base + path.format(**ids)
    async with session.get(url, allow_redirects=False) as response:
        await response.read()
        if response.status == 404:
            return {"page": name, "path": path, "absent": True}
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {(await response.text())[:200]}")
    times = []
    for i in range(WARM_UP + requests):
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            assert response.status == 200, response.status
        if i >= WARM_UP:
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"page": name, "path": path, "requests": requests, "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[int(len(times) * 0.99) - 1], 2)}


async def time_rounds(bases: dict[str, str], ids: dict[str, int], requests: int, rounds: int) -> dict[str, list]:
    """Each server's rows of :func:`time_page`, a list per round: each page
    is timed on every server in turn, the order reversed every other round,
    so a burst of load elsewhere on the machine falls on both alike."""
    sessions = {}
    for name, base in bases.items():
        headers = {"Authorization": f"Bearer {TOKEN}"}
        cookie = await console_cookie(base)
        if cookie is not None:
            headers["Cookie"] = cookie  # aiohttp's client keeps no Secure cookie over HTTP
        sessions[name] = aiohttp.ClientSession(headers=headers)
    timed: dict[str, list[list[dict]]] = {name: [] for name in bases}
    try:
        for n in range(rounds):
            order = list(bases) if n % 2 == 0 else list(reversed(bases))
            for name in bases:
                timed[name].append([])
            for page, path in PAGES.items():
                for name in order:
                    timed[name][-1].append(await time_page(sessions[name], bases[name], page, path, ids, requests))
    finally:
        for session in sessions.values():
            await session.close()
    return timed


def over_rounds(rounds: list[list[dict]]) -> list[dict]:
    """Each page's median p50 and p99 over the rounds, with each round's
    figures and the spread (max − min) of its p99."""
    rows = []
    for first, *others in zip(*rounds):
        if first.get("absent"):
            rows.append(first)
            continue
        every = [first, *others]
        p50s, p99s = [row["p50_ms"] for row in every], [row["p99_ms"] for row in every]
        rows.append({"page": first["page"], "path": first["path"], "requests": first["requests"],
                     "rounds": len(every), "p50_ms": round(statistics.median(p50s), 2),
                     "p99_ms": round(statistics.median(p99s), 2), "p99_spread_ms": round(max(p99s) - min(p99s), 2),
                     "p50_rounds_ms": p50s, "p99_rounds_ms": p99s})
    return rows


async def export_all(base: str) -> dict:
    """Read GET /api/v1/calls.csv to its end; count its rows."""
    rows, size = 0, 0
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout) as session:
        async with session.get(base + "/api/v1/calls.csv") as response:
            assert response.status == 200, response.status
            async for chunk in response.content.iter_chunked(1 << 16):
                rows += chunk.count(b"\n")
                size += len(chunk)
    return {"rows": rows - 1, "mib": round(size / 2**20, 1), "seconds": round(time.perf_counter() - started, 2)}


# -- the run ----------------------------------------------------------------------------


class Server:
    """The admin app of the code in ``code_dir`` serving ``url`` in its own process."""

    def __init__(self, code_dir: Path, url: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_admin_http", "--serve", url, "--port", str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=code_dir)
        if self.process.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError(f"the server of {code_dir} did not start")
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def baseline_database(url: str, tmp: str, baseline: Path) -> str:
    """A copy of the database at ``url``, migrated down to ``baseline``'s head."""
    path = Path(tmp) / "baseline.sqlite3"
    shutil.copyfile(url.removeprefix("sqlite+aiosqlite:///"), path)
    copy = f"sqlite+aiosqlite:///{path}"
    asyncio.run(migrate.downgrade(copy, migrate.head(baseline / "controlplane" / "migrations")))
    return copy


def run(args: argparse.Namespace) -> dict:
    load_before = os.getloadavg()
    here = Path(__file__).parent.parent
    with tempfile.TemporaryDirectory(prefix="bench-admin-http-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/admin.sqlite3"
        cdr_file = Path(tmp) / "Master.csv"
        write_cdr_file(cdr_file, args.n, args.accounts, "master", args.seed, bad_every=0)
        ids, charged, ingest_seconds = asyncio.run(prepare(url, cdr_file, args.accounts))
        cdr_file.unlink()
        servers = {}
        try:
            if args.baseline:
                servers["before"] = Server(args.baseline, baseline_database(url, tmp, args.baseline))
            servers["after"] = server = Server(here, url)
            bases = {name: each.base for name, each in servers.items()}
            rounds = asyncio.run(time_rounds(bases, ids, args.requests, args.rounds))
            rss_before_export = peak_rss_mib(server.process.pid)
            reset_peak_rss(server.process.pid)
            export = asyncio.run(export_all(server.base))
            export["server_peak_rss_mib"] = peak_rss_mib(server.process.pid)
            export["server_peak_rss_before_mib"] = rss_before_export
        finally:
            for each in servers.values():
                each.stop()
    result = {
        **run_facts("admin_http", load_before),
        "cdrs": charged, "accounts": args.accounts, "calls_per_account": charged // args.accounts,
        "ingest_seconds": round(ingest_seconds, 1), "pages": over_rounds(rounds["after"]), "export": export,
        "targets": {"p99_ms": TARGET_P99_MS, "export_peak_rss_mib": TARGET_EXPORT_RSS_MIB},
    }
    if args.baseline:
        result["baseline"] = {"code": str(args.baseline), "pages": over_rounds(rounds["before"])}
    return result


def print_table(result: dict) -> None:
    print(f"{result['cdrs']:,} CDRs, {result['accounts']} accounts ({result['calls_per_account']:,} calls each)")
    before = {row["page"]: row for row in result.get("baseline", {}).get("pages", [])}
    print(f"medians over rounds; spread = max - min of the rounds' p99{'; before = ' if before else ''}"
          f"{result['baseline']['code'] if before else ''}")
    print(f"{'page':<18} {'p50 ms':>8} {'p99 ms':>8} {'spread':>8}"
          f"{'':>3}{'before p50':>11} {'p99':>8} {'spread':>8}" * bool(before) + "  path")
    for row in result["pages"]:
        line = f"{row['page']:<18} " + (f"{'absent':>8} {'':>8} {'':>8}" if row.get("absent") else
                                        f"{cell(row, 'p50_ms', 8)} {cell(row, 'p99_ms', 8)} "
                                        f"{cell(row, 'p99_spread_ms', 8)}")
        if before:
            old = before.get(row["page"], {"absent": True})
            line += f"{'':>3}" + (f"{'absent':>11} {'':>8} {'':>8}" if old.get("absent") else
                                  f"{cell(old, 'p50_ms', 11)} {cell(old, 'p99_ms', 8)} {cell(old, 'p99_spread_ms', 8)}")
        print(f"{line}  {row['path']}")
    export = result["export"]
    print(f"calls.csv: {export['rows']:,} rows, {export['mib']} MiB in {export['seconds']} s; "
          f"server peak RSS during it {export['server_peak_rss_mib']} MiB "
          f"({export['server_peak_rss_before_mib']} MiB before it, console login included)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="CDRs in the database (default 1,000,000)")
    parser.add_argument("--accounts", type=int, default=100, help="accounts the CDRs share (default 100)")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per page (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="times each page is timed (default 3)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="a checkout of the code to compare with, timed in the same run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.port))
        return 0
    result = run(args)
    print_table(result)
    save_json(RESULTS, result)
    slow = [row["page"] for row in result["pages"] if row.get("p99_ms", 0) > TARGET_P99_MS]
    heavy = result["export"]["server_peak_rss_mib"] > TARGET_EXPORT_RSS_MIB
    return 1 if slow or heavy else 0


if __name__ == "__main__":
    sys.exit(main())
