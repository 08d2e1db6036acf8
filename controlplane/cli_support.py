"""What every `clickphone` command group shares: settings that fail as a
Click error, running async work on the migrated database, and a change
audited under the ``cli`` actor in its own transaction (issue 13)."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from access.audit import CLI_ACTOR
from web.audited import Change, audited_change

from . import db, migrate
from .settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def settings_or_fail() -> Settings:
    """Return the settings; a bad one stops the command with its reason."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def run_on_database(work: Callable[[AsyncEngine, Settings], Awaitable[T]]) -> T:
    """Run ``work(engine, settings)`` on the database, migrated to head
    first; the engine is disposed of afterwards."""
    settings = settings_or_fail()

    async def main() -> T:
        url = settings.effective_database_url
        await migrate.upgrade(url)
        engine = db.create_engine(url)
        try:
            return await work(engine, settings)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run_audited(work: Callable[[AsyncConnection, Settings, Change], Awaitable[T]], *, action: str,
                resource: str, resource_id: str | int | None = None) -> T:
    """Run ``work(conn, settings, change)`` as one audited change by the CLI:
    the owners' services join ``conn``'s transaction, ``work`` says what
    changed on ``change`` (:meth:`web.audited.Change.fields`, its
    ``resource_id``), and the change commits with its audit entry (a refusal
    rolls both back). The running control plane's dispatcher sends the emails it queued."""
    async def audited(engine: AsyncEngine, settings: Settings) -> T:
        async with audited_change(engine, CLI_ACTOR, None, action=action, resource=resource,
                                  resource_id=resource_id) as change:
            return await work(change.conn, settings, change)
    return run_on_database(audited)
