"""A throwaway PostgreSQL server for a benchmark, from the test suite's helpers.

:func:`temporary_postgres` starts Debian's PostgreSQL (the highest version
installed) in a fresh temporary folder exactly as the ``postgres_server``
test fixture does (tests/fixtures/postgres.py: trust auth, fsync off, run as
the ``postgres`` user when root), yields the URL of an empty database on it,
and stops it (``pg_ctl stop -m immediate``) and removes its folder on the way
out. A server left by a killed benchmark is stopped by the next test run.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from tests.fixtures import postgres as fixture


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here."""


@contextmanager
def temporary_postgres(database: str = "bench") -> Iterator[str]:
    """Yield the SQLAlchemy URL of an empty ``database`` on a new temporary server."""
    bindir = fixture.postgres_bindir()
    if bindir is None:
        raise PostgresUnavailable(fixture.HOW_TO_INSTALL)
    server_dir = fixture._new_server_dir()
    try:
        try:
            fixture._init_cluster(bindir, server_dir)
            server = fixture._start_server(bindir, server_dir)
        except BaseException as exc:  # the helpers report with pytest.fail
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise PostgresUnavailable(str(exc)) from None
        asyncio.run(_create_database(server, database))
        yield server.url(database)
    finally:
        fixture._stop_server(bindir, server_dir)
        shutil.rmtree(server_dir, ignore_errors=True)


async def _create_database(server: fixture.PostgresServer, name: str) -> None:
    admin = await server.admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
