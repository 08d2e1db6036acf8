"""The thin ARI client against the real Asterisk 22 testbed.

Faults a real part cannot produce on demand — a websocket cut while
Asterisk stays up, an HTTP server that never answers — come from small
asyncio stand-ins (the relay of tests/fixtures/tcp_proxy.py, a silent
listener here); everything else is the real Asterisk and real pjsua2
phones.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import re
import signal
import socket
import struct
import time
import wave
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest

from ari_app.backoff import Backoff
from ari_app.client import ANY_EVENT, RESYNC, AriClient
from ari_app.errors import AriConnectionError, AriError, AriTimeout
from asterisk_conf.testbed import instance_base, processes_in_root
from tests.fixtures.ari import EventLog, channel_is_gone, hang_up_quietly, new_client, on_channel
from tests.fixtures.loop_use import loop_cpu
from tests.fixtures.ports import free_port
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

INTERNAL = "clickphone-internal"
RECONNECT_PROMISE_S = 5.0
DOWN_WINDOW_S = 5.0
CPU_WHILE_DOWN_LIMIT_S = 0.3


def resync_number(n: int) -> Callable[[dict], bool]:
    return lambda event: event["connection"] == n


# -- calls through the real Asterisk ---------------------------------------------------


async def test_an_originated_call_reaches_the_app_and_is_answered_and_hung_up_through_the_client(ari):
    """Local/stasis@clickphone-internal rings into Stasis(app,internal)
    unanswered; the client answers it, hangs it up, and it is gone."""
    dialled = await ari.originate(f"Local/stasis@{INTERNAL}", context=INTERNAL, extension="echo", priority=1)
    in_app_name = dialled["name"][:-1] + "2"  # the Local channel's ;2 half runs the stasis extension
    try:
        start = await ari.log.wait_for("StasisStart", lambda e: e["channel"]["name"] == in_app_name)
        channel = start["channel"]
        assert start["args"] == ["internal"]
        assert channel["state"] == "Ring"

        await ari.answer(channel["id"])
        await ari.log.wait_for("ChannelStateChange",
                               lambda e: on_channel(channel["id"])(e) and e["channel"]["state"] == "Up")

        await ari.hangup(channel["id"], "normal")
        await ari.log.wait_for("StasisEnd", on_channel(channel["id"]))
        assert await channel_is_gone(ari, channel["id"])
    finally:
        await hang_up_quietly(ari, dialled["id"])


async def test_a_phone_registers_to_a_rendered_endpoint(asterisk, ari, sip_phone):
    phone = await sip_phone(asterisk.endpoints[0])

    await phone.register()

    contacts = await asyncio.to_thread(asterisk.testbed.cli, "pjsip show contacts")
    assert f"test1001/sip:test1001@{phone.address}" in contacts
    endpoint = await ari.get_endpoint("PJSIP", "test1001")
    assert endpoint["state"] == "online"


async def test_a_phone_call_reaches_the_app_as_outbound_with_the_callers_number(asterisk, ari, sip_phone):
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    await phone.call("0712345678")

    start = await ari.log.wait_for("StasisStart", lambda e: e["channel"]["name"].startswith("PJSIP/test1001-"))
    try:
        # the dialplan hands over the SIP packets' source address with the call
        flow, source = start["args"]
        assert flow == "outbound" and re.fullmatch(r"src=127\.0\.0\.1:[0-9]+", source)
        assert start["channel"]["caller"]["number"] == "1001"
        assert start["channel"]["dialplan"]["exten"] == "0712345678"
    finally:
        await hang_up_quietly(ari, start["channel"]["id"])


async def test_the_client_answers_and_hangs_up_a_phones_call(asterisk, ari, sip_phone):
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    await phone.call("0712345678")
    start = await ari.log.wait_for("StasisStart", lambda e: e["channel"]["name"].startswith("PJSIP/test1001-"))
    channel_id = start["channel"]["id"]

    await ari.answer(channel_id)
    await phone.wait_state("CONFIRMED")
    await ari.hangup(channel_id)

    record = await phone.wait_state("DISCONNECTED")
    assert record.states[-2:] == ["CONFIRMED", "DISCONNECTED"]
    await ari.log.wait_for("StasisEnd", on_channel(channel_id))


async def ring_phone_into_the_app(asterisk, ari, phone) -> tuple[int, dict]:
    """Originate to the phone's endpoint into the app; the phone answers.
    Return the phone's call key and the channel in the app."""
    dialled = await ari.originate(f"PJSIP/{phone.endpoint.username}", app=asterisk.app, app_args="test")
    call = await phone.wait_incoming()
    await phone.answer(call)
    start = await ari.log.wait_for("StasisStart", on_channel(dialled["id"]))
    await phone.wait_state("CONFIRMED", call)
    return call, start


async def test_the_client_rings_a_registered_phone_which_answers_into_the_app(asterisk, ari, sip_phone):
    phone = await sip_phone(asterisk.endpoints[1])
    await phone.register()

    call, start = await ring_phone_into_the_app(asterisk, ari, phone)

    try:
        assert start["args"] == ["test"]
        assert start["channel"]["state"] == "Up"
        assert phone.calls[call].incoming
    finally:
        await hang_up_quietly(ari, start["channel"]["id"])
    await phone.wait_state("DISCONNECTED", call)


def write_tone(path: Path, seconds: float = 1.0, hz: int = 440, rate: int = 8000) -> Path:
    """A 16-bit mono PCM WAV of a sine tone."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def loudest_sample(wav_bytes: bytes) -> int:
    with wave.open(io.BytesIO(wav_bytes)) as audio:
        frames = audio.readframes(audio.getnframes())
    return max((abs(v) for (v,) in struct.iter_unpack("<h", frames)), default=0)


async def test_a_phones_audio_is_recorded_through_the_client_and_the_recording_fetched_and_deleted(
    asterisk, ari, sip_phone, tmp_path
):
    """The voicemail building blocks: record a channel, stop, fetch the
    stored file (it holds the phone's tone, not silence), delete it."""
    phone = await sip_phone(asterisk.endpoints[1])
    await phone.register()
    call, start = await ring_phone_into_the_app(asterisk, ari, phone)
    channel_id = start["channel"]["id"]
    name = f"test-{channel_id}"
    # Debian's package ships /var/spool/asterisk/recording; the testbed's
    # own spool folder does not have it yet, and ARI will not create it.
    (asterisk.testbed.host_base / "spool" / "recording").mkdir(parents=True, exist_ok=True)
    try:
        await ari.record(channel_id, name, "wav", max_duration_seconds=10, if_exists="overwrite")
        await ari.log.wait_for("RecordingStarted", lambda e: e["recording"]["name"] == name)
        await phone.play(write_tone(tmp_path / "tone.wav"), call, wait=True)
        await ari.stop_recording(name)
        await ari.log.wait_for("RecordingFinished", lambda e: e["recording"]["name"] == name)

        stored = await ari.get_stored_recording(name)
        audio = await ari.stored_recording_file(name)
        assert stored["format"] == "wav"
        assert audio[:4] == b"RIFF"
        assert loudest_sample(audio) > 3000

        await ari.delete_stored_recording(name)
        with pytest.raises(AriError) as gone:
            await ari.get_stored_recording(name)
        assert gone.value.status == 404
    finally:
        await hang_up_quietly(ari, channel_id)


async def test_a_slow_or_failing_handler_does_not_hold_up_other_events(asterisk, ari, caplog):
    """Handlers run as tasks: one that never returns and one that raises
    leave the reader and the other handlers going; the error is logged."""
    async def never_returns(event):
        await asyncio.sleep(3600)

    async def fails(event):
        raise RuntimeError("handler bug")

    ari.on("StasisStart", never_returns)
    ari.on("StasisStart", fails)
    dialled = await ari.originate(f"Local/echo@{INTERNAL}", app=asterisk.app)
    try:
        await ari.log.wait_for("StasisStart", on_channel(dialled["id"]))
        await ari.hangup(dialled["id"])
        await ari.log.wait_for("StasisEnd", on_channel(dialled["id"]))
    finally:
        await hang_up_quietly(ari, dialled["id"])
    assert "handler bug" in caplog.text
    assert ari.connected.is_set()


# -- faults ----------------------------------------------------------------------------


class Outage:
    """Asterisk stopped for a test, and always running again afterwards.

    ``async with Outage(asterisk) as outage:`` stops the testbed;
    ``await outage.restart()`` starts it and returns the moment ARI first
    answered a ping; leaving the block starts it if the test did not, and
    never while a start is still under way (two Asterisks would fight
    over the ports).
    """

    def __init__(self, asterisk) -> None:
        self.testbed = asterisk.testbed
        self._starting: asyncio.Future | None = None

    async def __aenter__(self) -> "Outage":
        await asyncio.to_thread(self.testbed.stop)
        return self

    async def restart(self) -> float:
        self._starting = asyncio.ensure_future(asyncio.to_thread(self.testbed.start, 60))
        back_at = await asyncio.to_thread(self._first_ping)
        await asyncio.shield(self._starting)
        return back_at

    def _first_ping(self, deadline_s: float = 60.0) -> float:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.testbed.ari_ping():
                return time.monotonic()
            if self._starting.done():  # the start failed
                break
            time.sleep(0.02)
        raise AssertionError("ARI did not come back")

    async def __aexit__(self, *exc_info) -> None:
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        if self.testbed.pid() is None:
            self._kill_leftovers()
            await asyncio.to_thread(self.testbed.start, 60)

    def _kill_leftovers(self) -> None:
        """Kill this instance's Asterisk if a failed start left one running
        that the testbed lost track of (it would hold the ports)."""
        config = f"{instance_base(self.testbed.instance)}/etc/asterisk.conf".encode()
        leftovers = []
        for pid in processes_in_root(self.testbed.root):
            with contextlib.suppress(OSError):
                if config in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
                    leftovers.append(pid)
        deadline = time.monotonic() + 5
        while any(map(running, leftovers)) and time.monotonic() < deadline:
            time.sleep(0.05)


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (reaped if it is ours)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)


class RecordedBackoff(Backoff):
    """The client's own reconnect schedule, keeping every delay it hands
    out; without jitter, so each delay is the nominal one and the longest
    (the worst case for how late the client notices Asterisk is back)."""

    def __init__(self) -> None:
        super().__init__(rand=lambda: 0.0)
        self.delays: list[float] = []

    def next_delay(self) -> float:
        """Return the schedule's next delay and record it."""
        delay = super().next_delay()
        self.delays.append(delay)
        return delay

    def at_cap(self) -> bool:
        """True once the schedule has handed out its capped delay."""
        return bool(self.delays) and self.delays[-1] == self.maximum


async def test_after_an_asterisk_restart_the_client_is_back_and_registered_within_5s(asterisk):
    """Measured from the moment ARI first answers a ping after the start,
    with the client's backoff already at its cap (seen in the delays it
    handed out, not assumed after a sleep): the slowest case."""
    schedules: list[RecordedBackoff] = []

    def recorded_backoff() -> RecordedBackoff:
        schedules.append(RecordedBackoff())
        return schedules[-1]

    client = new_client(asterisk, backoff=recorded_backoff)
    log = EventLog()
    client.on(ANY_EVENT, log)
    client.start()
    try:
        await client.wait_connected(10)
        async with Outage(asterisk) as outage:
            await wait_until(lambda: not client.connected.is_set(), 5, "noticing the drop")
            (schedule,) = schedules
            await wait_until(schedule.at_cap, 10, "the reconnect backoff reaching its cap")
            back_at = await outage.restart()

        resync = await log.wait_for(RESYNC, resync_number(2), timeout=RECONNECT_PROMISE_S + 5)
        applications = await client.list_applications()
        listed_at = time.monotonic()
    finally:
        await client.close()

    reconnect_s = log.time_of(resync) - back_at
    print(f"reconnected {reconnect_s:.3f} s after ARI answered (backoff delays {schedule.delays}); "
          f"app listed after {listed_at - back_at:.3f} s")
    assert schedule.maximum in schedule.delays
    assert reconnect_s < RECONNECT_PROMISE_S
    assert asterisk.app in [a["name"] for a in applications]
    assert listed_at - back_at < RECONNECT_PROMISE_S
    assert resync["channels"] == []  # a restart ends every call: the flows must learn that


async def test_while_asterisk_is_down_the_client_sleeps_between_attempts(asterisk, ari):
    """CPU time of the event loop's thread (where the client reconnects)
    over five seconds without Asterisk stays near zero: no busy reconnect
    loop. Other threads of the process (the testbed's, the phones') are
    not the client and are not counted."""
    async with Outage(asterisk):
        await wait_until(lambda: not ari.connected.is_set(), 5, "noticing the drop")
        attempts_before = ari.connect_attempts
        with loop_cpu() as cpu:
            await asyncio.sleep(DOWN_WINDOW_S)
        cpu_s, attempts = cpu.seconds, ari.connect_attempts - attempts_before
    await ari.wait_connected(RECONNECT_PROMISE_S + 2)

    print(f"CPU while down: {cpu_s:.4f} s over {DOWN_WINDOW_S} s, {attempts} connection attempts")
    assert cpu_s < CPU_WHILE_DOWN_LIMIT_S
    assert 2 <= attempts <= 10


async def test_after_a_websocket_drop_the_client_reconnects_and_resync_lists_the_channels_in_the_app(asterisk):
    """Asterisk stays up; only the connection is cut (through a relay)."""
    target = urlsplit(asterisk.ari_url)
    proxy = TcpProxy(target.hostname, target.port)
    await proxy.start()
    client = new_client(asterisk, proxy.url)
    log = EventLog()
    client.on(ANY_EVENT, log)
    client.start()
    dialled = None
    try:
        await client.wait_connected(10)
        dialled = await client.originate(f"Local/echo@{INTERNAL}", app=asterisk.app)
        await log.wait_for("StasisStart", on_channel(dialled["id"]))

        cut_at = time.monotonic()
        assert proxy.cut() >= 1
        resync = await log.wait_for(RESYNC, resync_number(2), timeout=RECONNECT_PROMISE_S + 5)

        reconnect_s = log.time_of(resync) - cut_at
        print(f"reconnected {reconnect_s:.3f} s after the cut")
        assert reconnect_s < RECONNECT_PROMISE_S
        assert dialled["id"] in resync["channel_ids"]
        assert dialled["id"] in [c["id"] for c in resync["channels"]]
    finally:
        if dialled is not None:
            await hang_up_quietly(client, dialled["id"])
        await client.close()
        await proxy.close()


async def test_a_websocket_that_goes_silent_is_dropped_by_the_heartbeat_and_replaced(asterisk):
    """A hung peer (socket open, nothing relayed) is noticed by the ping
    heartbeat within 1.5 heartbeats; the client then reconnects."""
    target = urlsplit(asterisk.ari_url)
    proxy = TcpProxy(target.hostname, target.port)
    await proxy.start()
    client = new_client(asterisk, proxy.url, heartbeat=1.0)
    log = EventLog()
    client.on(ANY_EVENT, log)
    client.start()
    try:
        await client.wait_connected(10)
        frozen_at = time.monotonic()
        assert proxy.freeze() >= 1

        resync = await log.wait_for(RESYNC, resync_number(2), timeout=RECONNECT_PROMISE_S + 5)

        reconnect_s = log.time_of(resync) - frozen_at
        print(f"silent websocket replaced {reconnect_s:.3f} s after it went silent")
        assert reconnect_s < RECONNECT_PROMISE_S
    finally:
        await client.close()
        await proxy.close()


# -- errors ------------------------------------------------------------------------------


async def test_an_ari_error_carries_the_http_status_and_aris_message(ari):
    with pytest.raises(AriError) as error:
        await ari.hangup("no-such-channel")

    assert error.value.status == 404
    assert error.value.message == "Channel not found"


async def test_a_request_to_a_dead_port_raises_a_connection_error_quickly():
    """A refused connection fails at once, without retrying: the client's
    own 1 s request timeout would raise AriTimeout instead of the connection
    error (bench_connection_faults measures how quickly: well under 1 ms)."""
    client = AriClient(f"http://127.0.0.1:{free_port()}", "user", "secret", "app", request_timeout=1.0)
    try:
        with pytest.raises(AriConnectionError):
            await client.ping()
    finally:
        await client.close()


async def test_a_request_ari_does_not_answer_in_time_raises_a_timeout():
    """A listener that accepts and never answers stands in for a hung Asterisk."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    client = AriClient(f"http://127.0.0.1:{silent.getsockname()[1]}", "user", "secret", "app",
                       request_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(AriTimeout):
            await client.ping()
        took = time.monotonic() - started
    finally:
        await client.close()
        silent.close()
    # the request's own timeout ended it: not sooner, and not some longer one
    # (the default request timeout is 10 s, the connect timeout 5 s)
    assert client.request_timeout <= took < 2.0


async def test_close_stops_the_event_connection_and_leaves_no_tasks(asterisk):
    client = new_client(asterisk)
    client.on(ANY_EVENT, lambda event: asyncio.sleep(3600))  # a handler still running at close
    client.start()
    await client.wait_connected(10)

    await client.close()

    assert not client.connected.is_set()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    async with new_client(asterisk) as rest_only:  # the app goes once its websocket has
        for _ in range(100):
            if asterisk.app not in [a["name"] for a in await rest_only.list_applications()]:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the application is still registered after close()")


async def test_cancelling_run_closes_the_client(asterisk):
    client = new_client(asterisk)
    running = asyncio.create_task(client.run())
    await client.wait_connected(10)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert client.closed
    assert asyncio.all_tasks() == {asyncio.current_task()}
