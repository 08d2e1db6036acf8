"""The embedded default's SMTP catcher: a real aiosmtpd server on loopback
writing what it receives into a Maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from notify.catcher import MaildirCatcher
from notify.errors import CatcherError, SmtpUnavailableError
from notify.smtp import SmtpSender
from tests.integration.notify.support import alert, smtp_config_for


async def test_every_received_message_is_a_file_in_the_maildir(
    tmp_path: Path, catcher: MaildirCatcher
) -> None:
    sender = SmtpSender(smtp_config_for(catcher.port))

    await sender.send(alert("top_up:7:T-1"))
    await sender.send(alert("top_up:7:T-2"))

    assert len(list((tmp_path / "maildir" / "new").iterdir())) == 2
    assert len(mailbox.Maildir(tmp_path / "maildir")) == 2


async def test_the_maildir_file_is_the_message_with_lf_line_ends(
    tmp_path: Path, catcher: MaildirCatcher
) -> None:
    """What a local delivery agent writes: mail clients read it as is."""
    await SmtpSender(smtp_config_for(catcher.port)).send(alert(subject="Ștefan și Țuțu"))

    [stored] = list((tmp_path / "maildir" / "new").iterdir())
    assert b"\r" not in stored.read_bytes()
    assert catcher.messages()[0]["Subject"] == "Ștefan și Țuțu"


async def test_a_stopped_catcher_refuses_connections(catcher: MaildirCatcher) -> None:
    await catcher.stop()

    with pytest.raises(SmtpUnavailableError):
        await SmtpSender(smtp_config_for(catcher.port)).send(alert())


async def test_a_restarted_catcher_listens_on_the_same_port(catcher: MaildirCatcher) -> None:
    port = catcher.port
    await catcher.stop()

    await catcher.start()

    assert catcher.port == port
    await SmtpSender(smtp_config_for(port)).send(alert())
    assert len(catcher.messages()) == 1


async def test_stopping_closes_connections_left_open(catcher: MaildirCatcher) -> None:
    """Stopped means stopped: no session keeps a stopped server half alive."""
    sender = SmtpSender(smtp_config_for(catcher.port))
    async with sender.session() as session:
        await catcher.stop()

        with pytest.raises(SmtpUnavailableError):
            await session.send(alert())


def test_the_catcher_listens_on_loopback_only(tmp_path: Path) -> None:
    with pytest.raises(CatcherError):
        MaildirCatcher(tmp_path / "maildir", host="0.0.0.0")

