"""Shared helpers of the admin tests."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timezone
from typing import TypeVar

from sqlalchemy import func, select

from billing.numbering import default_numbering_plan

from controlplane.recipients import account_contact
from notify.notifier import Notifier
from notify.outbox import RetryPolicy, claim_due
from notify.render import Renderer
from notify.tables import outbox
from provisioning.numbers import add_did_as_written
from provisioning.records import Did
from web import admin_operations
from web.admin_input import refusals

T = TypeVar("T")

T0 = datetime(2025, 9, 1, 9, 0, tzinfo=timezone.utc)  # 12:00 in Bucharest
EUR = 1_000_000


def account_emails(renderer: Renderer | None = None) -> admin_operations.AccountEmails:
    """Admin emails as the CLI sends them: queued, with the composition's recipient lookup."""
    return admin_operations.AccountEmails(Notifier(renderer or Renderer()), account_contact)


async def new_subscriber(engine, code: str = "A1", **options) -> admin_operations.NewSubscriber:
    """Create subscriber ``code`` (endpoint ep-<code>, account <code>) as the admin surfaces do."""
    return await admin_operations.create_subscriber(
        engine, name="Ion Popescu", email=f"{code.lower()}@example.com", username=f"ep-{code}",
        caller_id_number="1001", account_code=code, **options,
    )


async def queued_emails(engine) -> list:
    """Every email waiting in the outbox (claimed, so each test's own)."""
    return [claim.email for claim in await claim_due(engine, limit=100, policy=RetryPolicy())]


async def outbox_count(engine) -> int:
    """How many emails the outbox holds, sent or not."""
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)))


async def as_admin(operation: Awaitable[T]) -> T:
    """Await ``operation`` as the admin API and the CLI do: the owning
    packages' refusals become AdminErrors (web.admin_input.refusals)."""
    with refusals():
        return await operation


def add_did(engine, *, number: str, subscriber_id: int, **options) -> Awaitable[Did]:
    """Provisioning's DID from a number as a person writes it, under the shipped numbering plan."""
    return add_did_as_written(engine, number=number, subscriber_id=subscriber_id, plan=default_numbering_plan(),
                              **options)
