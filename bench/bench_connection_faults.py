"""Benchmark of how fast the ARI client and the FastAGI server get over
connections that fail: the figures the integration tests once held as
wall-clock limits, measured here instead (the tests now check the cause:
which error, which timeout, the event loop's own CPU).

    .venv/bin/python -m bench.bench_connection_faults [--repeat 50] [--down-seconds 5]

No Asterisk is needed: each fault is a local socket.

* ``ari_dead_port``        ``AriClient.ping`` to a port nobody listens on:
                           seconds to ``AriConnectionError``
* ``ari_silent_timeout``   ``ping`` to a listener that never answers, with a
                           0.3 s request timeout: seconds to ``AriTimeout``
                           (and the overshoot past 0.3 s)
* ``agi_eof``              a half header then EOF: seconds until the AGI
                           server closes the connection
* ``agi_garbage``          an HTTP request instead of a header: seconds to close
* ``agi_header_timeout``   nothing sent, header timeout 0.5 s: seconds to
                           close (and the overshoot past 0.5 s)
* ``ari_reconnect_idle``   a started client whose Asterisk is down, over
                           ``--down-seconds``: the event loop thread's CPU
                           seconds and the connection attempts it made

Prints a table and saves JSON to ``bench/results/connection_faults.json``.
"""

from __future__ import annotations

from bench._report import cell, run_facts, save_json

import argparse
import asyncio
import logging
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from agi.server import AgiServer, AgiSession
from ari_app.client import AriClient
from ari_app.errors import AriConnectionError, AriTimeout

RESULTS = Path(__file__).parent / "results" / "connection_faults.json"
SILENT_REQUEST_TIMEOUT_S = 0.3
AGI_HEADER_TIMEOUT_S = 0.5
SECRET = "bench-agi-secret-0123456789"


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _summary(scenario: str, seconds: list[float], expected: float | None = None) -> dict[str, Any]:
    ordered = sorted(seconds)
    row: dict[str, Any] = {
        "scenario": scenario,
        "runs": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }
    if expected is not None:
        row["overshoot_ms_max"] = round((ordered[-1] - expected) * 1000, 2)
    return row


async def _timed(repeat: int, once: Callable[[], Awaitable[None]]) -> list[float]:
    took = []
    for _ in range(repeat):
        started = time.monotonic()
        await once()
        took.append(time.monotonic() - started)
    return took


def _failing_ping(client: AriClient, expected: type[Exception]) -> Callable[[], Awaitable[None]]:
    """One ping that must fail with ``expected`` (anything else stops the benchmark)."""
    async def once() -> None:
        try:
            await client.ping()
        except expected:
            return
        raise AssertionError(f"ping did not raise {expected.__name__}")
    return once


async def ari_dead_port(repeat: int) -> dict[str, Any]:
    client = AriClient(f"http://127.0.0.1:{_dead_port()}", "user", "secret", "app")
    try:
        return _summary("ari_dead_port", await _timed(repeat, _failing_ping(client, AriConnectionError)))
    finally:
        await client.close()


async def ari_silent_timeout(repeat: int) -> dict[str, Any]:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(repeat + 1)
    client = AriClient(f"http://127.0.0.1:{silent.getsockname()[1]}", "user", "secret", "app",
                       request_timeout=SILENT_REQUEST_TIMEOUT_S)
    try:
        took = await _timed(repeat, _failing_ping(client, AriTimeout))
        return _summary("ari_silent_timeout", took, SILENT_REQUEST_TIMEOUT_S)
    finally:
        await client.close()
        silent.close()


async def agi_closes(repeat: int) -> list[dict[str, Any]]:
    async def admit(session: AgiSession) -> None:
        return None

    server = AgiServer(routes={"admit": admit}, secret=SECRET, header_timeout=AGI_HEADER_TIMEOUT_S)
    await server.start("127.0.0.1", 0)

    def closing_after(sent: bytes, eof: bool) -> Callable[[], Awaitable[None]]:
        async def once() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            if sent:
                writer.write(sent)
            if eof:
                writer.write_eof()
            while await reader.read(1024):
                pass
            writer.close()
        return once

    try:
        return [
            _summary("agi_eof", await _timed(repeat, closing_after(b"agi_network: yes\nagi_request: agi://x/admit\n", True))),
            _summary("agi_garbage", await _timed(repeat, closing_after(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False))),
            _summary("agi_header_timeout", await _timed(max(repeat // 10, 3), closing_after(b"", False)),
                     AGI_HEADER_TIMEOUT_S),
        ]
    finally:
        await server.stop()


async def ari_reconnect_idle(down_seconds: float) -> dict[str, Any]:
    client = AriClient(f"http://127.0.0.1:{_dead_port()}", "user", "secret", "app")
    clock = time.pthread_getcpuclockid(threading.get_ident())  # this loop's thread
    client.start()
    try:
        await asyncio.sleep(0.5)  # past the first attempts
        attempts, cpu = client.connect_attempts, time.clock_gettime(clock)
        await asyncio.sleep(down_seconds)
        return {
            "scenario": "ari_reconnect_idle",
            "seconds": down_seconds,
            "loop_cpu_ms": round((time.clock_gettime(clock) - cpu) * 1000, 2),
            "connect_attempts": client.connect_attempts - attempts,
        }
    finally:
        await client.close()


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    return [
        await ari_dead_port(args.repeat),
        await ari_silent_timeout(max(args.repeat // 5, 3)),
        *await agi_closes(args.repeat),
        await ari_reconnect_idle(args.down_seconds),
    ]


# -- report ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--repeat", type=int, default=50, help="runs of each fast scenario")
    parser.add_argument("--down-seconds", type=float, default=5.0,
                        help="how long the idle reconnecting client is watched")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark

    # each fault is logged by the code under test (refused AGI connections,
    # failed ARI connects): expected here, so kept out of the table
    for name in ("agi", "ari_app"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    load_before = os.getloadavg()
    rows = asyncio.run(run(args))
    result: dict[str, Any] = {
        **run_facts("connection faults", load_before),
        "silent_request_timeout_s": SILENT_REQUEST_TIMEOUT_S,
        "agi_header_timeout_s": AGI_HEADER_TIMEOUT_S,
        "rows": rows,
    }
    _print_table(result)
    save_json(args.out, result)
    print(f"saved {args.out}")
    return 0


def _print_table(result: dict) -> None:
    print(f"connection faults benchmark — Python {result['python']}, {result['cpu']}, "
          f"{result['cpus']} CPUs")
    print(f"{'scenario':20} {'runs':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'over ms':>8} "
          f"{'loop CPU ms':>12} {'attempts':>9}")
    for row in result["rows"]:
        print(
            f"{row['scenario']:20} {cell(row, 'runs', 5)} {cell(row, 'p50_ms', 8)} "
            f"{cell(row, 'p99_ms', 8)} {cell(row, 'max_ms', 8)} {cell(row, 'overshoot_ms_max', 8)} "
            f"{cell(row, 'loop_cpu_ms', 12)} {cell(row, 'connect_attempts', 9)}"
        )


if __name__ == "__main__":
    sys.exit(main())
