"""Voicemail against the real parts: the Asterisk testbed, a pjsua2 caller,
a real SMTP server (notify's MaildirCatcher) and the outbox on SQLite.

``db_url`` is overridden to SQLite alone: these tests are about the call
and the email; the outbox's behaviour on both databases is notify's tests'.

``voicemail`` gives a connected ARI client (fresh, with an EventLog on
every event), a call controller on it (the calls' events reach voicemail
through it, as in the control plane), a factory for a VoicemailService
and the handover that stands in for the inbound flow; everything is
stopped at teardown, and no recording is left in the testbed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from admission.service import Admission
from ari_app.calls import LiveCall
from ari_app.client import ANY_EVENT, AriClient
from ari_app.controller import CallController
from ari_app.voicemail import VoicemailService
from ari_app.voicemail_recordings import RECORDING_PREFIX
from notify.catcher import MaildirCatcher
from controlplane.recipients import AccountDirectory
from notify.notifier import Notifier
from notify.render import Renderer
from tests.fixtures.ari import EventLog, new_client

from .support import Handover, Mailbox, new_mailbox


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'clickphone.sqlite3'}"


@pytest.fixture
async def catcher(tmp_path: Path) -> AsyncIterator[MaildirCatcher]:
    catcher = MaildirCatcher(tmp_path / "maildir")
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()


@pytest.fixture
async def mailbox(engine: AsyncEngine) -> Mailbox:
    return await new_mailbox(engine)


@pytest.fixture
def recording_dir(asterisk: Any) -> Path:
    return asterisk.testbed.host_base / "spool" / "recording"


@dataclass
class VoicemailRig:
    client: AriClient
    log: EventLog
    engine: AsyncEngine
    recording_dir: Path
    controller: CallController

    def service(self, **options: Any) -> VoicemailService:
        """A VoicemailService on the rig's client, recording into the
        testbed's folder unless told."""
        options.setdefault("recording_dir", self.recording_dir)
        notifier = Notifier(Renderer(), AccountDirectory(), wake=options.pop("wake", None))
        return VoicemailService(self.client, self.engine, notifier, **options)

    def handover(self, act: Callable[[LiveCall], Awaitable[Any]]) -> Handover:
        """Every caller entering the application becomes a call of the
        rig's controller whose step is ``act(call)``: see Handover."""
        return Handover(self.client, self.controller, act)

    def leftover_recordings(self) -> list[str]:
        return sorted(p.name for p in self.recording_dir.glob(f"{RECORDING_PREFIX}*"))


@pytest.fixture
async def voicemail(asterisk: Any, engine: AsyncEngine, recording_dir: Path) -> AsyncIterator[VoicemailRig]:
    """A connected ARI client (register handlers before calling in), a
    call controller on it, and VoicemailServices."""
    client = new_client(asterisk)
    log = EventLog()
    client.on(ANY_EVENT, log)
    admission = Admission(engine)
    controller = CallController(client, admission, engine)
    controller.start()  # before the client: it routes every event to the calls
    rig = VoicemailRig(client, log, engine, recording_dir, controller)
    before = set(rig.leftover_recordings())
    client.start()
    try:
        await client.wait_connected(10)
        yield rig
    finally:
        await controller.stop()
        admission.close()
        await client.close()
        # what a test kept on purpose is removed here
        for name in set(rig.leftover_recordings()) - before:
            (recording_dir / name).unlink(missing_ok=True)
