"""The account page's figures (web.admin_operations.account_summary, read
by /api/v1/accounts/{id}, /admin/accounts/{id} and the console) on a
realistic account, on SQLite and PostgreSQL: balance, what live
reservations hold, available credit, today's usage and live calls, each
equal to what the owners' own one-figure readings say (invariant 1: money
exact)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from admission.service import Admission, CallRequest
from billing import ledger, reservations
from billing.accounts import POSTPAID
from billing.errors import UnknownAccountError
from billing.tables import RECURRING_FEE, SMS_CHARGE
from web import admin_operations as operations

from .support import EUR, new_subscriber

NOW = datetime(2025, 9, 2, 9, 0, tzinfo=timezone.utc)  # 12:00 in Bucharest
TODAY_STARTS = datetime(2025, 9, 1, 21, 0, tzinfo=timezone.utc)  # midnight in Bucharest (UTC+3)
CHUNK_HELD = 125_000  # what a decided mobile call's first 5-minute chunk holds (default tariff)


async def _busy_account(engine, code: str) -> int:
    """A postpaid account with a month's worth of entries and reservations
    live, expired and released; its id."""
    created = await new_subscriber(engine, code=code, kind=POSTPAID, credit_limit_micro=50 * EUR,
                                   daily_limit_micro=20 * EUR)
    account_id = created.account.id
    await ledger.add_payment(engine, account_id, 100 * EUR, now=NOW - timedelta(days=20))
    async with engine.begin() as conn:  # 300 calls over the month before today
        for n in range(300):
            await ledger.charge(conn, account_id, 1_001, now=NOW - timedelta(days=1, minutes=n * 90))
    # both sides of midnight in Bucharest: yesterday's last minute, today's first
    await ledger.charge(engine, account_id, 700_000, now=TODAY_STARTS - timedelta(minutes=1))
    await ledger.charge(engine, account_id, 400_000, now=TODAY_STARTS)
    await ledger.charge(engine, account_id, 1_500_000, now=NOW - timedelta(hours=1))
    await ledger.charge(engine, account_id, 250_000, kind=SMS_CHARGE, now=NOW - timedelta(minutes=30))
    await ledger.charge(engine, account_id, 10 * EUR, kind=RECURRING_FEE, now=NOW - timedelta(minutes=20))  # not usage
    await ledger.add_adjustment(engine, account_id, -3 * EUR, now=NOW - timedelta(minutes=10))  # not usage
    await ledger.add_payment(engine, account_id, 20 * EUR, now=NOW - timedelta(minutes=5))
    held = await reservations.reserve(engine, account_id, 2 * EUR, ttl=timedelta(hours=1), reference="r-live",
                                      now=NOW - timedelta(minutes=1))
    await reservations.reserve(engine, account_id, 1 * EUR, ttl=timedelta(hours=1), reference="r-expired",
                               now=NOW - timedelta(hours=2))  # still live, no longer holds
    released = await reservations.reserve(engine, account_id, 5 * EUR, ttl=timedelta(hours=1), reference="r-gone",
                                          now=NOW - timedelta(minutes=2))
    await reservations.release(engine, released.id, now=NOW - timedelta(minutes=1))
    assert held.amount_micro == 2 * EUR
    return account_id


async def _calls(engine, live: dict[str, int]) -> None:
    """For each account code: one call whose grant ran out two hours ago, then ``live[code]`` live ones."""
    admission = Admission(engine)
    try:
        for code, count in live.items():
            calls = [(f"{code}-old", NOW - timedelta(hours=2))] + [(f"{code}-{n}", NOW) for n in range(count)]
            for ref, at in calls:
                decision = await admission.decide(CallRequest(ref, f"ep-{code}", "192.0.2.1", "0712345678"), now=at)
                assert decision.allowed, decision
    finally:
        admission.close()


async def test_account_summary_gives_the_owners_figures_on_a_busy_account(engine):
    """Balance, reserved, available, spent today and live calls of an account
    with ~300 entries, reservations live, expired and released, and calls
    live and expired: each is what billing's and admission's one-figure
    readings give, to the micro-euro; another busy account changes none."""
    account_id = await _busy_account(engine, "S1")
    other = await _busy_account(engine, "S2")  # its money and calls are its own, and differ
    await ledger.charge(engine, other, 333_333, kind=SMS_CHARGE, now=NOW - timedelta(minutes=3))
    await reservations.reserve(engine, other, 444_444, ttl=timedelta(hours=1), reference="r-other", now=NOW)
    await _calls(engine, {"S1": 2, "S2": 1})
    summary = await operations.account_summary(engine, account_id, now=NOW)

    balance = 100 * EUR - 300 * 1_001 - 700_000 - 400_000 - 1_500_000 - 250_000 - 10 * EUR - 3 * EUR + 20 * EUR
    reserved = 2 * EUR + 2 * CHUNK_HELD
    assert summary.balance_micro == balance == await ledger.balance_micro(engine, account_id)
    assert summary.reserved_micro == reserved == await ledger.reserved_micro(engine, account_id, NOW)
    assert summary.available_micro == balance + 50 * EUR - reserved
    assert summary.available_micro == await ledger.available_credit_micro(engine, account_id, NOW)
    assert summary.spent_today_micro == 400_000 + 1_500_000 + 250_000
    assert summary.spent_today_micro == await ledger.spent_today_micro(engine, account_id, NOW)
    admission = Admission(engine)
    try:
        assert summary.live_calls == 2 == len(await admission.live_call_refs(account_id, NOW))
    finally:
        admission.close()
    assert summary.account == await ledger.get_account(engine, account_id)
    assert summary.account.kind == POSTPAID and summary.account.daily_limit_micro == 20 * EUR


async def test_account_money_of_an_unknown_account_is_refused(engine):
    """No account, no figures: billing's UnknownAccountError, which the
    surfaces turn into a 404."""
    with pytest.raises(UnknownAccountError):
        await ledger.account_money(engine, 987_654, NOW)
