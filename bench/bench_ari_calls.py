"""Benchmark (b) of the ARI call flows: latency from StasisStart to the dial
command under a steady call rate, beside a bare ARI app that only
continues each call.

    sudo .venv/bin/python -m bench.bench_ari_calls [--rates 10,20,30,50 | --rate 50]
        [--duration 60] [--hold 0.2] [--subscribers 500] [--out bench/results/ari_calls.json]

Needs root: it starts its own Asterisk testbed instance (Debian sid root,
Asterisk 22; the root is built on first use) with the shipped dialplan plus
the benchmark's contexts, and a fresh SQLite database with ``--subscribers``
subscribers whose accounts have credit for every call; their phones call
in turn. Calls are Local channels
originated at ``--rate`` per second for ``--duration`` seconds, in two
phases of the same run:

* ``bare``      the ;2 half enters ``Stasis(bench-bare)``; a bare ARI app
                (its own client) sends ``continue`` at once — what ARI and
                this process cost with no logic at all;
* ``outbound``  the ;2 half enters ``Stasis(app,outbound,endpoint=...)`` as
                a subscriber calling a Romanian mobile (``--endpoint-variable``:
                the endpoint in CP_ENDPOINT instead, read with one more
                request): the real CallController, with the event filter it
                sets, has admission decide in the database (reservation,
                live call), originates the carrier leg — created and
                dialled in one request — (a Local channel to a context that
                answers and hangs up after ``--hold`` s) and records the
                decision on the CDR; then answer, bridge, hard caps, hold to
                the grant, teardown, admission.finish.

Both phases originate their callers with one codec (alaw), as a phone's
call has; without it every Local channel gets every audio format and
Asterisk builds resampling paths for each call.

Latency of each call: from the moment a StasisStart handler of this
process runs for the caller to the moment the leg's originate (or the
continue) request is sent (``app``), and from Asterisk's own event timestamp to that moment
(``asterisk→cmd``, which adds the websocket delivery); for the outbound
flow, ``app_stages_p50_ms`` splits ``app`` into before, in and after
admission.decide. The target — no failed call at 50 calls/s, p99 within
1.5x the bare app's — is judged on ``asterisk→cmd``, which runs from the
StasisStart itself (Asterisk stamps it as the channel enters the app) to
the dial command; both ratios are printed and saved (``verdict``). From
the handler alone the bare app costs ~0.1–0.2 ms (a task and a request),
less than any decision that commits a reservation (invariant 2), so that
ratio stays well above 1.5. A call fails if it was not originated, never entered the
app, was never dialled/continued, or (outbound) never got bridged. Cost of
each call: Asterisk's and this process's CPU (cores used / rate), the
events the app received and the REST requests its flow sent (by kind; the
bench's own originates left out). Prints a table; saves JSON to
``bench/results/ari_calls.json``.
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
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from admission.policy import AccountPolicy
from admission.service import Admission, set_account_policy
from ari_app.client import ANY_EVENT, AriClient
from ari_app.controller import CallController
from ari_app.ringing import LEG_FLOW
from ari_app.errors import AriFailure
from ari_app.stasis import StasisApp
from asterisk_conf.render import TEMPLATES_DIR
from asterisk_conf.testbed import Testbed, TestbedError
from billing import ledger
from controlplane import migrate
from controlplane.asterisk_setup import testbed_for
from controlplane.db import create_engine
from controlplane.settings import REPO_ROOT, Settings
from provisioning import services as provisioning

RESULTS = Path(__file__).parent / "results" / "ari_calls.json"
APP = "clickphone-bench"
BARE_APP = "bench-bare"
ENDPOINT = "benchsub"
ACCOUNT = "benchacct"
DIALLED = "0712345678"
SETTLE_TIMEOUT_S = 60.0
DEFAULT_RATES = "10,20,30,50"  # calls/s
TARGET_RATE = 50.0  # the target: no failed call at this rate, and p99 within TARGET_RATIO of the bare app's
TARGET_RATIO = 1.5
# Callers take turns, as in a busy hour: no CDR is ingested here, so each
# account's finished calls keep their reservations live for the whole run,
# and one account making every call would make each decision sum thousands.
DEFAULT_SUBSCRIBERS = 500
# The callers' codec, as a SIP phone's call has one. Without it ARI gives a
# Local channel every audio format, the carrier leg inherits them, and
# Asterisk builds resampling translation paths (speex filter tables) for
# every call, which real calls do not: measured at 10 calls/s, Asterisk's
# CPU per call fell from 16 to 7 ms (bare) and by ~10 ms (outbound).
FORMATS = ("alaw",)

CALLER_CONTEXTS = """
[bench-callers-%(n)d]
exten => _X.,1,Set(CDR(cp_dialled)=${EXTEN})
 same => n,Stasis({{ ari.app | ident }},outbound,endpoint=%(endpoint)s)
 same => n,Hangup()

[bench-callers-var-%(n)d]
exten => _X.,1,Set(CP_ENDPOINT=%(endpoint)s)
 same => n,Set(CDR(cp_dialled)=${EXTEN})
 same => n,Stasis({{ ari.app | ident }},outbound)
 same => n,Hangup()
"""

BENCH_CONTEXTS = """
; --- contexts of bench/bench_ari_calls.py (not part of the product) ---
[bench-bare]
exten => _X.,1,Stasis(%(bare_app)s,bare)
 same => n,Answer()
 same => n,Wait(%(hold)s)
 same => n,Hangup()

[bench-carrier]
exten => _X.,1,Answer()
 same => n,Wait(%(hold)s)
 same => n,Hangup()

[bench-sink]
exten => hold,1,Wait(60)
 same => n,Hangup()
"""


class TimedClient(AriClient):
    """An ARI client that notes when each call's command leaves: the
    origination of a leg, which dials it (keyed by its caller), or a
    continue (keyed by the channel);
    and counts its REST requests by kind (method, path with the ids
    elided, the variable's name for /variable)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: dict[str, tuple[float, float]] = {}  # channel → (perf_counter, epoch)
        self.requests: dict[str, int] = {}

    async def request(self, method: str, path: str, *, params: Any = None, **kwargs: Any) -> Any:
        parts = path.split("/")
        if len(parts) > 2 and parts[1] in ("channels", "bridges", "playbacks") and parts[2] != "create":
            parts[2] = "{id}"
        kind = f"{method} {'/'.join(parts)}"
        if parts[-1] == "variable" and params:
            kind += f" {params.get('variable')}"
        if kind == "POST /channels" and params and params.get("appArgs") == LEG_FLOW:
            kind += " (a leg)"  # the flow's origination, not the bench's
        self.requests[kind] = self.requests.get(kind, 0) + 1
        return await super().request(method, path, params=params, **kwargs)

    async def originate(self, endpoint: str, **kwargs: Any) -> dict:
        if kwargs.get("app_args") == LEG_FLOW and kwargs.get("originator"):
            self.sent.setdefault(kwargs["originator"], (time.perf_counter(), time.time()))
        return await super().originate(endpoint, **kwargs)

    async def continue_in_dialplan(self, channel_id: str, **kwargs: Any) -> None:
        self.sent.setdefault(channel_id, (time.perf_counter(), time.time()))
        await super().continue_in_dialplan(channel_id, **kwargs)


class Phase:
    """One phase's bookkeeping: StasisStarts seen, bridged callers. Its
    callers' channel ids start with ``tag`` (set at origination), so a late
    event of an earlier phase is never counted in this one."""

    _tags = iter(range(1, 1_000_000))

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self.tag = f"b{next(self._tags)}{flow[0]}x"
        self.cpu: dict[str, float] = {}
        self.events: dict[str, int] = {}  # events received, by type
        self.rate = 0.0
        self.entered: dict[str, tuple[float, float]] = {}  # caller → (perf_counter, asterisk epoch)
        self.bridged: set[str] = set()
        self.originated = 0
        self.originate_errors = 0
        self.seconds = 0.0
        self.settled = True
        self.requests: dict[str, int] = {}  # REST requests of the phase's calls, by kind
        self.decided: dict[str, tuple[float, float]] = {}  # caller → admission.decide (start, end)

    def on_start(self, event: dict) -> None:
        args = event.get("args") or []
        if args and args[0] == self.flow and event["channel"]["id"].startswith(self.tag):
            self.entered.setdefault(event["channel"]["id"], (time.perf_counter(), _epoch(event.get("timestamp"))))

    def on_bridge(self, event: dict) -> None:
        self.bridged.add(event["channel"]["id"])

    def on_any(self, event: dict) -> None:
        self.events[event["type"]] = self.events.get(event["type"], 0) + 1


class TimedAdmission(Admission):
    """Admission that notes when each call's decision starts and ends, so
    the app's latency splits into before / in / after admission.decide."""

    current: "Current | None" = None

    async def decide(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await super().decide(request, *args, **kwargs)
        finally:
            if self.current is not None:
                self.current.phase.decided[request.call_ref] = (start, time.perf_counter())


class EndReasons(logging.Handler):
    """Counts why the controller's calls ended (its "call ended" records)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        why = getattr(record, "why", None)
        if why is not None:
            self.counts[why] = self.counts.get(why, 0) + 1


def _epoch(timestamp: str | None) -> float:
    if not timestamp:
        return float("nan")
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _endpoint(n: int) -> str:
    return f"{ENDPOINT}{n}"


def _testbed(work: Path, hold: float, subscribers: int) -> tuple[Testbed, Settings]:
    root = Path(os.environ.get("CLICKPHONE_ASTERISK_ROOT", REPO_ROOT / ".state" / "asterisk-root")).resolve()
    rtp = 30000 + (os.getpid() % 400) * 20
    settings = Settings(
        state_dir=work, asterisk_root=root, asterisk_http_port=_free_port(), sip_port=_free_port(),
        rtp_port_start=rtp, rtp_port_end=rtp + 19, ari_password=os.urandom(12).hex(), agi_secret=os.urandom(12).hex(), ari_app=APP,
    )
    testbed = testbed_for(settings, (), instance=f"bench-{os.getpid()}")
    shipped = (TEMPLATES_DIR / "extensions.conf.j2").read_text()
    callers = "".join(CALLER_CONTEXTS % {"n": n, "endpoint": _endpoint(n)} for n in range(subscribers))
    testbed.dialplan_template = shipped + BENCH_CONTEXTS % {"bare_app": BARE_APP, "hold": f"{hold:g}"} + callers
    return testbed, settings


async def _database(url: str, subscribers: int) -> Any:
    await migrate.upgrade(url)
    engine = create_engine(url)
    for n in range(subscribers):
        code = f"{ACCOUNT}{n}"
        subscriber = await provisioning.create_subscriber(engine, name=f"Bench subscriber {n}",
                                                          email=f"bench{n}@example.com")
        await provisioning.add_endpoint(engine, subscriber_id=subscriber.id, username=_endpoint(n),
                                        caller_id_number=f"{1000 + n}", account_code=code)
        account = await ledger.open_account(engine, code=code, subscriber_id=subscriber.id)
        # the most one top-up may be (100,000 EUR): credit never limits
        await ledger.top_up(engine, account.id, ledger.MAX_OPERATION_MICRO)
        await set_account_policy(engine, account.id, AccountPolicy(max_concurrent_calls=1_000_000))
    return engine


async def _generate(client: AriClient, phase: Phase, endpoints: list[str], rate: float, duration: float) -> None:
    """Originate ``rate`` calls a second for ``duration`` seconds, on
    schedule, to each of ``endpoints`` (dial strings) in turn."""
    loop = asyncio.get_running_loop()
    count = int(rate * duration)
    start = loop.time()
    tasks = []

    async def originate(n: int) -> None:
        try:
            await client.originate(endpoints[n % len(endpoints)], context="bench-sink", extension="hold", priority=1, timeout=30,
                                   channel_id=f"{phase.tag}{n}s", other_channel_id=f"{phase.tag}{n}c",
                                   formats=FORMATS)
        except AriFailure:
            phase.originate_errors += 1

    for n in range(count):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        phase.originated += 1
        tasks.append(asyncio.create_task(originate(n)))
    await asyncio.gather(*tasks)
    phase.seconds = loop.time() - start


def _row(phase: Phase, sent: dict[str, tuple[float, float]], need_bridge: bool) -> dict:
    app_ms, e2e_ms = [], []
    before_ms, decide_ms, after_ms = [], [], []
    done = 0
    for caller, (received, asterisk_at) in phase.entered.items():
        if caller not in sent:
            continue
        if need_bridge and caller not in phase.bridged:
            continue
        done += 1
        sent_perf, sent_epoch = sent[caller]
        app_ms.append((sent_perf - received) * 1000)
        e2e_ms.append((sent_epoch - asterisk_at) * 1000)
        if caller in phase.decided:
            start, end = phase.decided[caller]
            before_ms.append((start - received) * 1000)
            decide_ms.append((end - start) * 1000)
            after_ms.append((sent_perf - end) * 1000)
    stages = {}
    if decide_ms:  # where the app's latency goes: before, in, after admission.decide
        parts = {"before_decide": before_ms, "decide": decide_ms, "after_decide": after_ms}
        stages = {f"app_stages_{name}_ms": {part: round(_quantile(values, q), 2) for part, values in parts.items()}
                  for name, q in (("p50", 0.5), ("p99", 0.99))}
    return {
        "flow": phase.flow,
        "rate": phase.rate,
        "calls": phase.originated,
        "achieved_rate": round(phase.originated / phase.seconds, 1) if phase.seconds else None,
        "entered": len(phase.entered),
        "commanded": sum(1 for c in phase.entered if c in sent),
        "failed": phase.originated - done,
        "originate_errors": phase.originate_errors,
        **phase.cpu,
        "events_per_call": round(sum(phase.events.values()) / phase.originated, 1) if phase.originated else None,
        "events_by_type": dict(sorted(phase.events.items(), key=lambda kv: -kv[1])),
        "requests_per_call": round(sum(phase.requests.values()) / phase.originated, 1) if phase.originated else None,
        "requests_by_kind": dict(sorted(phase.requests.items(), key=lambda kv: -kv[1])),
        **stages,
        **_percentiles("app", app_ms),
        **_percentiles("asterisk_to_cmd", e2e_ms),
    }


def _percentiles(name: str, values: list[float]) -> dict:
    if not values:
        return {f"{name}_p50_ms": None, f"{name}_p99_ms": None, f"{name}_max_ms": None}
    return {
        f"{name}_p50_ms": round(_quantile(values, 0.5), 2),
        f"{name}_p99_ms": round(_quantile(values, 0.99), 2),
        f"{name}_max_ms": round(max(values), 2),
    }


def _quantile(values: list[float], q: float) -> float:
    """The median for q = 0.5, else the value below which a fraction q lies."""
    ordered = sorted(values)
    if q == 0.5:
        return statistics.median(ordered)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


class Current:
    """The phase the event handlers count for (a warm-up, then the measured one)."""

    def __init__(self, phase: Phase) -> None:
        self.phase = phase

    def on_start(self, event: dict) -> None:
        self.phase.on_start(event)

    def on_bridge(self, event: dict) -> None:
        self.phase.on_bridge(event)

    def on_any(self, event: dict) -> None:
        self.phase.on_any(event)


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process (this one when ``pid`` is None)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def _measure(client: AriClient, current: Current, flow: str, endpoints: list[str], args: argparse.Namespace,
                   settled, reasons: "EndReasons | None" = None, asterisk_pid: int | None = None) -> Phase:
    """A short warm-up (not counted: first connections, tariff cache), then
    the measured phase; return it once its calls are over."""
    current.phase = Phase(flow)
    await _generate(client, current.phase, endpoints, min(args.rate, 10), args.warmup)
    await _wait(settled, SETTLE_TIMEOUT_S)
    if reasons is not None:
        reasons.counts.clear()
    current.phase = measured = Phase(flow)
    measured.rate = args.rate
    client.requests.clear()
    before = (time.monotonic(), _cpu_seconds(asterisk_pid), _cpu_seconds(None))
    await _generate(client, measured, endpoints, args.rate, args.duration)
    elapsed = time.monotonic() - before[0]
    measured.cpu = {  # cores used on average while the calls were generated
        "asterisk_cores": round((_cpu_seconds(asterisk_pid) - before[1]) / elapsed, 2),
        "python_cores": round((_cpu_seconds(None) - before[2]) / elapsed, 2),
    }
    measured.cpu["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine shows here
    measured.settled = await _wait(settled, SETTLE_TIMEOUT_S)
    # the calls' own requests: not the bench's originates nor its polling of the application
    measured.requests = {k: v for k, v in client.requests.items()
                         if k not in ("POST /channels", "GET /applications/" + client.app)}
    return measured


async def run(args: argparse.Namespace, work: Path) -> dict:
    testbed, settings = _testbed(work, args.hold, args.subscribers)
    try:
        await asyncio.to_thread(testbed.start, 120)
    except TestbedError as exc:
        raise SystemExit(f"cannot start the Asterisk testbed: {exc}") from exc
    engine = await _database(f"sqlite+aiosqlite:///{work / 'bench.sqlite3'}", args.subscribers)
    url, user, password = testbed.ari_url, settings.ari_username, settings.ari_password
    rows = []
    try:
        # the bare app: StasisStart → continue
        bare = TimedClient(url, user, password, BARE_APP)
        bare_current = Current(Phase("bare"))
        bare.on("StasisStart", bare_current.on_start)
        bare.on(ANY_EVENT, bare_current.on_any)

        async def continue_call(event: dict) -> None:
            try:
                await bare.continue_in_dialplan(event["channel"]["id"])
            except AriFailure:
                pass

        bare.on("StasisStart", continue_call)

        # the product: StasisStart → decide → originate the leg → bridge → teardown
        client = TimedClient(url, user, password, APP)
        admission = TimedAdmission(engine)
        current = Current(Phase("outbound"))
        admission.current = current
        client.on("StasisStart", current.on_start)  # first: its task runs before the flow's
        client.on("ChannelEnteredBridge", current.on_bridge)
        client.on(ANY_EVENT, current.on_any)
        reasons = EndReasons()
        controller_log = logging.getLogger("ari_app.controller")
        controller_log.addHandler(reasons)
        controller_log.setLevel(logging.INFO)
        controller_log.propagate = False  # counted, not printed
        controller = CallController(client, admission, engine, carrier_dial="Local/{number}@bench-carrier/n")
        controller.start()  # it asks Asterisk not to send the events no flow reads
        if args.all_events:
            client.ignore_events(())
        StasisApp(client, controller.flows())

        async def calls_over() -> bool:
            return not controller.live() and not await admission.live_call_refs()

        for connected in (bare, client):
            connected.start()
            await connected.wait_connected(10)
        print(HEADER, flush=True)
        for rate in args.rates:
            args.rate = rate
            phase = await _measure(bare, bare_current, "bare", [f"Local/{DIALLED}@bench-bare/n"], args,
                                   _channels_gone(bare), asterisk_pid=testbed.pid())
            rows.append(_row(phase, bare.sent, need_bridge=False))
            _print_row(rows[-1])
            callers = "bench-callers-var" if args.endpoint_variable else "bench-callers"
            phase = await _measure(client, current, "outbound",
                                   [f"Local/{DIALLED}@{callers}-{n}/n" for n in range(args.subscribers)], args,
                                   calls_over, reasons, asterisk_pid=testbed.pid())
            row = _row(phase, client.sent, need_bridge=True)
            row["live_calls_left"] = len(await admission.live_call_refs())
            row["ended_because"] = dict(sorted(reasons.counts.items()))
            rows.append(row)
            _print_row(rows[-1])
        event_filter = sorted(client.ignored_events) or None
        await controller.stop()
        await asyncio.gather(client.close(), bare.close())
    finally:
        await engine.dispose()
        await asyncio.to_thread(testbed.stop)
        testbed.remove_instance_folder()
    return {"event_filter": event_filter, "rows": rows}


def _channels_gone(client: AriClient):
    async def check() -> bool:
        try:
            return not (await client.get_application()).get("channel_ids")
        except AriFailure:
            return False
    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--rate", type=float, help="calls originated per second (one rate)")
    parser.add_argument("--rates", help="several rates, comma-separated: one pair of rows each "
                                        f"(default {DEFAULT_RATES})")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of calls per phase")
    parser.add_argument("--hold", type=float, default=0.2, help="seconds the callee keeps each call")
    parser.add_argument("--subscribers", type=int, default=DEFAULT_SUBSCRIBERS,
                        help="subscribers (accounts) whose phones make the calls, in turn")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of uncounted calls before each flow")
    parser.add_argument("--all-events", action="store_true",
                        help="lift the event filter the controller sets (events no flow reads: ChannelVarset, ...)")
    parser.add_argument("--endpoint-variable", action="store_true",
                        help="callers carry their endpoint in CP_ENDPOINT (read with a request) instead of "
                             "the flow's endpoint= argument")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark
    if args.rates is None:
        args.rates = DEFAULT_RATES if args.rate is None else str(args.rate)
    args.rates = [float(r) for r in args.rates.split(",")]
    if os.geteuid() != 0:
        print("bench_ari_calls needs root (it starts an Asterisk testbed); skipped", file=sys.stderr)
        return 0
    logging.basicConfig(level=logging.ERROR)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ari-") as work:
        outcome = asyncio.run(run(args, Path(work)))
    result: dict[str, Any] = {
        **run_facts("ARI call flows: StasisStart to dial", load_before),
        "rates_per_second": args.rates,
        "duration_seconds": args.duration,
        "hold_seconds": args.hold,
        "caller_endpoint_from": "CP_ENDPOINT variable" if args.endpoint_variable else "flow argument endpoint=",
        "subscribers": args.subscribers,
        "database": "sqlite (aiosqlite, WAL), one file",
        "asterisk": "testbed: Debian sid asterisk 22, Local channels",
        **outcome,
    }
    result["verdict"] = _verdict(result["rows"])
    _print_table(result)
    save_json(args.out, result)
    print(f"saved {args.out}")
    return 0




HEADER = (f"{'flow':10} {'rate':>5} {'calls':>6} {'done/s':>7} {'failed':>7} {'app p50':>8} {'app p99':>8} "
          f"{'app max':>8} {'ast→cmd p50':>12} {'ast→cmd p99':>12} {'ast cores':>9} {'py cores':>8}")


def _print_row(row: dict) -> None:
    print(f"{row['flow']:10} {row['rate']:>5g} {row['calls']:>6} {cell(row, 'achieved_rate', 7)} {row['failed']:>7} "
          f"{cell(row, 'app_p50_ms', 8)} {cell(row, 'app_p99_ms', 8)} {cell(row, 'app_max_ms', 8)} "
          f"{cell(row, 'asterisk_to_cmd_p50_ms', 12)} {cell(row, 'asterisk_to_cmd_p99_ms', 12)} "
          f"{cell(row, 'asterisk_cores', 9)} {cell(row, 'python_cores', 8)}", flush=True)


def _verdict(rows: list[dict]) -> dict:
    """Per rate, the outbound flow's p99 over the bare app's, measured from
    the StasisStart's own timestamp (as the target reads: from StasisStart
    to the dial command) and from this process's handler; and the target:
    at TARGET_RATE, no failed call and that first ratio within TARGET_RATIO."""
    ratios = []
    for bare, outbound in zip(rows[::2], rows[1::2]):
        ratios.append({
            "rate": outbound["rate"],
            "failed": bare["failed"] + outbound["failed"],
            "p99_ratio_from_stasis_start": _ratio(outbound["asterisk_to_cmd_p99_ms"], bare["asterisk_to_cmd_p99_ms"]),
            "p99_ratio_from_handler": _ratio(outbound["app_p99_ms"], bare["app_p99_ms"]),
        })
    at_target = [r for r in ratios if r["rate"] == TARGET_RATE]
    met = bool(at_target) and all(r["failed"] == 0 and r["p99_ratio_from_stasis_start"] is not None
                                  and r["p99_ratio_from_stasis_start"] <= TARGET_RATIO for r in at_target)
    return {"target": f"0 failed at {TARGET_RATE:g} calls/s, p99 from StasisStart <= {TARGET_RATIO}x the bare app",
            "met": met if at_target else None, "ratios": ratios}


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 2) if value is not None and base else None


def _print_table(result: dict) -> None:
    print(f"ARI call flows — {result['duration_seconds']:g} s per flow and rate; "
          f"Python {result['python']}, {result['cpu']}, {result['cpus']} CPUs")
    print(HEADER)
    for row in result["rows"]:
        _print_row(row)
    print("latencies in ms; app: from this process's StasisStart handler to the leg's originate (dial) "
          "or the continue request; "
          "ast→cmd: from Asterisk's event timestamp; cores: CPU used while calls were generated")
    verdict = result.get("verdict")
    if verdict:
        for ratio in verdict["ratios"]:
            print(f"{ratio['rate']:g} calls/s: outbound p99 / bare p99 = {ratio['p99_ratio_from_stasis_start']} "
                  f"from StasisStart (ast→cmd), {ratio['p99_ratio_from_handler']} from the handler (app)")
        met = {True: "met", False: "NOT met", None: "not measured"}[verdict["met"]]
        print(f"target: {verdict['target']}: {met}")


if __name__ == "__main__":
    sys.exit(main())
