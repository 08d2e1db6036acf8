"""The SMTP sender, on aiosmtplib: one connection per batch of emails.

``SmtpConfig`` is plain data the composition root fills from its settings.
``SmtpSender.session()`` connects (implicit TLS, STARTTLS or plain), logs
in if a user is set, and yields a session whose ``send`` hands over one
outbox email; every failure comes out as SmtpUnavailableError (no usable
connection) or SmtpRejectedError (the server said no).

The envelope is set explicitly: sender ``from_address``, one recipient,
the email's own. Nothing is read back from the headers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.headerregistry import Address
from enum import Enum
from typing import AsyncIterator

import aiosmtplib

from notify.errors import (
    InvalidEmailError,
    SmtpConfigError,
    SmtpRejectedError,
    SmtpUnavailableError,
)
from notify.messages import OutgoingEmail, check_field
from notify.mime import build_email, email_bytes, header_text


class TlsMode(str, Enum):
    NONE = "none"  # plain SMTP (a relay on this machine or the catcher)
    STARTTLS = "starttls"  # plain connect, then STARTTLS, required (port 587)
    IMPLICIT = "tls"  # TLS from the first byte (port 465)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand emails over. Timeouts are in seconds:
    ``timeout`` for connecting and for each SMTP command, ``send_timeout``
    for a whole email (the outbox lease must be longer)."""

    host: str = "127.0.0.1"
    port: int = 25
    tls: TlsMode = TlsMode.NONE
    username: str = ""
    password: str = field(default="", repr=False)
    from_address: str = "clickphone@localhost"
    from_name: str = "ClickPhone"
    timeout: float = 30.0
    send_timeout: float = 120.0
    # the CA bundle to trust instead of the system's (a relay with a private CA)
    ca_file: str | None = None
    # the name we give in EHLO; None: this machine's host name (no DNS lookup)
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tls, TlsMode):
            try:
                object.__setattr__(self, "tls", TlsMode(self.tls))
            except ValueError as exc:
                raise SmtpConfigError(
                    f"smtp tls mode {self.tls!r}: use none, starttls or tls"
                ) from exc
        if not 0 < self.port < 65536:
            raise SmtpConfigError(f"smtp port {self.port} is not a TCP port")
        if self.timeout <= 0 or self.send_timeout <= 0:
            raise SmtpConfigError("smtp timeouts must be positive")
        if bool(self.username) != bool(self.password):
            raise SmtpConfigError("smtp username and password go together")
        if self.username and self.tls is TlsMode.NONE and not is_loopback_host(self.host):
            raise SmtpConfigError(
                "smtp login without TLS would send the password in clear: "
                "use tls mode starttls or tls"
            )
        try:
            check_field("sender", self.from_address)
        except InvalidEmailError as exc:
            raise SmtpConfigError(f"smtp from address: {exc}") from exc

    @property
    def sender(self) -> Address:
        """The From header's address, display name cleaned."""
        return Address(display_name=header_text(self.from_name), addr_spec=self.from_address)


class SmtpSession:
    """One open SMTP connection; ``send`` may be called several times."""

    def __init__(self, client: aiosmtplib.SMTP, config: SmtpConfig) -> None:
        self._client = client
        self._config = config

    async def send(self, email: OutgoingEmail) -> None:
        """Hand ``email`` to the server. Raises InvalidEmailError (it cannot
        be built: do not retry), SmtpRejectedError or SmtpUnavailableError."""
        data = email_bytes(build_email(email, sender=self._config.sender))
        try:
            async with asyncio.timeout(self._config.send_timeout):
                await self._client.sendmail(self._config.from_address, [email.recipient], data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            raise SmtpRejectedError(refused.code, refused.message) from exc
        except _TRANSPORT_ERRORS as exc:
            raise _smtp_error(exc) from exc


class SmtpSender:
    """Sends outbox emails through the configured SMTP server."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._local_hostname = config.local_hostname or socket.gethostname()
        # certificate and host name always checked; built once (loading CAs takes a while)
        self._tls_context: ssl.SSLContext | None = None
        if config.tls is not TlsMode.NONE:
            self._tls_context = ssl.create_default_context(cafile=config.ca_file)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SmtpSession]:
        """Connect, secure and log in, yield the session, then QUIT. Raises
        SmtpUnavailableError or SmtpRejectedError if that fails."""
        client = self._client()
        try:
            async with asyncio.timeout(self.config.send_timeout):
                await client.connect()
        except _TRANSPORT_ERRORS as exc:
            client.close()
            raise _smtp_error(exc) from exc
        except BaseException:
            client.close()
            raise
        try:
            yield SmtpSession(client, self.config)
        finally:
            await self._quit(client)

    async def send(self, email: OutgoingEmail) -> None:
        """Send one email on a connection of its own."""
        async with self.session() as session:
            await session.send(email)

    def _client(self) -> aiosmtplib.SMTP:
        tls = self.config.tls
        return aiosmtplib.SMTP(
            hostname=self.config.host,
            port=self.config.port,
            username=self.config.username or None,
            password=self.config.password or None,
            local_hostname=self._local_hostname,
            timeout=self.config.timeout,
            use_tls=tls is TlsMode.IMPLICIT,
            # False, not None: None would try STARTTLS whenever offered
            start_tls=tls is TlsMode.STARTTLS,
            tls_context=self._tls_context,
        )

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        try:
            if client.is_connected:
                async with asyncio.timeout(self.config.timeout):
                    await client.quit()
        except _TRANSPORT_ERRORS:
            pass  # the emails are handed over already
        finally:
            client.close()


# what aiosmtplib and the network raise (TimeoutError and ssl.SSLError are
# OSErrors); anything else (cancellation, bugs) passes through unchanged
_TRANSPORT_ERRORS = (aiosmtplib.SMTPException, OSError)


def _smtp_error(exc: BaseException) -> SmtpRejectedError | SmtpUnavailableError:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # before the connection errors: a refused greeting is a ConnectError too
        return SmtpRejectedError(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SmtpRejectedError(None, str(exc))
    reason = str(exc) or type(exc).__name__
    return SmtpUnavailableError(f"SMTP unavailable: {reason}")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: where plain-text
    credentials or a catcher without TLS never leave the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
