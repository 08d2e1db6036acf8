"""Benchmark of voicemail and missed-call emails: latency from the caller's
hangup to the SMTP server's accept, through the whole control plane.

    sudo .venv/bin/python -m bench.bench_voicemail_latency [--n 30] [--missed 30]
        [--callers 3] [--seconds 2.0] [--out bench/results/voicemail_latency.json]

Needs root: it runs ``controlplane.runtime.ControlPlane`` — what `make run`
runs: migrations, outbox dispatcher, its own testbed Asterisk 22 (Debian
sid root, built on first use), ARI client, VoicemailService, CallController,
admin API, scheduler, CDR tailer — on a temporary state folder with SQLite.
Its Asterisk runs in a hard-linked copy of the testbed root (removed at the
end), so it never meets the instance `make run` uses. Email goes to an
aiosmtpd server in this process (``notify.catcher.SmtpServer``, as the
embedded catcher of `make run` is) whose handler stamps ``time.monotonic()``
in ``handle_DATA``.

``--callers`` subscribers each get two DIDs with voicemail on (one ringing
5 s, the shortest allowed, for the voicemails; one ringing 15 s for the
missed calls, so that the testbed's occasional 5 s stall before an
outgoing INVITE cannot time the ringing out) and a registered pjsua2 phone
that never answers, and a carrier: an unregistered pjsua2 phone on
127.0.0.2 (the trunk's address) calling those DIDs, with a caller number of
its own for every call (that number in the email's subject tells which
call an email is for).
The callers run side by side, one call at a time each:

* ``voicemail`` (``--n`` calls): it rings 5 s, the voicemail answers, plays
  the stock greeting and the beep; once the control plane's ARI client has
  seen the recording start, the caller plays ``--seconds`` of tone and
  hangs up (BYE) — then the recording is finished, fetched over ARI,
  queued in the outbox with the WAV, and sent;
* ``missed`` (``--missed`` calls): it rings; once the caller hears the
  ringing (180) it hangs up (CANCEL) — then the flow's missed-call hook
  queues the email, and it is sent.

Latency of each call: from the moment this process tells the caller's
pjsua2 agent to hang up (the agent sends the BYE or CANCEL in that turn;
the round trip of that command is reported too) to ``handle_DATA`` of the
one email whose subject carries the call's caller number. A call fails if
it went wrong on the SIP side, or got no email, more than one, or one of
the other kind. Prints p50, p99 (nearest rank: with 30 calls it is the
maximum) and max per kind; saves JSON to
``bench/results/voicemail_latency.json``.
"""

from __future__ import annotations

from bench._report import cell, run_facts, save_json

import argparse
import asyncio
import logging
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from ari_app.client import ANY_EVENT
from asterisk_conf.render import EndpointConf
from asterisk_conf.testbed import TestbedError, ensure_root, hard_linked_copy
from billing.numbering import default_numbering_plan
from controlplane.runtime import ControlPlane
from controlplane.settings import REPO_ROOT, Settings
from notify.catcher import SmtpServer
from notify.outbox import next_due_at
from provisioning.numbers import add_did_as_written
from tests.fixtures.asterisk import phone_endpoint
from tests.fixtures.sip_phone import SipPhone
from tests.integration.voicemail.support import write_tone
from web.admin_operations import create_subscriber

RESULTS = Path(__file__).parent / "results" / "voicemail_latency.json"
CARRIER_ADDRESS = "127.0.0.2"  # the trunk is identified by address: only the carrier sends from here
RING_SECONDS = 5  # voicemail DIDs: the shortest ring time allowed
MISSED_RING_SECONDS = 15  # outlasts a 5 s DNS stall before the INVITE to the phone
VOICEMAIL_SUBJECT = "Mesaj vocal nou"  # Romanian, the subscribers' default language
MISSED_SUBJECT = "Apel nepreluat"
# bounds on waits (a call that overruns one fails; nothing sleeps blindly)
CALL_STEP_S = 20.0
EMAILS_S = 60.0


# -- the SMTP server's side ------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    at: float  # time.monotonic() in handle_DATA
    subject: str
    content_types: tuple[str, ...]  # of the attachments


class StampingHandler:
    """aiosmtpd handler: accepts everything, stamping when."""

    def __init__(self) -> None:
        self.accepted: list[Accepted] = []
        self.changed = asyncio.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.monotonic()
        message = BytesParser(policy=default_policy).parsebytes(envelope.original_content or envelope.content)
        self.accepted.append(Accepted(at, str(message["Subject"]),
                                      tuple(p.get_content_type() for p in message.iter_attachments())))
        async with self.changed:
            self.changed.notify_all()
        return "250 Message accepted for delivery"

    def for_number(self, number: str) -> list[Accepted]:
        return [a for a in self.accepted if a.subject.endswith(f" {number}") or f"({number})" in a.subject]


# -- the control plane's own ARI events -------------------------------------------------


class CallWatch:
    """Follows the control plane's ARI client: which channel each caller
    number came in on, and when the voicemail started recording it (the
    beep is over: what the caller plays now is the message)."""

    def __init__(self) -> None:
        self.channel_of: dict[str, str] = {}
        self._entered: dict[str, asyncio.Event] = {}  # by caller number
        self._recording: dict[str, asyncio.Event] = {}  # by channel id

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") == "StasisStart" and "inbound" in event.get("args", []):
            channel = event["channel"]
            number = channel["caller"]["number"]
            self.channel_of[number] = channel["id"]
            self._event(self._entered, number).set()
        elif event.get("type") == "RecordingStarted":
            target = str(event.get("recording", {}).get("target_uri", ""))
            self._event(self._recording, target.removeprefix("channel:")).set()

    @staticmethod
    def _event(events: dict[str, asyncio.Event], key: str) -> asyncio.Event:
        return events.setdefault(key, asyncio.Event())

    async def recording_started(self, number: str, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self._event(self._entered, number).wait()
            await self._event(self._recording, self.channel_of[number]).wait()


# -- the run -----------------------------------------------------------------------------


@dataclass
class Line:
    """One subscriber's DIDs, the phone that rings for them, its carrier."""

    voicemail_did: str
    missed_did: str
    phone: SipPhone
    carrier: SipPhone


@dataclass
class Call:
    number: str
    hung_up_at: float = 0.0  # monotonic, as the hangup command left
    hangup_command_ms: float = 0.0
    error: str = ""


@dataclass
class Run:
    plane: ControlPlane
    mail: StampingHandler
    watch: CallWatch
    lines: list[Line] = field(default_factory=list)

    def did_uri(self, did: str) -> str:
        return f"sip:{did}@127.0.0.1:{self.plane.settings.sip_port}"


async def call_and_hang_up(run: Run, line: Line, number: str, kind: str, message: Path) -> Call:
    """One call from the carrier to the line's DID; return when the caller
    hung up (voicemail: after leaving ``message``; missed: while ringing)."""
    carrier, phone = line.carrier, line.phone
    # the carrier's From (no registrar: no REGISTER is sent) is the caller ID
    await carrier._command("register", username=number, domain=CARRIER_ADDRESS)
    call = await carrier.call(run.did_uri(line.voicemail_did if kind == "voicemail" else line.missed_did))
    ringing = await phone.wait_incoming(timeout=CALL_STEP_S)
    if kind == "voicemail":
        await carrier.wait_state("CONFIRMED", call, timeout=CALL_STEP_S)
        await run.watch.recording_started(number, timeout=CALL_STEP_S)
        await carrier.play(message, call, wait=True, timeout=CALL_STEP_S)
    else:
        await carrier.wait_state("EARLY", call, timeout=CALL_STEP_S)
    before = time.monotonic()
    await carrier.hangup(call)
    record = Call(number, before, (time.monotonic() - before) * 1000)
    await carrier.wait_state("DISCONNECTED", call, timeout=CALL_STEP_S)
    await phone.wait_state("DISCONNECTED", ringing, timeout=CALL_STEP_S)
    return record


async def phase(run: Run, kind: str, count: int, message: Path) -> dict[str, Any]:
    """``count`` calls of ``kind`` over every line; their latencies."""
    first_digit = {"voicemail": 1, "missed": 3}[kind]
    numbers = [f"07{first_digit}{n:07d}" for n in range(count)]
    todo = list(reversed(numbers))
    calls: list[Call] = []

    async def caller(line: Line) -> None:
        while todo:
            number = todo.pop()
            try:
                calls.append(await call_and_hang_up(run, line, number, kind, message))
            except Exception as exc:  # counted as failed; the line goes on
                calls.append(Call(number, error=f"{type(exc).__name__}: {str(exc)[:200]}"))

    started = time.monotonic()
    await asyncio.gather(*(caller(line) for line in run.lines))
    placed = [c for c in calls if not c.error]
    try:
        async with asyncio.timeout(EMAILS_S):
            async with run.mail.changed:
                await run.mail.changed.wait_for(lambda: all(run.mail.for_number(c.number) for c in placed))
    except TimeoutError:
        pass  # the calls without an email fail below
    await settled(run)

    wanted, other = ((VOICEMAIL_SUBJECT, MISSED_SUBJECT) if kind == "voicemail"
                     else (MISSED_SUBJECT, VOICEMAIL_SUBJECT))
    latencies: list[float] = []
    in_order: list[tuple[float, float]] = []  # by hangup time: shows a cold start or a drift
    failures: list[str] = [f"{c.number}: {c.error}" for c in calls if c.error]
    content_types: set[tuple[str, ...]] = set()
    for c in placed:
        emails = run.mail.for_number(c.number)
        right = [e for e in emails if e.subject.startswith(wanted)]
        if len(right) != 1 or any(e.subject.startswith(other) for e in emails):
            failures.append(f"{c.number}: emails {[e.subject for e in emails]}")
            continue
        latencies.append((right[0].at - c.hung_up_at) * 1000)
        in_order.append((c.hung_up_at, latencies[-1]))
        content_types.add(right[0].content_types)
    latencies.sort()
    return {
        "flow": kind,
        "calls": count,
        "emailed": len(latencies),
        "failed": len(failures),
        "failures": failures[:10],
        "seconds": round(time.monotonic() - started, 1),
        "latency_ms_p50": _round(statistics.median(latencies)) if latencies else None,
        "latency_ms_p99": _round(_percentile(latencies, 0.99)) if latencies else None,
        "latency_ms_max": _round(latencies[-1]) if latencies else None,
        "latency_ms_min": _round(latencies[0]) if latencies else None,
        "hangup_command_ms_max": _round(max(c.hangup_command_ms for c in placed)) if placed else None,
        "attachments": sorted(list(t) for t in content_types),
        "latencies_ms_by_hangup": [_round(ms) for _, ms in sorted(in_order)],
    }


async def settled(run: Run, timeout: float = 30.0) -> None:
    """Until no call is live, no missed-call hook runs and the outbox is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hooks = [t for t in asyncio.all_tasks() if t.get_name() == "missed-call" and not t.done()]
        if not run.plane.calls.live() and not hooks and await next_due_at(run.plane.engine) is None:
            return
        await asyncio.sleep(0.1)


async def add_line(run: Run, index: int, work: Path) -> Line:
    engine = run.plane.engine
    created = await create_subscriber(
        engine, name=f"Bench subscriber {index}", email=f"bench{index}@example.ro",
        username=f"benchvm{index}", caller_id_number=f"210{index}", account_code=f"benchvm{index}")
    dids = (f"4031888{index:02d}01", f"4031888{index:02d}02")
    for did, ring_seconds in zip(dids, (RING_SECONDS, MISSED_RING_SECONDS)):
        await add_did_as_written(engine, number=did, subscriber_id=created.subscriber.id,
                                 plan=default_numbering_plan(), ring_seconds=ring_seconds, voicemail_enabled=True)
    endpoint = created.endpoint
    phone = SipPhone(_endpoint_conf(endpoint), registrar_host="127.0.0.1",
                     registrar_port=run.plane.settings.sip_port, log_path=work / f"pjsua-phone{index}.log")
    carrier = SipPhone(None, registrar_host="127.0.0.1", registrar_port=None,
                       log_path=work / f"pjsua-carrier{index}.log", bind=CARRIER_ADDRESS)
    line = Line(*dids, phone, carrier)
    run.lines.append(line)  # closed at the end whatever happens next
    await phone.start()
    await carrier.start()
    return line


def _endpoint_conf(endpoint: Any) -> EndpointConf:
    return phone_endpoint(endpoint.username, endpoint.password, endpoint.display_name,
                          endpoint.caller_id_number, endpoint.account_code, realm=endpoint.realm)


async def bench(args: argparse.Namespace, work: Path, root: Path) -> dict[str, Any]:
    mail = StampingHandler()
    smtp = SmtpServer(mail)
    await smtp.start()
    plane = ControlPlane(_settings(work / "state", root, smtp.port))
    run = Run(plane, mail, CallWatch())
    message = write_tone(work / "message.wav", args.seconds)
    try:
        await plane.start()
        plane.ari.on(ANY_EVENT, run.watch)
        for index in range(args.callers):
            await add_line(run, index, work)
        await plane.provisioning_changed()  # the endpoints and DIDs into the running Asterisk
        for line in run.lines:
            await line.phone.register()
        print(HEADER, flush=True)
        rows = [await phase(run, "voicemail", args.n, message)]
        _print_row(rows[-1])
        rows.append(await phase(run, "missed", args.missed, message))
        _print_row(rows[-1])
        return {"rows": rows}
    finally:
        for line in run.lines:
            await asyncio.gather(line.phone.close(), line.carrier.close(), return_exceptions=True)
            line.phone.kill()
            line.carrier.kill()
        await plane.stop()
        await smtp.stop()


def _settings(state_dir: Path, root: Path, smtp_port: int) -> Settings:
    rtp = 30000 + (os.getpid() % 400) * 20
    return Settings(
        state_dir=state_dir, asterisk_root=root, asterisk_http_port=_free_port(), sip_port=_free_port(),
        rtp_port_start=rtp, rtp_port_end=rtp + 199, ari_password=secrets.token_urlsafe(16), agi_secret=secrets.token_urlsafe(16),
        carrier_host=f"{CARRIER_ADDRESS}:5060", agi_port=_free_port(), admin_port=_free_port(),
        admin_token=secrets.token_urlsafe(16), smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_tls="none",
    )


def private_root(shared: Path):
    """A hard-linked copy of the built testbed root, all of it this run's."""
    return hard_linked_copy(shared, f"bench-root-{os.getpid()}-{secrets.token_hex(4)}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(ordered: list[float], fraction: float) -> float:
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def _round(ms: float) -> float:
    return round(ms, 1)


# -- report ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--n", type=int, default=30, help="voicemails left")
    parser.add_argument("--missed", type=int, help="missed calls (default: as many as --n)")
    parser.add_argument("--callers", type=int, default=3, help="callers side by side, each with its own DID")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each voicemail message")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark
    if args.missed is None:
        args.missed = args.n
    if os.geteuid() != 0:
        print("bench_voicemail_latency needs root (it starts an Asterisk testbed); skipped", file=sys.stderr)
        return 0
    logging.basicConfig(level=logging.ERROR)
    shared = Path(os.environ.get("CLICKPHONE_ASTERISK_ROOT", REPO_ROOT / ".state" / "asterisk-root")).resolve()
    try:
        ensure_root(shared)
    except TestbedError as exc:
        print(f"cannot build the Asterisk testbed root: {exc}", file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-voicemail-") as work, private_root(shared) as root:
        outcome = asyncio.run(bench(args, Path(work), root))
    result: dict[str, Any] = {
        **run_facts("voicemail and missed-call emails: caller's hangup to SMTP accept", load_before),
        "callers_side_by_side": args.callers,
        "message_seconds": args.seconds,
        "ring_seconds": {"voicemail": RING_SECONDS, "missed": MISSED_RING_SECONDS},
        "control_plane": "controlplane.runtime.ControlPlane, SQLite, testbed Asterisk 22 (Debian sid)",
        "smtp_server": "aiosmtpd (notify.catcher.SmtpServer) in the control plane's process, loopback, no TLS",
        "sip": "pjsua2 agents: carrier on 127.0.0.2, one never-answering registered phone per subscriber",
        **outcome,
    }
    _print_table(result)
    save_json(args.out, result)
    print(f"saved {args.out}")
    return 1 if any(row["failed"] for row in result["rows"]) else 0


HEADER = (f"{'flow':10} {'calls':>6} {'emailed':>8} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'min ms':>8} {'seconds':>8}")


def _print_row(row: dict) -> None:
    print(f"{row['flow']:10} {row['calls']:>6} {row['emailed']:>8} {row['failed']:>7} {cell(row, 'latency_ms_p50', 8)} "
          f"{cell(row, 'latency_ms_p99', 8)} {cell(row, 'latency_ms_max', 8)} {cell(row, 'latency_ms_min', 8)} "
          f"{cell(row, 'seconds', 8)}", flush=True)


def _print_table(result: dict) -> None:
    print(f"voicemail/missed-call email latency, hangup → SMTP accept — {result['callers_side_by_side']} "
          f"callers side by side, {result['message_seconds']:g} s messages; Python {result['python']}, "
          f"{result['cpu']}, {result['cpus']} CPUs")
    print(HEADER)
    for row in result["rows"]:
        _print_row(row)
        for failure in row["failures"]:
            print(f"  failed: {failure}")


if __name__ == "__main__":
    sys.exit(main())
