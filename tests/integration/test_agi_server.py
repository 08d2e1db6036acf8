"""The FastAGI server on a real socket against connections Asterisk never
makes on purpose: garbage, header-less, half-sent and slow ones must be
closed without hanging or spinning, and must not stop the server serving
the next connection."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest

from agi.server import AgiServer, AgiSession
from tests.fixtures.loop_use import loop_cpu

SECRET = "test-agi-secret-0123456789"
HEADER_TIMEOUT_S = 0.5
# For the tests of what closes a connection before the header timeout: a
# timeout this far away cannot be what closed it.
FAR_HEADER_TIMEOUT_S = 60.0
# Loop CPU allowed over a test's wait: an idle server uses next to none; a
# session spinning on a closed socket would use all of it.
LOOP_CPU_LIMIT_S = 0.2
HEADER = (
    "agi_network: yes\n"
    f"agi_network_script: admit?mode=test&secret={SECRET}\n"
    f"agi_request: agi://127.0.0.1/admit?mode=test&secret={SECRET}\n"
    "agi_channel: PJSIP/test1001-00000001\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_arg_1: 0712345678\n"
    "agi_arg_2: second\n"
    "\n"
)


async def started_server(header_timeout: float) -> AgiServer:
    """An AGI server on a free port whose admit route records its sessions
    (in ``.seen``) and tries to inject a command through a variable."""
    seen: list[AgiSession] = []

    async def admit(session: AgiSession) -> None:
        seen.append(session)
        await session.set_variable("CP_REASON", 'evil"\r\nEXEC System rm')

    agi = AgiServer(routes={"admit": admit}, secret=SECRET, header_timeout=header_timeout)
    await agi.start("127.0.0.1", 0)
    agi.seen = seen
    return agi


@pytest.fixture
async def server():
    agi = await started_server(HEADER_TIMEOUT_S)
    try:
        yield agi
    finally:
        await agi.stop()


@pytest.fixture
async def patient_server():
    """A server whose header timeout is a minute away: a connection it closes
    within seconds was closed for what it sent, not by the timeout."""
    agi = await started_server(FAR_HEADER_TIMEOUT_S)
    try:
        yield agi
    finally:
        await agi.stop()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Return how long the server took to close the connection."""
    start = time.monotonic()
    async with asyncio.timeout(seconds):
        while await reader.read(1024):
            pass
    return time.monotonic() - start


async def test_header_less_connection_is_closed_after_the_header_timeout(server):
    """A connection that sends nothing is closed once the header timeout
    has passed, and waiting for it costs the event loop no CPU."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    with loop_cpu() as cpu:
        took = await closed_within(reader, 3)
    assert 0.4 <= took <= 2
    assert cpu.seconds < LOOP_CPU_LIMIT_S
    writer.close()


async def test_connection_closed_before_the_blank_line_is_closed_at_once_without_spinning(patient_server):
    """EOF before the header's blank line ends the session (the header
    timeout is a minute away), and the closed socket does not make the
    loop spin afterwards."""
    reader, writer = await asyncio.open_connection("127.0.0.1", patient_server.port)
    writer.write(b"agi_network: yes\nagi_request: agi://x/admit\n")
    writer.write_eof()
    with loop_cpu() as cpu:
        await closed_within(reader, 10)  # long before the header timeout: EOF ends it
        await asyncio.sleep(0.5)  # a spinning session would burn CPU here
    assert cpu.seconds < LOOP_CPU_LIMIT_S
    writer.close()


async def test_garbage_is_closed_at_once(patient_server):
    """An HTTP request is not an AGI header: closed for what it is, not
    after the (minute-long) header timeout."""
    reader, writer = await asyncio.open_connection("127.0.0.1", patient_server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await closed_within(reader, 10)
    writer.close()


async def test_oversized_header_line_is_closed(patient_server):
    """A 100 kB header line is closed for its size, not after the
    (minute-long) header timeout."""
    reader, writer = await asyncio.open_connection("127.0.0.1", patient_server.port)
    writer.write(b"agi_request: " + b"x" * 100_000 + b"\n")
    await closed_within(reader, 10)
    writer.close()


async def test_slow_sender_is_closed_after_the_header_timeout(server):
    """The header timeout bounds the whole header, not each line: a sender
    that keeps dribbling a line every 0.3 s (less than the timeout) is still
    closed once the timeout has passed, and its header is never routed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = HEADER.splitlines(keepends=True)[:-1]  # never the blank line that ends it

    async def dribble():
        for n in range(100):  # 30 s of lines: past any per-line timeout
            writer.write(lines[n % len(lines)].encode())
            await asyncio.sleep(0.3)

    dribbler = asyncio.create_task(dribble())
    took = await closed_within(reader, 3)
    dribbler.cancel()
    assert took >= 0.4  # the timeout closed it, not a line
    assert server.seen == []
    writer.close()


async def test_valid_header_is_routed_and_values_cannot_add_commands(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER.encode())
    command = await asyncio.wait_for(reader.readline(), 2)
    assert command == b'SET VARIABLE CP_REASON "evil\\"EXEC System rm"\n'
    writer.write(b"200 result=1\n")
    assert await closed_within(reader, 2) < 1
    request = server.seen[0].request
    assert request.script == "admit"
    assert request.params == {"mode": "test"}  # the secret is not handed on
    assert SECRET not in str(request.env)
    assert request.args == ["0712345678", "second"]
    assert request.channel == "PJSIP/test1001-00000001"
    writer.close()


async def test_server_keeps_serving_after_bad_connections(server):
    for payload in (b"\x00\xff garbage\n", b"agi_request: x\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(payload)
        writer.write_eof()
        await closed_within(reader, 3)
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER.encode())
    assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"SET VARIABLE")
    writer.write(b"200 result=1\n")
    writer.close()


async def test_unknown_script_is_closed(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER.replace("admit", "nosuch").encode())
    assert await closed_within(reader, 2) < 1
    writer.close()


async def test_connection_without_the_secret_is_refused_logged_and_closed(server, caplog):
    """Issue 10 defect 5: a local process that does not know the shared
    secret cannot `admit` calls as Asterisk; the refusal is logged with the
    peer's address and without what was presented."""
    for wrong in ("", "&secret=guess", f"&secret={SECRET[:-1]}", f"&secret={SECRET}x"):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADER.replace(f"&secret={SECRET}", wrong).encode())
        assert await closed_within(reader, 2) < 1  # closed without a command
        writer.close()
    assert server.seen == []
    refusals = [r for r in caplog.records if r.getMessage() == "AGI connection refused"]
    assert len(refusals) == 4 and all(r.peer.startswith("('127.0.0.1'") for r in refusals)
    assert not any("guess" in str(r.__dict__) or SECRET[:-1] in str(r.__dict__) for r in caplog.records)


async def test_connection_from_a_peer_not_allowed_is_refused_before_its_header(caplog):
    """Issue 10 defect 5: only configured peer addresses (loopback by
    default) may connect; here only 127.0.0.2 is allowed, and a connection
    from 127.0.0.1 presenting the right secret is closed unread."""
    seen = []

    async def admit(session: AgiSession) -> None:
        seen.append(session)

    agi = AgiServer(routes={"admit": admit}, secret=SECRET, header_timeout=FAR_HEADER_TIMEOUT_S,
                    allowed_peers=(ipaddress.ip_network("127.0.0.2/32"),))
    await agi.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
        await closed_within(reader, 10)  # at once, not after the (minute-long) header timeout
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", agi.port, local_addr=("127.0.0.2", 0))
        writer.write(HEADER.encode())
        assert (await asyncio.wait_for(reader.readline(), 2)) == b""  # admit sends nothing, then closes
        writer.close()
    finally:
        await agi.stop()
    assert len(seen) == 1
    assert [r.reason for r in caplog.records if r.getMessage() == "AGI connection refused"] == [
        "peer address not allowed"]
