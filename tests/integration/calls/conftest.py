"""Fixtures for the live-call tests: an Asterisk with a carrier trunk, a
carrier that answers, a fresh database per test."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from asterisk_conf.testbed import TestbedError
from controlplane import migrate
from controlplane.asterisk_setup import testbed_for
from controlplane.db import create_engine
from tests.fixtures.asterisk import RunningAsterisk, loopback_carrier, testbed_settings
from tests.fixtures.ports import free_port


@pytest.fixture(scope="package")
def call_asterisk(tmp_path_factory, asterisk_root) -> RunningAsterisk:
    """A testbed of its own whose carrier trunk points at 127.0.0.1:<port>
    (``settings.carrier_host``); its endpoints come from each test's database."""
    settings = testbed_settings(tmp_path_factory.mktemp("calls-asterisk"), carrier_port=free_port())
    testbed = testbed_for(settings, (), instance=f"calls-{os.getpid()}")
    testbed.config = replace(testbed.config, carrier=loopback_carrier(settings))
    try:
        testbed.start(timeout=120)
    except TestbedError as exc:
        testbed.stop()
        pytest.fail(f"cannot start the Asterisk testbed: {exc}")
    try:
        yield RunningAsterisk(testbed=testbed, settings=settings, endpoints=())
    finally:
        testbed.stop()
        testbed.remove_instance_folder()


@pytest.fixture
async def db(tmp_path):
    """A SQLite database migrated to head, for one test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.sqlite3'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def carrier(call_asterisk, sip_phone):
    """The carrier: a SIP phone without registration at the trunk's address."""
    port = int(call_asterisk.settings.carrier_host.rsplit(":", 1)[1])
    return await sip_phone(port=port)
