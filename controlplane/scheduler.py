"""The scheduler (APScheduler 3.11, asyncio) in the operator's time zone.
Periodic jobs (invoice run on the 1st, reservation sweeper, retention purge)
are registered here as their packages arrive."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .settings import Settings


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    """Return a scheduler (not started) in ``settings.timezone``."""
    return AsyncIOScheduler(timezone=settings.timezone)
