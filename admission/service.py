"""One answer to "may this call go ahead, and for how long?", for the ARI
app and the FastAGI server alike.

A decision runs in one database transaction holding the account's row lock
(billing's ``locked_account``): the concurrent-call count, the credit and
daily-limit budget and the reservation are read and written together, so
calls competing for the last euro on several control-plane instances never
overspend (invariant 2). Paid calls are granted in chunks: the first
reservation covers ``chunk_seconds`` (or less, if that is all the budget
pays for); :meth:`Admission.extend` reserves the next chunk while credit
lasts. The reservation is settled by CDR ingestion (reference: the call's
uniqueid); it expires ``settle_grace`` after the end of its last chunk.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing import ledger, reservations
from billing.errors import DailyLimitReachedError, InsufficientCreditError, UnknownAccountError
from billing.authorisation import call_cost_micro, max_call_seconds
from billing.numbering import ON_NET, Classification, NumberingPlan, default_numbering_plan
from billing.tables import ACTIVE, transaction, utc_now
from billing.tariff_store import load_tariff
from billing.tariffs import Rate, Tariff
from provisioning import services as provisioning

from .policy import AccountPolicy, PolicyInput, is_always_free, parse_networks, policy_refusal
from .reasons import RefusalReason, reason
from .tables import account_policies, live_calls

log = logging.getLogger(__name__)

CHUNK_SECONDS = 300
MAX_CALL_SECONDS = 4 * 3600
SETTLE_GRACE = timedelta(minutes=10)
# How long an endpoint's account id is remembered between decisions. Only
# the endpoint → account link is cached; the account itself (status,
# limits, money) is read under its lock for every decision.
ENDPOINT_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class CallRequest:
    """A call asking to go ahead."""

    call_ref: str  # the caller's channel uniqueid
    endpoint: str  # the PJSIP endpoint it comes from
    source_address: str  # the SIP packet's source address
    dialled: str


@dataclass(frozen=True)
class Decision:
    """Refused with a reason, or allowed for ``max_seconds`` (so far)."""

    call_ref: str
    destination: Classification
    reason: RefusalReason | None = None
    account_id: int | None = None
    account_code: str | None = None
    max_seconds: int = 0
    reservation_id: int | None = None
    free: bool = False

    @property
    def allowed(self) -> bool:
        return self.reason is None

    @property
    def number_class(self) -> str:
        return self.destination.number_class


@dataclass(frozen=True)
class Grant:
    """Seconds granted to a live call so far; ``limited_by`` says why no
    more were (a refusal reason code, ``max_call_length``, ...), or None."""

    seconds: int
    limited_by: str | None = None


class Admission:
    """Decides calls, extends their grants, and forgets them when they end."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        numbering: NumberingPlan | None = None,
        chunk_seconds: int = CHUNK_SECONDS,
        max_seconds: int = MAX_CALL_SECONDS,
        settle_grace: timedelta = SETTLE_GRACE,
        endpoint_cache_seconds: float = ENDPOINT_CACHE_SECONDS,
    ) -> None:
        self.engine = engine
        self.numbering = numbering or default_numbering_plan()
        self.chunk_seconds = chunk_seconds
        self.max_seconds = max_seconds
        self.settle_grace = settle_grace
        self.endpoint_cache_seconds = endpoint_cache_seconds
        self._tariffs: dict[str, Tariff] = {}
        self._our_numbers: frozenset[str] | None = None
        self._endpoint_accounts: dict[str, tuple[int, float]] = {}  # endpoint → (account id, until)

    # -- caches of slowly changing data ---------------------------------------
    def forget_cached(self) -> None:
        """Drop cached tariffs, DIDs and endpoint → account links (after an
        import or a provisioning change). Another control-plane instance's
        change reaches the endpoint links within ``endpoint_cache_seconds``."""
        self._tariffs.clear()
        self._our_numbers = None
        self._endpoint_accounts.clear()

    async def our_numbers(self) -> frozenset[str]:
        """Return our DIDs (normalised), the on-net numbers."""
        if self._our_numbers is None:
            self._our_numbers = frozenset(d.number for d in await provisioning.list_dids(self.engine))
        return self._our_numbers

    async def _tariff(self, name: str, db: AsyncEngine | AsyncConnection | None = None) -> Tariff:
        if name not in self._tariffs:
            self._tariffs[name] = await load_tariff(db or self.engine, name)
        return self._tariffs[name]

    async def classify(self, dialled: str) -> Classification:
        """Return the destination of ``dialled`` (on-net when it is one of our DIDs)."""
        return self.numbering.classify(dialled, await self.our_numbers())

    # -- decisions --------------------------------------------------------------
    async def decide(self, request: CallRequest, now: datetime | None = None) -> Decision:
        """Return the decision for ``request``; an allowed call is recorded
        live (and, when paid, holds a reservation) until :meth:`finish`.

        112, 116xxx and 0800 are allowed even when the account cannot be
        found or the database cannot answer (invariant 3); any other call is
        then refused as ``unavailable``.
        """
        now = now or utc_now()
        destination = await self._classify_safely(request.dialled)
        try:
            decision = await self._decide(request, destination, now)
        except (SQLAlchemyError, OSError) as exc:
            log.error("admission cannot reach the database", extra={"call": request.call_ref, "error": str(exc)})
            decision = Decision(request.call_ref, destination, reason("unavailable"))
        if not decision.allowed and is_always_free(destination.number_class):
            decision = Decision(request.call_ref, destination, None, decision.account_id,
                                decision.account_code, self.max_seconds, None, free=True)
        return self._logged(request, decision)

    async def _classify_safely(self, dialled: str) -> Classification:
        try:
            return await self.classify(dialled)
        except (SQLAlchemyError, OSError):  # DIDs unknown: classify without on-net
            return self.numbering.classify(dialled)

    async def _decide(self, request: CallRequest, destination: Classification, now: datetime) -> Decision:
        # One transaction for the whole decision: each statement costs a
        # round trip (a thread hop with aiosqlite), each transaction more.
        async with self.engine.begin() as conn:
            account = await self._locked_account_of(conn, request.endpoint)
            if account is None:
                return Decision(request.call_ref, destination, reason("unknown_endpoint"))
            rate = None
            if not self._is_free(destination):
                # a tariff not cached yet is read on this transaction's own
                # connection: on SQLite a second one would wait for this one
                plan = (await self._tariff(account.tariff, conn)).plan_at(now)
                rate = plan.voice_rate(destination) if plan is not None else None
            return await self._decide_locked(conn, request, destination, account, rate, now)

    async def _locked_account_of(self, conn: AsyncConnection, endpoint_name: str) -> ledger.Account | None:
        """Return the account paying for ``endpoint_name``'s calls, its row
        locked for the rest of ``conn``'s transaction; None when the
        endpoint or its account is unknown."""
        cached = self._endpoint_accounts.get(endpoint_name)
        if cached is not None and cached[1] > time.monotonic():
            try:
                return await ledger.locked_account(conn, cached[0])
            except UnknownAccountError:
                del self._endpoint_accounts[endpoint_name]
        endpoint = await provisioning.find_endpoint(conn, endpoint_name)
        if endpoint is None or not endpoint.account_code:
            return None
        found = await ledger.find_account(conn, endpoint.account_code)
        if found is None:
            return None
        if self.endpoint_cache_seconds > 0:
            self._endpoint_accounts[endpoint_name] = (found.id, time.monotonic() + self.endpoint_cache_seconds)
        return await ledger.locked_account(conn, found.id)

    def _is_free(self, destination: Classification) -> bool:
        return is_always_free(destination.number_class) or destination.number_class == ON_NET

    async def _decide_locked(
        self, conn: AsyncConnection, request: CallRequest, destination: Classification,
        account: ledger.Account, rate: Rate | None, now: datetime,
    ) -> Decision:
        def refuse(code: str) -> Decision:
            return Decision(request.call_ref, destination, reason(code), account.id, account.code)

        policy, live = await _policy_and_live_calls(conn, account.id)
        policy_reason = policy_refusal(
            PolicyInput(
                account_active=account.status == ACTIVE,
                source_address=request.source_address,
                destination=destination,
                live_calls=live,
                policy=policy,
            )
        )
        if policy_reason is not None:
            return Decision(request.call_ref, destination, policy_reason, account.id, account.code)
        if self._is_free(destination):
            await _record_live_call(conn, request.call_ref, account.id, destination, None, self.max_seconds, True, now)
            return Decision(request.call_ref, destination, None, account.id, account.code,
                            self.max_seconds, None, free=True)
        if rate is None:
            return refuse("no_rate")
        cap = min(self.chunk_seconds, self.max_seconds)
        grant, held = cap, await self._reserve_if_it_fits(conn, account, rate, cap, request.call_ref, now)
        if held is None:  # not a whole chunk: as much as the budgets pay for
            credit, daily = await _budgets(conn, account, now)
            grant = max_call_seconds(rate, min(credit, daily), cap)
            if grant == 0:
                return refuse("daily_limit_reached" if daily < credit else "insufficient_credit")
            held = await self._reserve(conn, account, rate, grant, request.call_ref, now)
        await _record_live_call(conn, request.call_ref, account.id, destination, held.id, grant, False, now)
        return Decision(request.call_ref, destination, None, account.id, account.code, grant, held.id)

    async def _reserve(
        self, conn: AsyncConnection, account: ledger.Account, rate: Rate, seconds: int, call_ref: str,
        now: datetime,
    ) -> reservations.Reservation:
        return await reservations.reserve(
            conn, account.id, max(call_cost_micro(rate, seconds), 1),
            ttl=timedelta(seconds=seconds) + self.settle_grace, reference=call_ref, now=now,
        )

    async def _reserve_if_it_fits(
        self, conn: AsyncConnection, account: ledger.Account, rate: Rate, seconds: int, call_ref: str,
        now: datetime,
    ) -> reservations.Reservation | None:
        """Reserve ``seconds`` when credit and the daily limit pay for them
        all, else None. Most calls fit a whole chunk: billing's own headroom
        check then decides alone, sparing the budget queries (the grant is
        the same: max_call_seconds returns the cap whenever it fits)."""
        if seconds <= 0:
            return None
        try:
            return await self._reserve(conn, account, rate, seconds, call_ref, now)
        except (InsufficientCreditError, DailyLimitReachedError):
            return None  # nothing was written: the transaction goes on

    async def extend(self, call_ref: str, now: datetime | None = None) -> Grant:
        """Reserve the call's next chunk while credit and the daily limit
        allow; return the seconds now granted in total, and when no more
        could be granted, why (0 seconds for a call that is not live)."""
        now = now or utc_now()
        call = await self._live_call(call_ref)
        if call is None:
            return Grant(0, "unknown_call")
        if call.free or call.reserved_seconds >= self.max_seconds:
            return Grant(call.reserved_seconds, "max_call_length" if not call.free else None)
        account = await ledger.get_account(self.engine, call.account_id)
        plan = (await self._tariff(account.tariff)).plan_at(call.started_at)
        destination = await self.classify(call.normalised)
        rate = plan.voice_rate(destination) if plan is not None else None
        if rate is None:
            return Grant(call.reserved_seconds, "no_rate")
        async with self.engine.begin() as conn:
            account = await ledger.locked_account(conn, account.id)
            held = await reservations.get_reservation(conn, call.reservation_id)
            if not held.holds_credit(now):
                return Grant(call.reserved_seconds, "reservation_closed")
            if account.status != ACTIVE:
                return Grant(call.reserved_seconds, "account_suspended")
            credit, daily = await _budgets(conn, account, now)
            # this call's own reservation counts against both budgets: add it back
            budget = min(credit, daily) + held.amount_micro
            cap = min(call.reserved_seconds + self.chunk_seconds, self.max_seconds)
            total = max_call_seconds(rate, budget, cap)
            extra = call_cost_micro(rate, total) - held.amount_micro
            if total <= call.reserved_seconds or extra <= 0:
                limit = "daily_limit_reached" if daily < credit else "insufficient_credit"
                return Grant(call.reserved_seconds, limit)
            elapsed = max((now - call.started_at).total_seconds(), 0)
            ttl = timedelta(seconds=max(total - elapsed, 0)) + self.settle_grace
            await reservations.extend(conn, held.id, extra, ttl=ttl, now=now)
            await conn.execute(
                update(live_calls).where(live_calls.c.call_ref == call_ref).values(reserved_seconds=total)
            )
        log.info("call extended", extra={"call": call_ref, "granted_seconds": total})
        return Grant(total, None)

    async def finish(self, call_ref: str) -> None:
        """Forget a call that ended (its reservation waits for the CDR)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(live_calls).where(live_calls.c.call_ref == call_ref))

    async def live_call_refs(self, account_id: int | None = None) -> list[str]:
        """Return the live calls' references (of one account, or all)."""
        query = select(live_calls.c.call_ref).order_by(live_calls.c.started_at)
        if account_id is not None:
            query = query.where(live_calls.c.account_id == account_id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def _live_call(self, call_ref: str):
        async with self.engine.connect() as conn:
            return (await conn.execute(select(live_calls).where(live_calls.c.call_ref == call_ref))).first()

    def _logged(self, request: CallRequest, decision: Decision) -> Decision:
        log.info(
            "call allowed" if decision.allowed else "call refused",
            extra={
                "call": request.call_ref, "endpoint": request.endpoint, "source": request.source_address,
                "dialled": request.dialled, "class": decision.number_class,
                "account": decision.account_code, "max_seconds": decision.max_seconds,
                "reason": decision.reason.code if decision.reason else None,
            },
        )
        return decision


async def account_policy(conn: AsyncConnection, account_id: int) -> AccountPolicy:
    """Return the account's call policy (the defaults when none is stored)."""
    row = (await conn.execute(select(account_policies).where(account_policies.c.account_id == account_id))).first()
    return _policy(row)


async def _policy_and_live_calls(conn: AsyncConnection, account_id: int) -> tuple[AccountPolicy, int]:
    """Return the account's policy and its live-call count in one statement."""
    live = (
        select(func.count()).select_from(live_calls).where(live_calls.c.account_id == account_id)
        .scalar_subquery()
    )
    one_row = select(literal(1).label("one")).subquery()
    row = (await conn.execute(
        select(live.label("live_call_count"), *account_policies.c)
        .select_from(one_row.outerjoin(account_policies, account_policies.c.account_id == account_id))
    )).one()
    return _policy(row if row.account_id is not None else None), int(row.live_call_count)


def _policy(row) -> AccountPolicy:
    if row is None:
        return AccountPolicy()
    return AccountPolicy(
        allowed_networks=parse_networks(row.allowed_networks),
        premium_enabled=row.premium_enabled,
        international_enabled=row.international_enabled,
        blocked_prefixes=tuple(row.blocked_prefixes.split()),
        max_concurrent_calls=row.max_concurrent_calls,
    )


async def set_account_policy(engine: AsyncEngine | AsyncConnection, account_id: int, policy: AccountPolicy) -> None:
    """Store the account's call policy (replacing the previous one)."""
    values = {
        "allowed_networks": " ".join(str(n) for n in policy.allowed_networks),
        "premium_enabled": policy.premium_enabled,
        "international_enabled": policy.international_enabled,
        "blocked_prefixes": " ".join(policy.blocked_prefixes),
        "max_concurrent_calls": policy.max_concurrent_calls,
        "updated_at": utc_now(),
    }
    async with transaction(engine) as conn:
        updated = await conn.execute(
            update(account_policies).where(account_policies.c.account_id == account_id).values(values)
        )
        if updated.rowcount == 0:
            await conn.execute(insert(account_policies).values(account_id=account_id, **values))


async def _budgets(conn: AsyncConnection, account: ledger.Account, now: datetime) -> tuple[int, int]:
    """Return (available credit, what the daily limit leaves), both net of
    live reservations; the daily one is unbounded without a limit."""
    held = await ledger.reserved_micro(conn, account.id, now)
    credit = await ledger.balance_micro(conn, account.id) + account.credit_limit_micro - held
    if account.daily_limit_micro is None:
        return credit, credit
    spent = await ledger.spent_today_micro(conn, account.id, now)
    return credit, account.daily_limit_micro - spent - held


async def _record_live_call(
    conn: AsyncConnection, call_ref: str, account_id: int, destination: Classification,
    reservation_id: int | None, seconds: int, free: bool, now: datetime,
) -> None:
    await conn.execute(insert(live_calls).values(
        call_ref=call_ref, account_id=account_id, number_class=destination.number_class,
        normalised=destination.normalised, started_at=now, reservation_id=reservation_id,
        reserved_seconds=seconds, free=free,
    ))
