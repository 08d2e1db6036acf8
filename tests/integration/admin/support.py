"""Shared helpers of the admin tests."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from controlplane import admin
from notify.outbox import RetryPolicy, claim_due
from notify.tables import outbox

T0 = datetime(2025, 9, 1, 9, 0, tzinfo=timezone.utc)  # 12:00 in Bucharest
EUR = 1_000_000


async def new_subscriber(engine, code: str = "A1", **options) -> admin.NewSubscriber:
    return await admin.create_subscriber(
        engine, name="Ion Popescu", email=f"{code.lower()}@example.com", username=f"ep-{code}",
        caller_id_number="1001", account_code=code, **options,
    )


async def queued_emails(engine) -> list:
    """Every email waiting in the outbox (claimed, so each test's own)."""
    return [claim.email for claim in await claim_due(engine, limit=100, policy=RetryPolicy())]


async def outbox_count(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)))
