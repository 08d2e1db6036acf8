"""Helpers of the voicemail tests: a subscriber with a DID, the stand-in for
the inbound flow's handover, a caller that leaves a message, WAV and Ogg
Opus files, an email's audio attachments, a faulty converter on PATH."""

from __future__ import annotations

import asyncio
import io
import math
import secrets
import struct
import time
import wave
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ari_app.calls import OUTBOUND, LiveCall
from ari_app.client import AriClient
from ari_app.controller import CallController
from ari_app.stasis import StasisApp
from ari_app.voicemail_audio import OPUSENC
from billing import ledger
from provisioning import services as provisioning
from provisioning.records import Did
from tests.fixtures.ari import EventLog

SUBSCRIBER_EMAIL = "ana.pop@example.ro"
# what the test phone dials: our dialplan sends any number it dials into the
# application, where the test's handover takes it as a call to the DID
DIALLED = "0215550123"
RATE = 8000


@dataclass(frozen=True)
class Mailbox:
    """A subscriber with a billing account and a DID."""

    subscriber_id: int
    account_id: int
    did: Did


async def new_mailbox(
    engine: AsyncEngine, *, language: str = "ro", voicemail: bool = True, account_language: str | None = None
) -> Mailbox:
    """Create a subscriber (Ana Pop, speaking ``language``), an endpoint
    carrying her account code, the account (in ``account_language``, None:
    unset) and a DID of her own (a fresh number: custom greetings are
    stored by DID in the testbed, which every test shares)."""
    code = f"ana{secrets.token_hex(4)}"
    subscriber = await provisioning.create_subscriber(
        engine, name="Ana Pop", email=SUBSCRIBER_EMAIL, language=language
    )
    await provisioning.add_endpoint(
        engine, subscriber_id=subscriber.id, username=code, caller_id_number="2001",
        display_name="Ana Pop", account_code=code,
    )
    account = await ledger.open_account(engine, code=code, subscriber_id=subscriber.id,
                                        language=account_language)
    number = "40215" + "".join(str(secrets.randbelow(10)) for _ in range(6))
    did = await provisioning.add_did(
        engine, number=number, subscriber_id=subscriber.id, voicemail_enabled=voicemail
    )
    return Mailbox(subscriber.id, account.id, did)


class Handover:
    """Stands in for the inbound flow's handover: every caller entering the
    Stasis application (the test phone's calls enter as outbound ones)
    becomes a call of ``controller`` whose one step is ``act(call)`` (the
    hook call), run as the flows' steps are: its events come through the
    call's queue, and the controller's teardown hangs up what is left when
    it returns, as after the real hook. What each returned (or raised) is
    kept, in order; ``channels`` are the callers as they entered."""

    def __init__(self, client: AriClient, controller: CallController,
                 act: Callable[[LiveCall], Awaitable[Any]]) -> None:
        self.act = act
        self.channels: list[dict[str, Any]] = []
        self._results: asyncio.Queue[tuple[dict[str, Any], Any]] = asyncio.Queue()
        StasisApp(client, {OUTBOUND: controller.flow(OUTBOUND, self._step)})

    async def _step(self, call: LiveCall, args: list[str]) -> None:
        self.channels.append(call.caller)
        try:
            result: Any = await self.act(call)
        except BaseException as exc:  # handed to the test, and to the controller's teardown
            self._results.put_nowait((call.caller, exc))
            raise
        self._results.put_nowait((call.caller, result))

    async def result(self, timeout: float = 30.0) -> Any:
        """What the next handover returned; re-raises what it raised."""
        async with asyncio.timeout(timeout):
            _channel, result = await self._results.get()
        if isinstance(result, BaseException):
            raise result
        return result


async def speak_after_the_beep(phone: Any, log: EventLog, message: Path, *, dial: str = DIALLED) -> int:
    """Call, wait for the beep (the recording has started) and play
    ``message`` into the call; return the call, still up."""
    call = await phone.call(dial)
    await phone.wait_state("CONFIRMED", call, timeout=10)
    await log.wait_for("RecordingStarted", timeout=20)
    await phone.play(message, call, wait=True, timeout=20)
    return call


async def leave_message(phone: Any, log: EventLog, message: Path, *, dial: str = DIALLED) -> float:
    """Call, wait for the beep (the recording has started), play
    ``message`` into the call and hang up; return the monotonic time of the
    hangup."""
    call = await speak_after_the_beep(phone, log, message, dial=dial)
    await phone.hangup(call)
    hung_up_at = time.monotonic()
    await phone.wait_state("DISCONNECTED", call)
    return hung_up_at


def write_tone(path: Path, seconds: float, *, frequency: float = 440.0, amplitude: int = 8000) -> Path:
    """A 16-bit 8 kHz mono WAV file of a sine tone ``seconds`` long."""
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * frequency * n / RATE)))
        for n in range(int(seconds * RATE))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
    return path


def wav_seconds(audio: bytes) -> float:
    """Length of a WAV file by the standard library's reading of it."""
    with wave.open(io.BytesIO(audio)) as wav:
        return wav.getnframes() / wav.getframerate()


HANGUP_LATE_S = 3.0
"""How much longer than the message a recording may run: it ends when the
caller's hangup reaches Asterisk, which a loaded machine delays by seconds."""


def recorded_the_message(audio: bytes, played_seconds: float) -> bool:
    """True when ``audio`` is a recording of a message played for
    ``played_seconds``: at most a second short, at most HANGUP_LATE_S long."""
    return played_seconds - 1.0 <= wav_seconds(audio) <= played_seconds + HANGUP_LATE_S


def loudest_sample(audio: bytes) -> int:
    with wave.open(io.BytesIO(audio)) as wav:
        frames = wav.readframes(wav.getnframes())
    return max((abs(v) for (v,) in struct.iter_unpack("<h", frames)), default=0)


OPUS_RATE = 48000  # Ogg Opus granule positions count 48 kHz samples (RFC 7845)


def ogg_opus_seconds(stream: bytes) -> float:
    """Length of an Ogg Opus stream: the last page's granule position minus
    the pre-skip of its OpusHead, over 48 kHz. Raises ValueError for
    anything else."""
    head = stream.find(b"OpusHead")
    last_page = stream.rfind(b"OggS")
    if not stream.startswith(b"OggS") or head < 0 or last_page < 0:
        raise ValueError("not an Ogg Opus stream")
    (pre_skip,) = struct.unpack_from("<H", stream, head + 10)
    (granule,) = struct.unpack_from("<q", stream, last_page + 6)
    return (granule - pre_skip) / OPUS_RATE


def audio_attachments(email: EmailMessage) -> dict[str, EmailMessage]:
    """The email's attachments by content type (``audio/wav``,
    ``audio/ogg``), in the order they come; an email attaching two files of
    one type fails the test."""
    found: dict[str, EmailMessage] = {}
    for attachment in email.iter_attachments():
        assert attachment.get_content_type() not in found, "two attachments of one type"
        found[attachment.get_content_type()] = attachment  # type: ignore[assignment]
    return found


def converter_on_path(monkeypatch: pytest.MonkeyPatch, folder: Path, script: str | None) -> None:
    """Make PATH ``folder`` alone, holding an ``opusenc`` that runs the
    shell ``script`` (no opusenc at all when ``script`` is None): the
    converter's faults, which a real opusenc cannot make on demand."""
    folder.mkdir()
    if script is not None:
        program = folder / OPUSENC
        program.write_text(f"#!/bin/sh\n{script}\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
