"""The ``admit`` and ``hangup`` FastAGI routes on a real socket, with the
test as Asterisk's side of the protocol (so it can send what a real
Asterisk would not: no header at all, hostile header values), on SQLite and
PostgreSQL. The real-Asterisk behaviour is in test_admit_dialplan.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from admission.policy import AccountPolicy, parse_networks
from admission.service import Admission, CallRequest, set_account_policy
from agi.admit import AdmitRoutes, address_without_port, decision_variables
from agi.server import AgiServer
from billing import ledger
from provisioning import services as provisioning
from tests.fixtures.loop_use import loop_cpu

EUR = 1_000_000
SECRET = "route-test-agi-secret"


def header(uniqueid: str = "1756717200.7", extension: str = "0712345678", *args: str) -> bytes:
    lines = ["agi_network: yes", f"agi_network_script: admit?secret={SECRET}",
             f"agi_request: agi://127.0.0.1/admit?secret={SECRET}",
             "agi_channel: PJSIP/ep-A1-00000007", f"agi_uniqueid: {uniqueid}", "agi_type: PJSIP",
             f"agi_extension: {extension}"]
    lines += [f"agi_arg_{i}: {arg}" for i, arg in enumerate(args, 1)]
    return ("\n".join(lines) + "\n\n").encode()


class FakeChannel:
    """Asterisk's end of one AGI conversation: answers GET VARIABLE from
    ``variables``, records every command."""

    def __init__(self, variables: dict[str, str]) -> None:
        self.variables = variables
        self.commands: list[bytes] = []
        self.set: dict[str, str] = {}

    async def converse(self, port: int, head: bytes) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head)
        try:
            async with asyncio.timeout(5):
                while line := await reader.readline():
                    self.commands.append(line)
                    text = line.decode().rstrip("\n")
                    if text.startswith("GET VARIABLE "):
                        name = text.removeprefix("GET VARIABLE ").strip('"')
                        value = self.variables.get(name)
                        writer.write(b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode())
                    elif text.startswith("SET VARIABLE "):
                        name, _, value = text.removeprefix("SET VARIABLE ").partition(" ")
                        self.set[name] = value
                        writer.write(b"200 result=1\n")
                    else:
                        writer.write(b"510 Invalid or unknown command\n")
        finally:
            writer.close()


@pytest.fixture
async def agi(engine):
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    decisions = []

    async def remember(decision):
        decisions.append(decision)

    server = AgiServer(routes=AdmitRoutes(admission, on_decision=remember).routes(), secret=SECRET,
                       header_timeout=0.5)
    await server.start("127.0.0.1", 0)
    server.admission, server.decisions = admission, decisions
    try:
        yield server
    finally:
        await server.stop()


async def funded_endpoint(engine, balance=5 * EUR):
    subscriber = await provisioning.create_subscriber(engine, name="Ion", email="ion@example.com")
    await provisioning.add_endpoint(engine, subscriber_id=subscriber.id, username="ep-A1",
                                    caller_id_number="1001", account_code="A1")
    account = await ledger.open_account(engine, code="A1", subscriber_id=subscriber.id)
    if balance:
        await ledger.top_up(engine, account.id, balance)
    return account


PJSIP_CHANNEL = {"CHANNEL(endpoint)": "ep-A1", "CHANNEL(pjsip,remote_addr)": "192.0.2.10:5062"}


async def test_admit_reads_the_channel_and_sets_the_decision_quoted(engine, agi):
    await funded_endpoint(engine)
    channel = FakeChannel(PJSIP_CHANNEL)
    await channel.converse(agi.port, header())
    (decision,) = agi.decisions
    assert decision.allowed and decision.max_seconds == 300
    assert channel.set["CP_ADMIT"] == '"yes"' and channel.set["CP_MAXSECONDS"] == '"300"'
    assert channel.set["CP_RESERVATION"] == f'"{decision.reservation_id}"'
    # the userfield of an allowed, charged call: "allowed;max=<seconds>;reservation=<id>"
    assert channel.set["CDR(userfield)"] == f'"allowed;max=300;reservation={decision.reservation_id}"'
    assert list(channel.set) == list(decision_variables(decision))
    assert await agi.admission.live_call_refs() == ["1756717200.7"]


async def test_admit_uses_the_packets_source_address_for_the_allowlist(engine, agi):
    account = await funded_endpoint(engine)
    await set_account_policy(engine, account.id, AccountPolicy(allowed_networks=parse_networks("2001:db8::/64")))
    channel = FakeChannel({"CHANNEL(endpoint)": "ep-A1", "CHANNEL(pjsip,remote_addr)": "[2001:db8::5]:5060"})
    await channel.converse(agi.port, header())
    assert agi.decisions[0].allowed
    channel.variables = PJSIP_CHANNEL  # the same endpoint, now from 192.0.2.10
    await channel.converse(agi.port, header("1756717200.9"))
    assert agi.decisions[-1].reason.code == "source_not_allowed"


async def test_the_dialled_argument_wins_over_the_raw_extension(engine, agi):
    await funded_endpoint(engine)
    channel = FakeChannel(PJSIP_CHANNEL)
    await channel.converse(agi.port, header("1756717200.7", "0900123456&PJSIP/x", "0900123456"))
    assert agi.decisions[0].reason.code == "premium_not_enabled"
    assert agi.decisions[0].destination.dialled == "0900123456"


async def test_hostile_values_cannot_add_agi_commands(engine, agi):
    """Invariant 7: a dialled string with quotes and backslashes is one
    quoted argument; every command is one line the server chose."""
    await funded_endpoint(engine)
    channel = FakeChannel(PJSIP_CHANNEL)
    await channel.converse(agi.port, header("1756717200.7", '0712"\\ EXEC Dial', '0712"\\ EXEC Dial'))
    assert all(line.startswith((b"GET VARIABLE ", b"SET VARIABLE ")) for line in channel.commands)
    assert agi.decisions[0].reason.code == "invalid_number"


async def test_a_channel_without_an_endpoint_is_refused_unless_it_dials_112(engine, agi):
    channel = FakeChannel({})
    await channel.converse(agi.port, header("1756717200.1", "0712345678"))
    await channel.converse(agi.port, header("1756717200.2", "112"))
    refused, emergency = agi.decisions
    assert refused.reason.code == "unknown_endpoint"
    assert emergency.allowed and emergency.free  # invariant 3


async def test_a_local_channel_may_name_its_endpoint_in_cp_endpoint(engine, agi):
    await funded_endpoint(engine)
    channel = FakeChannel({"CP_ENDPOINT": "ep-A1", "CP_SOURCE": "192.0.2.10"})
    await channel.converse(agi.port, header())
    assert agi.decisions[0].allowed and agi.decisions[0].account_code == "A1"


async def test_hangup_forgets_the_live_call(engine, agi):
    await funded_endpoint(engine)
    await FakeChannel(PJSIP_CHANNEL).converse(agi.port, header("1756717200.7"))
    assert await agi.admission.live_call_refs() == ["1756717200.7"]
    await FakeChannel({}).converse(agi.port, header("1756717200.7").replace(b"admit", b"hangup"))
    assert await agi.admission.live_call_refs() == []


async def test_header_less_connection_to_the_admit_server_is_closed_without_spinning(engine, agi):
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
    start = time.monotonic()
    with loop_cpu() as cpu:  # the loop's own CPU: the database driver's thread is not the server
        async with asyncio.timeout(3):
            while await reader.read(1024):
                pass
    assert 0.4 <= time.monotonic() - start <= 2
    assert cpu.seconds < 0.2
    writer.close()
    assert agi.decisions == [] and await agi.admission.live_call_refs() == []


def test_address_without_port():
    assert address_without_port("192.0.2.1:5060") == "192.0.2.1"
    assert address_without_port("[2001:db8::1]:5061") == "2001:db8::1"
    assert address_without_port("2001:db8::1") == "2001:db8::1"
    assert address_without_port("") == ""


async def test_decision_variables_of_a_refusal(engine):
    decision = await Admission(engine).decide(CallRequest("r1", "nobody", "192.0.2.1", "0712345678"))
    assert decision_variables(decision) == {
        "CP_ADMIT": "no", "CP_REASON": "unknown_endpoint", "CP_MAXSECONDS": "0", "CP_RESERVATION": "",
        "CP_CLASS": "ro_mobile", "CP_SOUND": "ss-noservice", "CP_CAUSE": "21",
        "CDR(userfield)": "refused;reason=unknown_endpoint", "CDR(cp_class)": "ro_mobile",
    }
