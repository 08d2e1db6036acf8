"""admission.decide with calls arriving together while other writers use
the database: every call gets a real answer (SQLite's single writer makes
the decisions wait their turn, never fail as "database is locked")."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from admission.policy import AccountPolicy
from admission.service import Admission, set_account_policy
from billing import ledger

from .test_decide import EUR, T0, call, subscriber_with_account


async def test_concurrent_decisions_beside_a_busy_writer_are_never_unavailable(engine):
    """400 decisions from 8 callers at once, while top-ups are written on
    the ordinary async connections: none is refused as ``unavailable``, and
    what is held stays within the credit (invariant 2)."""
    _, account = await subscriber_with_account(engine, balance=2 * EUR)
    await set_account_policy(engine, account.id, AccountPolicy(max_concurrent_calls=1000))
    admission = Admission(engine, chunk_seconds=60)
    calls = iter(range(400))
    answers = []

    async def caller() -> None:
        for _ in calls:
            answers.append(await admission.decide(call("0212345678"), now=T0))

    async def top_ups() -> None:
        for i in range(40):
            await ledger.top_up(engine, account.id, 10_000, now=T0 - timedelta(minutes=1), reference=f"t{i}")
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(caller() for _ in range(8)), top_ups())
    finally:
        admission.close()
    reasons = {a.reason.code for a in answers if a.reason is not None}
    assert "unavailable" not in reasons
    assert reasons <= {"insufficient_credit"}
    assert sum(a.allowed for a in answers) > 0
    assert await ledger.available_credit_micro(engine, account.id, now=T0) >= 0
