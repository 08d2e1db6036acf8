"""Fixtures for the live-call tests: an Asterisk with a carrier trunk, a
carrier that answers, a fresh database per test.

``db`` is a SQLite database, migrated to head. A test (or module) marked
``both_databases`` runs twice, on SQLite (``[sqlite]``) and on the suite's
PostgreSQL server (``[postgresql]``, with the ``postgres`` marker): the
call-control tests whose admission, grants and reservations take row locks
on PostgreSQL, where several control planes share one database.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import AsyncIterator

import pytest

from asterisk_conf.testbed import TestbedError
from controlplane import migrate
from controlplane.asterisk_setup import testbed_for
from controlplane.db import create_engine
from tests.fixtures.asterisk import RunningAsterisk, loopback_carrier, testbed_settings
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import scratch_database

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give the tests marked ``both_databases`` a run on each database."""
    if "db" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("database", [
            pytest.param(SQLITE, id=SQLITE),
            pytest.param(POSTGRESQL, id=POSTGRESQL, marks=pytest.mark.postgres),
        ], indirect=True)


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
async def database(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """The URL of an empty database of this test's own: SQLite unless the
    test is parametrised (see pytest_generate_tests)."""
    if getattr(request, "param", SQLITE) == SQLITE:
        yield f"sqlite+aiosqlite:///{tmp_path / 'calls.sqlite3'}"
        return
    async with scratch_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
async def db(database: str):
    """The test's database migrated to head, for one test."""
    await migrate.upgrade(database)
    engine = create_engine(database)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def carrier(call_asterisk, sip_phone):
    """The carrier: a SIP phone without registration at the trunk's address."""
    port = int(call_asterisk.settings.carrier_host.rsplit(":", 1)[1])
    return await sip_phone(port=port)
