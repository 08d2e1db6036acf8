"""Real SMTP servers on loopback for the notify tests, and dispatchers with
short retry delays and leases so the tests take fractions of a second.

``catcher``      the embedded default's MaildirCatcher on a free port
``smtp_config``  an SmtpConfig pointing at it, with short timeouts
``dispatcher``   a Dispatcher on ``engine`` sending to the catcher
``refusing_server`` a real SMTP server answering 550 to every recipient
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.catcher import MaildirCatcher, SmtpServer
from notify.dispatcher import Dispatcher
from notify.smtp import SmtpConfig, SmtpSender
from tests.integration.notify.support import (
    FAST_RETRIES,
    RefusingHandler,
    new_dispatcher,
    smtp_config_for,
)


@pytest.fixture
async def catcher(tmp_path: Path) -> AsyncIterator[MaildirCatcher]:
    catcher = MaildirCatcher(tmp_path / "maildir")
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()


@pytest.fixture
def smtp_config(catcher: MaildirCatcher) -> SmtpConfig:
    return smtp_config_for(catcher.port)


@pytest.fixture
def dispatcher(engine: AsyncEngine, smtp_config: SmtpConfig) -> Dispatcher:
    return new_dispatcher(engine, SmtpSender(smtp_config), policy=FAST_RETRIES)


@pytest.fixture
async def refusing_server() -> AsyncIterator[SmtpServer]:
    """A real SMTP server answering 550 to every recipient."""
    server = SmtpServer(RefusingHandler())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
