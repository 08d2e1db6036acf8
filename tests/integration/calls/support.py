"""Helpers of the live-call tests: subscribers in the database, the running
control plane (ARI client + CallController + StasisApp), phones, CDRs."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from admission.policy import AccountPolicy
from admission.service import Admission, set_account_policy
from ari_app.calls import CallTiming
from ari_app.client import ANY_EVENT, AriClient
from ari_app.controller import CallController
from ari_app.stasis import StasisApp
from billing import ledger
from billing.cdr_format import parse_cdr_stream
from controlplane.asterisk_sync import sync_testbed
from provisioning import services as provisioning
from tests.fixtures.ari import EventLog
from tests.fixtures.asterisk import PhoneEndpoint, phone_endpoint

EUR = 1_000_000
_names = itertools.count(1)


@dataclass
class Subscriber:
    """A subscriber with one or more endpoints and a billing account."""

    id: int
    account_id: int
    account_code: str
    endpoints: list[PhoneEndpoint] = field(default_factory=list)

    @property
    def endpoint(self) -> PhoneEndpoint:
        return self.endpoints[0]


async def add_subscriber(
    engine, *, balance: int = 0, endpoints: int = 1, allowed_networks: tuple[str, ...] = (),
    max_concurrent_calls: int = 2, premium: bool = False, tariff: str | None = None, **terms,
) -> Subscriber:
    """Create a subscriber, its endpoints and its account (with ``balance``
    micro-euros and the given policy)."""
    n = next(_names)
    code = f"acct{n}x{int(time.time() * 1000) % 100000}"
    subscriber = await provisioning.create_subscriber(engine, name=f"Test Subscriber {n}", email=f"s{n}@example.com")
    if tariff is not None:
        terms["tariff"] = tariff
    account = await ledger.open_account(engine, code=code, subscriber_id=subscriber.id, **terms)
    if balance:
        await ledger.top_up(engine, account.id, balance)
    await set_account_policy(engine, account.id, AccountPolicy(
        allowed_networks=tuple(ipaddress.ip_network(n) for n in allowed_networks),
        premium_enabled=premium, max_concurrent_calls=max_concurrent_calls,
    ))
    result = Subscriber(subscriber.id, account.id, code)
    for i in range(endpoints):
        endpoint = await provisioning.add_endpoint(
            engine, subscriber_id=subscriber.id, username=f"ep{n}x{i}{code[-5:]}",
            caller_id_number=f"21{n:03d}{i}", display_name=f"Phone {n}.{i}", account_code=code,
        )
        result.endpoints.append(phone_endpoint(endpoint.username, endpoint.password, endpoint.display_name,
                                               endpoint.caller_id_number, code, realm=endpoint.realm))
    return result


@dataclass
class ControlPlane:
    """The call-handling half of a control plane, as the lead wires it."""

    client: AriClient
    controller: CallController
    admission: Admission
    log: EventLog
    daily_limit_hits: list[int] = field(default_factory=list)
    unanswered: list[tuple[str, str, str]] = field(default_factory=list)  # (caller channel, did, why)
    missed: list[tuple[str, str, int]] = field(default_factory=list)  # (caller channel, did, ring seconds)

    async def stop(self, *, hang_up: bool = True) -> None:
        """Stop the controller, then the client; each step bounded, so a
        hang names its step instead of running into the test's timeout."""
        await _bounded(self.controller.stop(hang_up=hang_up), "the call controller's stop")
        await _bounded(self.client.close(), "the ARI client's close")


STOP_STEP_S = 20.0


async def _bounded(step, what: str) -> None:
    try:
        await asyncio.wait_for(step, STOP_STEP_S)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what} did not finish in {STOP_STEP_S:.0f} s") from None


async def start_control_plane(asterisk, engine, *, admission: Admission | None = None,
                              timing: CallTiming | None = None, unanswered_hook=None,
                              ari_url: str | None = None) -> ControlPlane:
    """Connect a client, start a controller and its StasisApp; return once
    connected (the first RESYNC has been dispatched). ``ari_url`` (default
    Asterisk's own) is where the client reaches ARI, e.g. a relay that can
    cut its connections."""
    client = AriClient(ari_url or asterisk.ari_url, asterisk.ari_username, asterisk.ari_password, asterisk.app)
    admission = admission or Admission(engine, chunk_seconds=300)
    log = EventLog()
    client.on(ANY_EVENT, log)
    plane = ControlPlane(client, None, admission, log)  # type: ignore[arg-type]

    async def on_daily_limit(account_id: int) -> None:
        plane.daily_limit_hits.append(account_id)

    async def on_unanswered(call, did, why: str) -> None:
        plane.unanswered.append((call.call_ref, did.number, why))
        if unanswered_hook is not None:
            await unanswered_hook(client, call, did, why)

    async def on_missed(caller: dict, did, ring_seconds: int) -> None:
        plane.missed.append((caller["id"], did.number, ring_seconds))

    plane.controller = CallController(client, admission, engine, on_daily_limit=on_daily_limit,
                                      on_unanswered=on_unanswered, on_missed=on_missed, timing=timing)
    plane.controller.start()
    StasisApp(client, plane.controller.flows())
    client.start()
    await client.wait_connected(10)
    return plane


async def synced(engine, asterisk) -> None:
    """Put the database's endpoints and DIDs into the running testbed."""
    report = await sync_testbed(engine, asterisk.testbed)
    assert not report.left_out, report.left_out


async def registered_phone(sip_phone, asterisk, endpoint: PhoneEndpoint):
    phone = await sip_phone(endpoint, registrar_port=asterisk.sip_port)
    await phone.register()
    return phone


class AutoAnswer:
    """Answers every call the carrier phone gets (``code`` 200 or e.g. 486)
    after ``delay``; keeps the keys it answered."""

    def __init__(self, phone, code: int = 200, delay: float = 0.0) -> None:
        self.phone, self.code, self.delay = phone, code, delay
        self.answered: list[int] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                key = await self.phone.wait_incoming(timeout=3600)
            except Exception:
                return
            if self.delay:
                await asyncio.sleep(self.delay)
            with contextlib.suppress(Exception):
                await self.phone.answer(key, code=self.code)
                self.answered.append(key)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def cdr_records(path: Path, uniqueid: str, timeout: float = 5.0):
    """Wait for the CDR line(s) of ``uniqueid``; return (lines, records)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [l for l in path.read_text().splitlines(keepends=True) if f'"{uniqueid}"' in l]
            if lines:
                records = [r for _, r in parse_cdr_stream(lines, "clickphone")]
                return lines, records
        await asyncio.sleep(0.05)
    raise AssertionError(f"no CDR for {uniqueid} in {path}")


async def wait_until(predicate, timeout: float = 5.0, step: float = 0.05):
    """Wait until ``predicate()`` (sync or async) is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


async def stasis_channel_of(plane: ControlPlane, endpoint: PhoneEndpoint, timeout: float = 5.0) -> dict:
    """The caller channel of the latest call from ``endpoint`` entering the app."""
    event = await plane.log.wait_for(
        "StasisStart", lambda e: e["channel"]["name"].startswith(f"PJSIP/{endpoint.username}-"), timeout=timeout)
    return event["channel"]


async def connected_call(call_asterisk, sip_phone, plane: ControlPlane, subscriber, number: str = "0712345678"):
    """The subscriber's registered phone calls ``number`` and the call is
    answered; return (phone, the caller's Stasis channel, when it answered:
    time.monotonic())."""
    phone = await registered_phone(sip_phone, call_asterisk, subscriber.endpoint)
    await phone.call(number)
    await phone.wait_state("CONFIRMED")
    answered_at = time.monotonic()
    return phone, await stasis_channel_of(plane, subscriber.endpoint), answered_at


PER_SECOND_PLAN = "per_second_test"
PER_SECOND_MICRO = 10_000  # 0.60 EUR/min, billed per second from the first
_PER_SECOND_CSV = (
    "plan,version,effective_from,effective_to,service,destination,price_eur,first_block_s,increment_s,"
    "connect_fee_eur,description\n"
    f"{PER_SECOND_PLAN},1,2020-01-01,,voice,ro_mobile,0.60,1,1,0,per-second mobile rate for short tests\n"
)


async def per_second_tariff(engine) -> str:
    """Store a plan billing Romanian mobiles 0.01 EUR a second from the
    first second (tests that must end a call after a few seconds cannot
    wait for the contract's first whole minute); return its name."""
    from billing.tariff_store import import_tariff_csv

    await import_tariff_csv(engine, _PER_SECOND_CSV.splitlines(keepends=True), "per-second test plan")
    return PER_SECOND_PLAN
