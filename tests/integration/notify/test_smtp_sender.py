"""SmtpSender against real aiosmtpd servers: TLS modes, login, timeouts and
how each failure is reported (no database involved)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from notify.catcher import MaildirCatcher, MaildirHandler, SmtpServer, read_maildir
from notify.errors import SmtpRejectedError, SmtpUnavailableError
from notify.mime import message_id
from notify.smtp import SmtpSender, TlsMode
from tests.integration.notify.support import alert, smtp_config_for

USER = "clickphone"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl from Debian)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def server_tls_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def only_our_user(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    valid = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(), PASSWORD.encode()
    )
    return AuthResult(success=valid, handled=False)


@pytest.fixture
async def starttls_server(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> AsyncIterator[SmtpServer]:
    """Port 587 style: STARTTLS required, then login required."""
    server = SmtpServer(
        MaildirHandler(tmp_path / "maildir"),
        tls_context=server_tls_context(certificate),
        require_starttls=True,
        authenticator=only_our_user,
        auth_required=True,
    )
    async with server:
        yield server


@pytest.fixture
async def implicit_tls_server(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> AsyncIterator[SmtpServer]:
    """Port 465 style: TLS from the first byte."""
    server = SmtpServer(
        MaildirHandler(tmp_path / "maildir"), ssl_context=server_tls_context(certificate)
    )
    async with server:
        yield server


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word; yields its port."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()


async def test_starttls_with_login_delivers(
    tmp_path: Path, starttls_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    sender = SmtpSender(
        smtp_config_for(
            starttls_server.port, tls=TlsMode.STARTTLS, username=USER, password=PASSWORD,
            ca_file=str(certificate[0]),
        )
    )

    await sender.send(alert())

    assert len(read_maildir(tmp_path / "maildir")) == 1


async def test_implicit_tls_delivers(
    tmp_path: Path, implicit_tls_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    sender = SmtpSender(
        smtp_config_for(implicit_tls_server.port, tls="tls", ca_file=str(certificate[0]))
    )

    await sender.send(alert())

    assert len(read_maildir(tmp_path / "maildir")) == 1


async def test_a_wrong_password_is_a_rejection_with_the_servers_code(
    starttls_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    sender = SmtpSender(
        smtp_config_for(
            starttls_server.port, tls=TlsMode.STARTTLS, username=USER, password="wrong password",
            ca_file=str(certificate[0]),
        )
    )

    with pytest.raises(SmtpRejectedError) as refused:
        await sender.send(alert())

    assert refused.value.code == 535


async def test_an_untrusted_certificate_is_refused_as_unavailable(
    implicit_tls_server: SmtpServer,
) -> None:
    """Certificates are checked: the system's CAs do not know this one."""
    sender = SmtpSender(smtp_config_for(implicit_tls_server.port, tls=TlsMode.IMPLICIT))

    with pytest.raises(SmtpUnavailableError):
        await sender.send(alert())


async def test_starttls_required_but_not_offered_sends_nothing_in_clear(
    catcher: MaildirCatcher,
) -> None:
    """No silent fall back to clear text: a server (or a man in the middle)
    not offering STARTTLS is treated as unavailable, and retried later."""
    sender = SmtpSender(smtp_config_for(catcher.port, tls=TlsMode.STARTTLS))

    with pytest.raises(SmtpUnavailableError):
        await sender.send(alert())

    assert catcher.messages() == []


async def test_a_closed_port_is_unavailable(catcher: MaildirCatcher) -> None:
    await catcher.stop()
    sender = SmtpSender(smtp_config_for(catcher.port))

    with pytest.raises(SmtpUnavailableError):
        await sender.send(alert())


async def test_a_server_that_never_answers_is_unavailable_after_the_timeout(
    silent_server: int,
) -> None:
    sender = SmtpSender(smtp_config_for(silent_server, timeout=0.3))
    started = asyncio.get_running_loop().time()

    with pytest.raises(SmtpUnavailableError):
        await sender.send(alert())

    assert asyncio.get_running_loop().time() - started < 2


async def test_a_refused_recipient_is_a_permanent_rejection(refusing_server: SmtpServer) -> None:
    sender = SmtpSender(smtp_config_for(refusing_server.port))

    with pytest.raises(SmtpRejectedError) as refused:
        await sender.send(alert())

    assert refused.value.code == 550 and refused.value.permanent


class RefusingOneRecipient(MaildirHandler):
    """Delivers to the Maildir, except to refused@example.ro."""

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address == "refused@example.ro":
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_a_session_keeps_sending_after_one_email_is_refused(tmp_path: Path) -> None:
    """A rejection concerns one email: the client resets the envelope and
    the connection carries the next one."""
    async with SmtpServer(RefusingOneRecipient(tmp_path / "maildir")) as server:
        sender = SmtpSender(smtp_config_for(server.port))
        async with sender.session() as session:
            await session.send(alert("top_up:7:T-1"))
            with pytest.raises(SmtpRejectedError):
                await session.send(alert("top_up:7:T-2", recipient="refused@example.ro"))
            await session.send(alert("top_up:7:T-3"))

    assert [m["Message-ID"] for m in read_maildir(tmp_path / "maildir")] == [
        message_id(f"top_up:7:T-{n}", "clickphone.example") for n in (1, 3)
    ]
