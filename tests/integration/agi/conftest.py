"""Fixtures for the FastAGI path against a real Asterisk.

``agi_testbed`` (module scope) starts a testbed instance of its own whose
subscriber endpoints enter the ``clickphone-agi`` context (the dialplan
path), whose FastAGI calls go to the loopback port and secret of its settings
(rendered by the same ``asterisk_config`` as ``clickphone run``), and whose carrier
trunk is a pjsua2 phone on 127.0.0.2 (a loopback address of its own, so
that identifying the carrier by IP leaves the subscribers' 127.0.0.1 alone).

``plane`` (per test) is the control plane's side: a migrated SQLite
database, an ``Admission`` on it and the FastAGI server with the real
``admit`` and ``hangup`` routes on that port. After each ``admit``, the
route wrapper reads the channel's CP_* variables back from Asterisk through
the same AGI session, so a test sees what the channel really holds.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace

import pytest

from admission.service import Admission
from agi.admit import AdmitRoutes
from agi.server import AgiServer, AgiSession
from asterisk_conf.testbed import Testbed, TestbedError
from billing import ledger
from controlplane import migrate
from controlplane.asterisk_setup import asterisk_config
from controlplane.db import create_engine
from controlplane.settings import Settings
from provisioning import services as provisioning
from tests.fixtures.asterisk import PhoneEndpoint, phone_endpoint, testbed_settings
from tests.fixtures.ports import free_port
from tests.fixtures.sip_phone import SipPhone

CARRIER_ADDRESS = "127.0.0.2"
VARIABLES = ("CP_ADMIT", "CP_REASON", "CP_MAXSECONDS", "CP_RESERVATION", "CP_CLASS",
             "CP_SOUND", "CP_CAUSE", "CDR(userfield)", "CDR(cp_class)")


@dataclass
class AgiTestbed:
    testbed: Testbed
    settings: Settings
    endpoints: tuple[PhoneEndpoint, ...]
    agi_port: int
    carrier_port: int

    @property
    def sip_port(self) -> int:
        return self.settings.sip_port


def agi_endpoints() -> tuple[PhoneEndpoint, ...]:
    return tuple(
        phone_endpoint(f"agi{2001 + i}", secrets.token_urlsafe(12), f"AGI phone {2001 + i}", str(2001 + i),
                       f"agiacct{2001 + i}")
        for i in range(2)
    )


@pytest.fixture(scope="module")
def agi_testbed(tmp_path_factory, asterisk_root) -> AgiTestbed:
    agi_port, carrier_port = free_port(), free_port()
    settings = testbed_settings(tmp_path_factory.mktemp("agi-asterisk")).replace(
        carrier_host=f"{CARRIER_ADDRESS}:{carrier_port}", agi_port=agi_port)
    endpoints = agi_endpoints()
    instance = f"agi-{os.getpid()}"
    # the FastAGI port and secret come from the settings, as for `clickphone run`
    config = replace(asterisk_config(settings, endpoints, instance), endpoint_context="clickphone-agi")
    testbed = Testbed(root=settings.effective_asterisk_root.resolve(), instance=instance,
                      config=config, ari_password=settings.ari_password)
    try:
        testbed.start(timeout=120)
    except TestbedError as exc:
        testbed.stop()
        pytest.fail(f"cannot start the FastAGI testbed: {exc}")
    try:
        yield AgiTestbed(testbed, settings, endpoints, agi_port, carrier_port)
    finally:
        testbed.stop()
        testbed.remove_instance_folder()


@dataclass
class ControlPlaneSide:
    engine: object
    admission: Admission
    server: AgiServer | None = None
    seen: dict[str, dict[str, str | None]] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)

    async def start_agi(self, port: int, secret: str, admission: Admission | None = None) -> None:
        """(Re)start the FastAGI server on ``port`` with the real routes."""
        await self.stop_agi()
        routes = AdmitRoutes(admission or self.admission)

        async def admit(session: AgiSession) -> None:
            await routes.admit(session)
            self.seen[session.request.uniqueid] = {
                name: await session.get_variable(name) for name in VARIABLES
            }

        async def hangup(session: AgiSession) -> None:
            await routes.hangup(session)
            self.finished.append(session.request.uniqueid)

        self.server = AgiServer(routes={"admit": admit, "hangup": hangup}, secret=secret, header_timeout=1.0)
        await self.server.start("127.0.0.1", port)

    async def stop_agi(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


@pytest.fixture
async def plane(agi_testbed, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'agi.sqlite3'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    side = ControlPlaneSide(engine, Admission(engine, chunk_seconds=300, max_seconds=3600))
    await side.start_agi(agi_testbed.agi_port, agi_testbed.settings.agi_secret)
    try:
        yield side
    finally:
        await side.stop_agi()
        await engine.dispose()


async def account_for(engine, endpoint: PhoneEndpoint, balance_micro: int = 0, **terms) -> ledger.Account:
    """Provision ``endpoint``'s subscriber, endpoint row and billing account."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Ionescu", email="ana@example.com")
    await provisioning.add_endpoint(engine, subscriber_id=subscriber.id, username=endpoint.username,
                                    caller_id_number=endpoint.caller_id_number,
                                    password=endpoint.password, account_code=endpoint.account_code)
    account = await ledger.open_account(engine, code=endpoint.account_code, subscriber_id=subscriber.id, **terms)
    if balance_micro:
        await ledger.top_up(engine, account.id, balance_micro)
    return account


@pytest.fixture
async def carrier(agi_testbed, tmp_path):
    """The carrier trunk: an unregistered pjsua2 phone on 127.0.0.2."""
    phone = SipPhone(None, registrar_host="127.0.0.1", registrar_port=None,
                     log_path=tmp_path / "pjsua-carrier.log", bind=CARRIER_ADDRESS,
                     port=agi_testbed.carrier_port)
    await phone.start()
    # a local account (no registrar) so that pjsua2 answers INVITEs at all:
    # the fixture's phone creates one only when it places a call itself
    await phone._command("register")
    try:
        yield phone
    finally:
        await phone.close()
        phone.kill()
