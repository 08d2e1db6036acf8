"""What every `clickphone` command group shares: settings that fail as a
Click error, and running async work on the migrated database."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

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
