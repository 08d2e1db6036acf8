"""A small FastAGI server on asyncio.start_server.

Asterisk's ``AGI(agi://host:port/script?k=v,arg1,...)`` connects, sends its
``agi_*`` header ending with a blank line, then reads one reply line per
command we send. The server routes each connection by script name.

Written on asyncio rather than panoramisk because a connection closed before
the header's blank line must end the session, not loop: here EOF, a garbage
line, an oversized header or a slow sender each close the connection.

Only Asterisk may ask: a connection from an address outside
``allowed_peers`` is closed before anything is read, and one whose
``agi_request`` URL does not carry the shared secret
(``agi://host:port/admit?secret=<secret>``, compared in constant time) is
closed after its header. Both are logged with the peer's address, never the
secret; handlers see the request with the secret removed.

Bounds: a header line is at most 4,096 bytes, a header at most 128 lines,
and it must arrive within ``header_timeout`` (5 s).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Awaitable, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
MAX_LINE_BYTES = 4096
MAX_HEADER_LINES = 128
_HEADER_LINE = re.compile(r"(agi_[a-z0-9_]+): ?(.*)\Z")
SECRET_PARAM = "secret"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_REPLY = re.compile(r"(\d{3})(?: result=(-?\d+)(?: \((.*)\))?(?: (.*))?)?\Z")


class AgiError(Exception):
    """Base of this module's errors."""


class AgiHeaderError(AgiError):
    """The connection did not send a valid AGI header; it is closed."""


class AgiRefused(AgiError):
    """The connection is not Asterisk's: wrong peer address or secret."""


class AgiHangup(AgiError):
    """The channel hung up or the connection closed during a command."""


class AgiCommandError(AgiError):
    """Asterisk answered a command with an error code."""

    def __init__(self, code: int, text: str):
        super().__init__(f"AGI command failed: {code} {text}")
        self.code = code


@dataclass(frozen=True)
class AgiRequest:
    """The parsed header: script name, query parameters, arguments and the
    raw ``agi_*`` environment."""

    script: str
    params: dict[str, str]
    args: list[str]
    env: dict[str, str]

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: int
    data: str


def quote_argument(value: object) -> str:
    """Return ``value`` as one double-quoted AGI argument. CR and LF are
    removed: a newline would end the command and start another."""
    text = re.sub(r"[\r\n\x00]", "", str(value))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def read_header(reader: asyncio.StreamReader, timeout: float = HEADER_TIMEOUT_S) -> AgiRequest:
    """Read the ``agi_*`` header up to its blank line, or raise
    AgiHeaderError on EOF, garbage, size or time limits."""
    env: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_HEADER_LINES):
                raw = await reader.readline()
                if not raw.endswith(b"\n"):
                    raise AgiHeaderError("connection closed before the end of the header")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line == "":
                    return _request_from_env(env)
                match = _HEADER_LINE.match(line)
                if match is None:
                    raise AgiHeaderError(f"not an AGI header line: {line[:80]!r}")
                env[match.group(1)] = match.group(2)
    except TimeoutError as exc:
        raise AgiHeaderError(f"no complete header within {timeout:.0f} s") from exc
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise AgiHeaderError("header line too long") from exc
    raise AgiHeaderError("header too long")


def _request_from_env(env: dict[str, str]) -> AgiRequest:
    if "agi_request" not in env:
        raise AgiHeaderError("header has no agi_request")
    url = urlsplit(env["agi_request"])
    script = env.get("agi_network_script") or url.path.lstrip("/")
    script = script.split("?", 1)[0]
    args = [env[k] for k in sorted((k for k in env if k.startswith("agi_arg_")),
                                   key=lambda k: int(k.rsplit("_", 1)[1]) if k.rsplit("_", 1)[1].isdigit() else 0)]
    return AgiRequest(script=script, params=dict(parse_qsl(url.query)), args=args, env=env)


@dataclass
class AgiSession:
    """One AGI conversation: send commands, read replies."""

    request: AgiRequest
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    command_timeout: float = COMMAND_TIMEOUT_S

    async def command(self, text: str) -> AgiReply:
        """Send one AGI command and return its parsed reply."""
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        self.writer.write(text.encode() + b"\n")
        try:
            async with asyncio.timeout(self.command_timeout):
                await self.writer.drain()
                line = await self._reply_line()
        except (ConnectionError, TimeoutError) as exc:
            raise AgiHangup(f"no reply to {text.split()[0]}") from exc
        return self._parse(line)

    async def _reply_line(self) -> str:
        while True:
            raw = await self.reader.readline()
            if not raw.endswith(b"\n"):
                raise AgiHangup("connection closed")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line == "HANGUP":  # sent when the channel hangs up (agi_network)
                raise AgiHangup("channel hung up")
            if line.startswith("520-"):  # multi-line usage text: read to its end
                while not line.startswith("520 "):
                    line = (await self.reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
                raise AgiCommandError(520, "invalid command syntax")
            return line

    @staticmethod
    def _parse(line: str) -> AgiReply:
        match = _REPLY.match(line)
        if match is None:
            raise AgiCommandError(0, f"unparseable reply {line[:80]!r}")
        code = int(match.group(1))
        if code != 200:
            raise AgiCommandError(code, line)
        return AgiReply(code=code, result=int(match.group(2) or 0), data=match.group(3) or match.group(4) or "")

    async def set_variable(self, name: str, value: object) -> None:
        """Set a channel variable (name must be a plain identifier)."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_()]*", name):
            raise ValueError(f"bad variable name {name!r}")
        await self.command(f"SET VARIABLE {name} {quote_argument(value)}")

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command(f"GET VARIABLE {quote_argument(name)}")
        return reply.data if reply.result == 1 else None


Handler = Callable[[AgiSession], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_allowed(peer: object, allowed: Iterable[Network]) -> bool:
    """True when the socket peer ``(host, port, ...)`` is in one of ``allowed``
    (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def authenticated(request: AgiRequest, secret: str) -> AgiRequest:
    """Return ``request`` without its secret if it carries ``secret``, else
    raise AgiRefused."""
    presented = request.params.get(SECRET_PARAM, "")
    if not hmac.compare_digest(presented.encode(), secret.encode()):
        raise AgiRefused("missing or wrong secret" if presented else "no secret in the AGI URL")
    params = {k: v for k, v in request.params.items() if k != SECRET_PARAM}
    env = {**request.env, "agi_request": _without_query(request.env.get("agi_request", ""))}
    if "agi_network_script" in env:
        env["agi_network_script"] = _without_query(env["agi_network_script"])
    return replace(request, params=params, env=env)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


@dataclass
class AgiServer:
    """Routes each FastAGI connection from an allowed peer that presents
    ``secret`` to the handler named by its script."""

    routes: Mapping[str, Handler]
    secret: str
    allowed_peers: tuple[Network, ...] = LOOPBACK
    header_timeout: float = HEADER_TIMEOUT_S
    _server: asyncio.Server | None = None
    _sessions: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the FastAGI server needs a shared secret")

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_LINE_BYTES)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._sessions):
                task.cancel()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        peer = writer.get_extra_info("peername")
        try:
            if not peer_allowed(peer, self.allowed_peers):
                raise AgiRefused("peer address not allowed")
            request = authenticated(await read_header(reader, self.header_timeout), self.secret)
            handler = self.routes.get(request.script)
            if handler is None:
                log.warning("unknown AGI script", extra={"script": request.script, "peer": str(peer)})
                return
            await handler(AgiSession(request, reader, writer))
        except (AgiHeaderError, AgiRefused) as exc:
            log.warning("AGI connection refused", extra={"reason": str(exc), "peer": str(peer)})
        except AgiError as exc:
            log.info("AGI session ended", extra={"reason": str(exc), "peer": str(peer)})
        except Exception:
            log.exception("AGI handler failed", extra={"peer": str(peer)})
        finally:
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
