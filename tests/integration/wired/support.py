"""Helpers of the tests that run the whole control plane as `make run` wires
it (``controlplane.runtime.ControlPlane``): its settings for a test, an
SMTP server of the test's that keeps what it accepts, the admin HTTP API
called with the admin token, and the carrier trunk played by a pjsua2
phone on 127.0.0.2 (the trunk is identified by address, so only it may
send from there)."""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp

from asterisk_conf.testbed import processes_in_root
from controlplane.runtime import ControlPlane
from controlplane.settings import Settings
from notify.catcher import SmtpServer
from tests.fixtures.asterisk import mounts_under
from tests.fixtures.ports import free_port, free_rtp_range
from tests.fixtures.sip_phone import SipPhone

CARRIER_ADDRESS = "127.0.0.2"


@dataclass(frozen=True)
class Accepted:
    """One message the server said 250 to."""

    at: float  # time.monotonic() in handle_DATA
    recipients: tuple[str, ...]  # the envelope's RCPT TO
    message: EmailMessage


class AcceptingHandler:
    """aiosmtpd handler that keeps every message it accepts, parsed."""

    def __init__(self) -> None:
        self.accepted: list[Accepted] = []
        self._changed = asyncio.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message, wake the waiters, say 250."""
        at = time.monotonic()
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=default_policy).parsebytes(raw)
        self.accepted.append(Accepted(at, tuple(envelope.rcpt_tos), message))
        async with self._changed:
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float) -> list[Accepted]:
        """Return the accepted messages once there are ``count``."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: len(self.accepted) >= count)
        except TimeoutError:
            raise AssertionError(f"{len(self.accepted)} email(s) within {timeout} s, wanted {count}") from None
        return list(self.accepted)


def wired_settings(state_dir: Path, root: Path, smtp_port: int, carrier_port: int) -> Settings:
    """Settings as `make run` would read them from the environment: free
    loopback ports, fresh secrets, the relay = the test's SMTP server, the
    carrier trunk at CARRIER_ADDRESS:``carrier_port``."""
    rtp_start, rtp_end = free_rtp_range()
    return Settings(
        state_dir=state_dir,
        asterisk_root=root,
        asterisk_http_port=free_port(),
        ari_password=secrets.token_urlsafe(16),
        agi_secret=secrets.token_urlsafe(16),
        sip_port=free_port(),
        rtp_port_start=rtp_start,
        rtp_port_end=rtp_end,
        carrier_host=f"{CARRIER_ADDRESS}:{carrier_port}",
        agi_port=free_port(),
        admin_port=free_port(),
        admin_token=secrets.token_urlsafe(16),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_tls="none",
    )


@asynccontextmanager
async def running_plane(root: Path, state_dir: Path) -> AsyncIterator[tuple[ControlPlane, AcceptingHandler, int]]:
    """Start a ControlPlane on ``root`` (a private copy of the testbed root)
    and ``state_dir``, relaying to an AcceptingHandler's SMTP server; yield
    (plane, handler, the carrier trunk's port). Stopped at the end; once the
    body has passed, no Asterisk process and no mount may be left in
    ``root``."""
    mail = AcceptingHandler()
    smtp = SmtpServer(mail)
    await smtp.start()
    carrier_port = free_port()
    plane = ControlPlane(wired_settings(state_dir, root, smtp.port, carrier_port))
    try:
        await plane.start()
        yield plane, mail, carrier_port
    finally:
        await plane.stop()
        await smtp.stop()
    assert processes_in_root(root) == []
    assert mounts_under(root) == []


async def admin_post(plane: ControlPlane, path: str, body: dict[str, Any], *, status: int = 201) -> dict[str, Any]:
    """POST ``body`` to the plane's admin API with its admin token; return
    the JSON answer, which must come with ``status``."""
    headers = {"Authorization": f"Bearer {plane.settings.admin_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{plane.admin_url}{path}", json=body, headers=headers) as response:
            answer = await response.json()
            assert response.status == status, answer
            return answer


async def started_carrier(port: int, log_path: Path) -> SipPhone:
    """The carrier trunk: an unregistered phone listening on
    CARRIER_ADDRESS:``port`` (the caller closes and kills it; one that
    fails to start is killed here)."""
    phone = SipPhone(None, registrar_host="127.0.0.1", registrar_port=None, log_path=log_path,
                     bind=CARRIER_ADDRESS, port=port)
    try:
        await phone.start()
    except BaseException:
        phone.kill()
        raise
    return phone
