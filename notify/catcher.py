"""The local SMTP catcher of the embedded default: an aiosmtpd server on a
loopback port that keeps every message it receives in a Maildir
(``mailbox.Maildir``: one file per message under ``new/``, as received,
line ends LF), which any mail client or ``mailbox`` can read.

It runs on the caller's event loop (aiosmtpd's SMTP protocol served by
``loop.create_server``) rather than in aiosmtpd's Controller thread: start
and stop are awaited, port 0 picks a free port with no race, and stopping
closes the open connections too, so "server stopped" means refused
connections at once. ``SmtpServer`` serves any aiosmtpd handler the same
way (the tests use it for a server that refuses every message).

    catcher = MaildirCatcher(Path(".state/maildir"))
    await catcher.start()        # catcher.port, catcher.maildir_path
    ...
    await catcher.stop()
"""

from __future__ import annotations

import asyncio
import mailbox
import re
import ssl
import weakref
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from notify.errors import CatcherError
from notify.smtp import is_loopback_host

LOOPBACK = "127.0.0.1"
# what the catcher calls itself in its greeting; no DNS lookup for it
SERVER_NAME = "clickphone-catcher"
MAX_MESSAGE_BYTES = 50 * 1024 * 1024


class SmtpServer:
    """An aiosmtpd SMTP server for ``handler`` on a loopback address, served
    on the running event loop. ``port=0``: a free port, chosen at the first
    start and kept across restarts. ``ssl_context``: implicit TLS;
    ``smtp_options`` go to aiosmtpd's ``SMTP`` (``tls_context`` and
    ``require_starttls`` for STARTTLS, ``authenticator``...)."""

    def __init__(
        self,
        handler: Any,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        **smtp_options: Any,
    ) -> None:
        if not is_loopback_host(host):
            # a server accepting any mail from anyone has no place off loopback
            raise CatcherError(f"the catcher listens on loopback only, not {host!r}")
        self.handler = handler
        self.host = host
        self._port = port
        self._ssl_context = ssl_context
        self._smtp_options = {
            "hostname": SERVER_NAME,
            "data_size_limit": MAX_MESSAGE_BYTES,
            **smtp_options,
        }
        self._server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        """The TCP port (known once started, when constructed with 0)."""
        if self._port == 0:
            raise CatcherError("the server has not started yet: its port is not chosen")
        return self._port

    @property
    def is_running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen; return once connections are accepted."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._new_connection, self.host, self._port, ssl=self._ssl_context
            )
        except OSError as exc:
            raise CatcherError(f"cannot listen on {self.host}:{self._port}: {exc}") from exc
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every open connection; return once done."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        handlers = []
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
            # aiosmtpd's per-connection task, cancelled when its connection is lost
            task = getattr(connection, "_handler_coroutine", None)
            if task is not None:
                handlers.append(task)
        await server.wait_closed()
        if handlers:
            await asyncio.wait(handlers, timeout=5)

    async def __aenter__(self) -> SmtpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _new_connection(self) -> SMTP:
        connection = SMTP(self.handler, loop=asyncio.get_running_loop(), **self._smtp_options)
        self._connections.add(connection)
        return connection


class MaildirHandler:
    """aiosmtpd handler that delivers every message into a Maildir."""

    def __init__(self, maildir_path: Path) -> None:
        self.maildir = mailbox.Maildir(maildir_path, create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes), "aiosmtpd hands raw bytes when decode_data is off"
        # SMTP's CRLF line ends become the LF of files in a Maildir, as a
        # local delivery agent does; the bytes are otherwise as received.
        # A small local write, done inline: a thread could clash with
        # Maildir's per-process file name counter.
        self.maildir.add(content.replace(b"\r\n", b"\n"))
        return "250 Message accepted for delivery"


class MaildirCatcher(SmtpServer):
    """The embedded default's SMTP server: everything sent to it lands in
    the Maildir at ``maildir_path``."""

    def __init__(self, maildir_path: Path, *, host: str = LOOPBACK, port: int = 0) -> None:
        self.maildir_path = Path(maildir_path)
        super().__init__(MaildirHandler(self.maildir_path), host=host, port=port)

    def messages(self) -> list[EmailMessage]:
        """Return every message in the Maildir, parsed, oldest first."""
        return read_maildir(self.maildir_path)


def read_maildir(maildir_path: Path) -> list[EmailMessage]:
    """Return the messages of the Maildir at ``maildir_path``, parsed with
    the email package's default policy, in the order they arrived."""
    box = mailbox.Maildir(maildir_path, create=False)
    parser = BytesParser(policy=default_policy)
    return [
        parser.parsebytes(box.get_bytes(key))  # type: ignore[misc]
        for key in sorted(box.keys(), key=_arrival_order)
    ]


# Maildir's own names: <seconds>.M<microseconds>P<pid>Q<counter>.<host>
_MAILDIR_NAME = re.compile(r"(\d+)\.M(\d+)P\d+Q(\d+)")


def _arrival_order(key: str) -> tuple[int, int, int, str]:
    found = _MAILDIR_NAME.match(key)
    if found is None:
        return (0, 0, 0, key)
    seconds, microseconds, counter = (int(part) for part in found.groups())
    return (seconds, microseconds, counter, key)


