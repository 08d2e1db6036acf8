"""admission.decide: who, from where, where to, how many, how long — on
SQLite and PostgreSQL.

Invariant 2 (no overspend) and invariant 3 (112, 116xxx and 0800 always
connected and free)."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from admission.policy import AccountPolicy
from admission.service import Admission, CallRequest, set_account_policy
from billing import ledger, reservations
from billing.accounts import SUSPENDED
from billing.rating import cost_micro
from billing.tariff_store import load_tariff
from provisioning import services as provisioning

T0 = datetime(2025, 9, 1, 9, 0, tzinfo=timezone.utc)  # 12:00 in Bucharest
EUR = 1_000_000
PHONE_ADDRESS = "192.0.2.10"
_refs = itertools.count(1)


async def subscriber_with_account(engine: AsyncEngine, code: str = "A1", balance: int = 0, **terms):
    subscriber = await provisioning.create_subscriber(engine, name="Ion Popescu", email="ion@example.com")
    await provisioning.add_endpoint(engine, subscriber_id=subscriber.id, username=f"ep-{code}",
                                    caller_id_number="1001", account_code=code)
    account = await ledger.open_account(engine, code=code, subscriber_id=subscriber.id, **terms)
    if balance:
        await ledger.top_up(engine, account.id, balance, now=T0 - timedelta(days=1))
    return subscriber, account


def call(dialled: str, endpoint: str = "ep-A1", source: str = PHONE_ADDRESS) -> CallRequest:
    return CallRequest(call_ref=f"1756717200.{next(_refs)}", endpoint=endpoint, source_address=source,
                       dialled=dialled)


@pytest.fixture
async def admission(engine) -> Admission:
    return Admission(engine, chunk_seconds=300, max_seconds=3600)


async def test_zero_balance_call_to_a_mobile_is_refused_for_credit(engine, admission):
    await subscriber_with_account(engine)
    decision = await admission.decide(call("0712345678"), now=T0)
    assert not decision.allowed and decision.reason.code == "insufficient_credit"


@pytest.mark.parametrize("number,number_class", [("112", "emergency"), ("0800123456", "toll_free"),
                                                 ("116111", "social")])
async def test_always_free_numbers_connect_at_zero_balance(engine, admission, number, number_class):
    await subscriber_with_account(engine)
    decision = await admission.decide(call(number), now=T0)
    assert decision.allowed and decision.free and decision.number_class == number_class
    assert decision.reservation_id is None and decision.max_seconds == 3600


@pytest.mark.parametrize("number", ["112", "0800123456", "116111"])
async def test_always_free_numbers_connect_while_suspended_over_the_daily_limit_and_from_anywhere(
    engine, admission, number
):
    _, account = await subscriber_with_account(engine, daily_limit_micro=1)
    await ledger.set_account_status(engine, account.id, SUSPENDED)
    await set_account_policy(engine, account.id, AccountPolicy(
        allowed_networks=(ipaddress.ip_network("10.9.9.0/24"),), max_concurrent_calls=0))
    decision = await admission.decide(call(number), now=T0)
    assert decision.allowed
    assert decision.free and decision.reservation_id is None
    assert await reservations.live_reservations(engine, account.id) == []


async def _suspended(engine: AsyncEngine, admission: Admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await ledger.set_account_status(engine, account.id, SUSPENDED)
    return account, call("0212345678")


async def _daily_limit_spent(engine: AsyncEngine, admission: Admission):
    # a live paid call holds the whole daily limit (0.05 EUR: two minutes on a mobile)
    _, account = await subscriber_with_account(engine, balance=5 * EUR, daily_limit_micro=50_000)
    assert (await admission.decide(call("0712345678"), now=T0)).max_seconds == 120
    return account, call("0712345678")


async def _outside_the_allowlist(engine: AsyncEngine, admission: Admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await set_account_policy(engine, account.id,
                             AccountPolicy(allowed_networks=(ipaddress.ip_network("10.9.9.0/24"),)))
    return account, call("0212345678")


@pytest.mark.parametrize("number", ["112", "0800123456", "116111"])
@pytest.mark.parametrize("refusal,condition", [
    pytest.param("account_suspended", _suspended, id="suspended"),
    pytest.param("daily_limit_reached", _daily_limit_spent, id="daily_limit_spent"),
    pytest.param("source_not_allowed", _outside_the_allowlist, id="outside_the_allowlist"),
])
async def test_always_free_numbers_are_free_and_reserve_nothing_where_paid_calls_are_refused(
    engine, admission, number, refusal, condition
):
    """Invariant 3: 112, 116xxx and 0800 are always connected and free.
    With the account suspended, its daily limit spent, or the call coming
    from outside its allowlist (a paid call refused for that reason), the
    free number is allowed as a free call: no reservation (none added to
    the account's live ones), the available credit untouched, and the
    account's tariff prices its class at zero (an hour costs nothing)."""
    account, paid = await condition(engine, admission)
    assert (await admission.decide(paid, now=T0)).reason.code == refusal
    held_before = await reservations.live_reservations(engine, account.id)
    credit_before = await ledger.available_credit_micro(engine, account.id, now=T0)

    decision = await admission.decide(call(number, source=paid.source_address), now=T0)

    assert decision.allowed and decision.free and decision.reservation_id is None
    assert await reservations.live_reservations(engine, account.id) == held_before
    assert await ledger.available_credit_micro(engine, account.id, now=T0) == credit_before
    rate = (await load_tariff(engine, account.tariff)).versions[0].voice_rate(decision.destination)
    assert cost_micro(rate, 3600) == 0


@pytest.mark.parametrize("number,allowed", [("112", True), ("0800123456", True), ("116111", True),
                                             ("0712345678", False)])
async def test_a_defect_in_the_decision_still_connects_free_numbers_and_refuses_paid_ones(
        engine, admission, monkeypatch, number, allowed):
    """An error no database raises (a defect, injected into the decision's
    transaction) does not escape ``decide`` to crash the call's flow:
    112, 0800 and 116xxx still connect, free (invariant 3); a paid call is
    refused as ``unavailable``."""
    await subscriber_with_account(engine, balance=10 * EUR)

    def defect(conn, *, terms):
        raise RuntimeError("a defect in the decision")

    monkeypatch.setattr("admission.service.decide_in", defect)
    decision = await admission.decide(call(number), now=T0)
    if allowed:
        assert decision.allowed and decision.free and decision.reservation_id is None
    else:
        assert not decision.allowed and decision.reason.code == "unavailable"


async def test_emergency_connects_even_from_an_endpoint_without_an_account(engine, admission):
    assert (await admission.decide(call("112", endpoint="nobody"), now=T0)).allowed
    refused = await admission.decide(call("0212345678", endpoint="nobody"), now=T0)
    assert refused.reason.code == "unknown_endpoint"


async def test_suspended_account_may_not_call_a_paid_number(engine, admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await ledger.set_account_status(engine, account.id, SUSPENDED)
    decision = await admission.decide(call("0212345678"), now=T0)
    assert decision.reason.code == "account_suspended"


async def test_premium_is_refused_unless_the_account_enables_it(engine, admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    assert (await admission.decide(call("0900123456"), now=T0)).reason.code == "premium_not_enabled"
    await set_account_policy(engine, account.id, AccountPolicy(premium_enabled=True))
    # enabled, but the Annex B plan prices no premium number: still refused, for lack of a rate
    assert (await admission.decide(call("0900123456"), now=T0)).reason.code == "no_rate"


async def test_call_from_outside_the_allowlist_is_refused(engine, admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await set_account_policy(engine, account.id,
                             AccountPolicy(allowed_networks=(ipaddress.ip_network("192.0.2.0/28"),)))
    assert (await admission.decide(call("0212345678", source="192.0.2.10"), now=T0)).allowed
    refused = await admission.decide(call("0212345678", source="198.51.100.7"), now=T0)
    assert refused.reason.code == "source_not_allowed"


async def test_blocked_prefix_and_international_switch(engine, admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await set_account_policy(engine, account.id,
                             AccountPolicy(blocked_prefixes=("4021",), international_enabled=False))
    assert (await admission.decide(call("0212345678"), now=T0)).reason.code == "blocked_prefix"
    assert (await admission.decide(call("0049301234567"), now=T0)).reason.code == "international_not_enabled"
    assert (await admission.decide(call("0312345678"), now=T0)).allowed


async def test_concurrent_call_limit_holds_until_a_call_finishes(engine, admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await set_account_policy(engine, account.id, AccountPolicy(max_concurrent_calls=2))
    first, second = [await admission.decide(call("0212345678"), now=T0) for _ in range(2)]
    assert first.allowed and second.allowed
    third = await admission.decide(call("0212345678"), now=T0)
    assert third.reason.code == "too_many_calls"
    await admission.finish(first.call_ref)
    assert (await admission.decide(call("0212345678"), now=T0)).allowed


async def test_on_net_call_is_free_and_needs_no_credit(engine, admission):
    subscriber, _ = await subscriber_with_account(engine)
    await provisioning.add_did(engine, number="40312345678", subscriber_id=subscriber.id)
    decision = await admission.decide(call("0312345678"), now=T0)
    assert decision.allowed and decision.free and decision.number_class == "on_net"


async def test_first_grant_is_one_chunk_and_reserves_its_cost(engine, admission):
    """1 EUR at 0.025 EUR/min pays 40 minutes; the first chunk is 5 minutes,
    reserved at 5 × 0.025 = 0.125 EUR."""
    _, account = await subscriber_with_account(engine, balance=1 * EUR)
    decision = await admission.decide(call("0712345678"), now=T0)
    assert decision.max_seconds == 300
    held = await reservations.get_reservation(engine, decision.reservation_id)
    assert held.amount_micro == 125_000 and held.call_reference == decision.call_ref
    assert await ledger.available_credit_micro(engine, account.id, now=T0) == 875_000


async def test_grant_stops_at_what_the_credit_pays_under_the_first_minute_rule(engine, admission):
    """0.10 EUR at 0.025 EUR/min: 4 minutes; 0.02 EUR does not pay the first minute."""
    await subscriber_with_account(engine, balance=100_000)
    assert (await admission.decide(call("0712345678"), now=T0)).max_seconds == 240


async def test_less_than_the_first_block_is_refused(engine, admission):
    await subscriber_with_account(engine, balance=20_000)
    assert (await admission.decide(call("0712345678"), now=T0)).reason.code == "insufficient_credit"


async def test_extend_reserves_chunk_after_chunk_until_the_credit_ends(engine, admission):
    _, account = await subscriber_with_account(engine, balance=300_000)  # 12 minutes on mobile
    decision = await admission.decide(call("0712345678"), now=T0)
    grants = [decision.max_seconds]
    for minutes in (4, 9, 11):
        grants.append(await admission.extend(decision.call_ref, now=T0 + timedelta(minutes=minutes)))
    assert [g if isinstance(g, int) else g.seconds for g in grants] == [300, 600, 720, 720]
    assert grants[-1].limited_by == "insufficient_credit"
    assert await ledger.available_credit_micro(engine, account.id, now=T0 + timedelta(minutes=11)) == 0


async def test_granted_reports_what_a_live_call_holds_and_reserves_nothing(engine, admission):
    """What a restarted control plane re-arms an adopted call from: the
    seconds already granted, with the credit left untouched."""
    _, account = await subscriber_with_account(engine, balance=1 * EUR)
    decision = await admission.decide(call("0712345678"), now=T0)
    later = T0 + timedelta(minutes=1)
    credit = await ledger.available_credit_micro(engine, account.id, now=later)
    grant = await admission.granted(decision.call_ref)
    assert (grant.seconds, grant.limited_by) == (300, None)
    assert await ledger.available_credit_micro(engine, account.id, now=later) == credit == 875_000
    assert (await admission.extend(decision.call_ref, now=later)).seconds == 600
    assert (await admission.granted(decision.call_ref)).seconds == 600
    await admission.finish(decision.call_ref)
    assert (await admission.granted(decision.call_ref)).seconds == 0


async def test_daily_limit_bounds_the_grant_and_then_refuses(engine, admission):
    """Daily limit 0.05 EUR: two minutes on a mobile, then nothing more today."""
    await subscriber_with_account(engine, balance=5 * EUR, daily_limit_micro=50_000)
    decision = await admission.decide(call("0712345678"), now=T0)
    assert decision.max_seconds == 120
    refused = await admission.decide(call("0712345678"), now=T0)
    assert refused.reason.code == "daily_limit_reached"
    grant = await admission.extend(decision.call_ref, now=T0 + timedelta(minutes=1))
    assert (grant.seconds, grant.limited_by) == (120, "daily_limit_reached")


async def test_suspension_stops_extensions(engine, admission):
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    decision = await admission.decide(call("0212345678"), now=T0)
    await ledger.set_account_status(engine, account.id, SUSPENDED)
    grant = await admission.extend(decision.call_ref, now=T0 + timedelta(minutes=4))
    assert (grant.seconds, grant.limited_by) == (300, "account_suspended")


async def test_competing_calls_never_reserve_more_than_the_credit(engine):
    """Twenty calls at once against 0.30 EUR on a mobile: two full chunks
    (0.125 EUR each) and one of two minutes (0.05 EUR), then nothing."""
    _, account = await subscriber_with_account(engine, balance=300_000)
    await set_account_policy(engine, account.id, AccountPolicy(max_concurrent_calls=50))
    admissions = [Admission(engine, chunk_seconds=300) for _ in range(4)]
    decisions = await asyncio.gather(*(
        admissions[i % 4].decide(call("0712345678"), now=T0) for i in range(20)
    ))
    held = sum(r.amount_micro for r in await reservations.live_reservations(engine, account.id))
    assert held == 300_000
    assert sorted(d.max_seconds for d in decisions if d.allowed) == [120, 300, 300]
    assert await ledger.available_credit_micro(engine, account.id, now=T0) >= 0


async def test_finished_call_leaves_the_live_list(engine, admission):
    await subscriber_with_account(engine, balance=5 * EUR)
    decision = await admission.decide(call("0212345678"), now=T0)
    assert await admission.live_call_refs(now=T0) == [decision.call_ref]
    await admission.finish(decision.call_ref)
    assert await admission.live_call_refs(now=T0) == []


async def test_unfinished_calls_stop_counting_after_their_grant_and_margin(engine, admission):
    """Issue 10 defect 5: two admits whose hangup never came no longer
    refuse the account with too_many_calls once their grant plus the settle
    grace has passed (and are then forgotten)."""
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await set_account_policy(engine, account.id, AccountPolicy(max_concurrent_calls=2))
    lost = [await admission.decide(call("0212345678"), now=T0) for _ in range(2)]
    assert all(d.allowed for d in lost)
    expiry = T0 + timedelta(seconds=max(d.max_seconds for d in lost)) + admission.settle_grace
    still = await admission.decide(call("0212345678"), now=expiry - timedelta(seconds=1))
    assert still.reason.code == "too_many_calls"
    assert (await admission.decide(call("0212345678"), now=expiry + timedelta(seconds=1))).allowed
    assert set(await admission.live_call_refs(account.id, now=expiry)).isdisjoint(d.call_ref for d in lost)
    assert await admission.forget_expired(now=expiry + timedelta(seconds=1)) == 2


async def test_an_extended_call_expires_after_its_new_grant(engine, admission):
    """Issue 10 defect 5: extending a call moves its expiry with its grant."""
    _, account = await subscriber_with_account(engine, balance=5 * EUR)
    await set_account_policy(engine, account.id, AccountPolicy(max_concurrent_calls=1))
    first = await admission.decide(call("0212345678"), now=T0)
    grant = await admission.extend(first.call_ref, now=T0 + timedelta(seconds=first.max_seconds - 30))
    assert grant.seconds > first.max_seconds
    after_first_grant = T0 + timedelta(seconds=first.max_seconds) + admission.settle_grace + timedelta(seconds=1)
    assert (await admission.decide(call("0212345678"), now=after_first_grant)).reason.code == "too_many_calls"
