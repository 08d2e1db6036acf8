"""Helpers of the notify integration tests: fast policies, running a
dispatcher for the length of a block, waiting for a condition, emails."""

from __future__ import annotations

import asyncio
import io
import wave
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from notify.catcher import MaildirHandler
from notify.dispatcher import Dispatcher
from notify.messages import Attachment, OutgoingEmail
from notify.outbox import RetryPolicy
from notify.smtp import SmtpConfig, SmtpSender

# retries after 20 ms, 40 ms, 80 ms..., capped at 100 ms; no jitter so the
# tests can reason about counts
FAST_RETRIES = RetryPolicy(
    max_attempts=3,
    first_delay=timedelta(milliseconds=20),
    max_delay=timedelta(milliseconds=100),
    jitter=0,
    lease=timedelta(seconds=5),
)
# never gives up within a test
PATIENT_RETRIES = RetryPolicy(
    max_attempts=1000,
    first_delay=timedelta(milliseconds=20),
    max_delay=timedelta(milliseconds=50),
    jitter=0,
    lease=timedelta(seconds=5),
)
POLL_INTERVAL = 0.05
WAIT_SECONDS = 10.0

# headers notify sets on an email, top level; anything else was injected
NOTIFY_HEADERS = [
    "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version",
    "Content-Type",
]


def smtp_config_for(port: int, **changes: object) -> SmtpConfig:
    """An SmtpConfig for a test server on 127.0.0.1:``port``."""
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "from_address": "alerts@clickphone.example",
        "timeout": 2.0,
        "send_timeout": 3.0,
        "local_hostname": "clickphone-test",
    }
    options.update(changes)
    return SmtpConfig(**options)  # type: ignore[arg-type]


def new_dispatcher(
    engine: AsyncEngine,
    sender: SmtpSender,
    *,
    policy: RetryPolicy = FAST_RETRIES,
    poll_interval: float = POLL_INTERVAL,
    batch_size: int = 20,
    wake: asyncio.Event | None = None,
) -> Dispatcher:
    return Dispatcher(
        engine, sender, policy=policy, poll_interval=poll_interval, batch_size=batch_size,
        wake=wake,
    )


@asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[Dispatcher]:
    """Run ``dispatcher`` for the length of the block, then stop it."""
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await asyncio.wait_for(task, timeout=WAIT_SECONDS)


async def eventually(
    condition: Callable[[], Awaitable[bool] | bool], *, timeout: float = WAIT_SECONDS
) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(0.02)


def alert(key: str = "low_balance:7:2025-07-01", **changes: object) -> OutgoingEmail:
    """A small service email."""
    fields: dict[str, object] = {
        "dedup_key": key,
        "kind": "low_balance",
        "recipient": "ana@example.ro",
        "subject": "Credit scăzut",
        "text": "Creditul a scăzut.\n",
        "html": "<p>Creditul a scăzut.</p>",
        "account_id": 7,
    }
    fields.update(changes)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A real WAV file (8 kHz, 16-bit mono) of a non-trivial waveform."""
    frames = bytes((i * 37 + i // 7) % 256 for i in range(int(seconds * rate) * 2))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def voicemail_email(
    key: str = "voicemail:1751360400.1", audio: bytes | None = None
) -> OutgoingEmail:
    return alert(
        key,
        kind="voicemail",
        subject="Mesaj vocal nou",
        attachments=(Attachment("mesaj-vocal.wav", "audio/wav", audio or wav_bytes()),),
    )


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return part.get_content()


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "no text/html part"
    return part.get_content()


class RefusingHandler:
    """aiosmtpd handler of a real server configured to refuse every
    recipient with ``reply``."""

    def __init__(self, reply: str = "550 5.7.1 Relaying denied") -> None:
        self.reply = reply
        self.refused = 0

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: list[str]
    ) -> str:
        self.refused += 1
        return self.reply


class SlowMaildirHandler(MaildirHandler):
    """Delivers to a Maildir, taking ``delay`` seconds to accept each message."""

    def __init__(self, maildir_path: Path, delay: float) -> None:
        super().__init__(maildir_path)
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)
