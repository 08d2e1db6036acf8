"""One answer to "may this call go ahead, and for how long?", for the ARI
app and the FastAGI server alike.

A decision runs in one database transaction holding the account's lock
(:mod:`admission.deciding`, run by ``sqlbase.worker``: on SQLite inline
on the event loop when the write lock is free, else one hop away): the
concurrent-call count, the credit and daily-limit budget and the
reservation are read and written together, so calls competing for the last
euro on several control-plane instances never overspend (invariant 2).

Paid calls are granted in chunks: the first reservation covers
``chunk_seconds`` (or less, if that is all the budget pays for); :meth:`Admission.extend` reserves the next chunk while credit
lasts. The reservation is settled by CDR ingestion (reference: the call's
uniqueid); it expires ``settle_grace`` after the end of its last chunk.
The live call expires then too: a call whose end nobody reported (a
FastAGI hangup lost) stops counting toward ``max_concurrent_calls``, and
the ARI app's reconciliation finishes it sooner when its channel is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing import ledger, reservations
from billing.numbering import Classification, NumberingPlan, default_numbering_plan
from billing.accounts import ACTIVE, INACTIVE
from sqlbase import reading, transaction, utc_now
from billing.tariff_store import load_tariff
from billing.tariffs import Rate, Tariff
from provisioning.did_cache import OurNumbers
from sqlbase.worker import TransactionWorker

from .budget import next_chunk
from .deciding import TariffNeeded, Terms, decide_in, forget_live_call, live_call_expiry, stored_policy
from .decisions import CallRequest, Decision, Grant
from .policy import AccountPolicy, is_always_free
from .reasons import reason
from .tables import account_policies, live_calls

__all__ = ["Admission", "CallRequest", "Decision", "Grant", "LiveCallView", "PolicyUpdate", "account_policy",
           "account_live_calls", "change_account_policy", "live_call_count", "set_account_policy"]

log = logging.getLogger(__name__)

CHUNK_SECONDS = 300
MAX_CALL_SECONDS = 4 * 3600
SETTLE_GRACE = timedelta(minutes=10)


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
        our_numbers: OurNumbers | None = None,
    ) -> None:
        self.engine = engine
        self.numbering = numbering or default_numbering_plan()
        self.chunk_seconds = chunk_seconds
        self.max_seconds = max_seconds
        self.settle_grace = settle_grace
        self._tariffs: dict[str, Tariff] = {}
        # shared with CDR ingestion when the control plane supplies it
        self._our_numbers = our_numbers or OurNumbers(engine)
        # reservations and live calls are rebuilt after a crash (the CDR
        # charges the call; reconciliation ends or re-adopts it): their
        # commits need not wait for the disk, so a decision may run on the
        # event loop itself when the write lock is free
        self._worker = TransactionWorker(engine, durable=False, inline=True)

    def close(self) -> None:
        """Stop the database worker (decisions already queued still run)."""
        self._worker.close()

    # -- caches of slowly changing data ---------------------------------------
    def forget_cached(self) -> None:
        """Drop cached tariffs and DIDs (after an import or a provisioning change)."""
        self._tariffs.clear()
        self._our_numbers.forget()

    async def _tariff(self, name: str) -> Tariff:
        if name not in self._tariffs:
            self._tariffs[name] = await load_tariff(self.engine, name)
        return self._tariffs[name]

    async def classify(self, dialled: str) -> Classification:
        """Return the destination of ``dialled`` (on-net when it is one of our DIDs)."""
        return self.numbering.classify(dialled, await self._our_numbers.current())

    # -- decisions --------------------------------------------------------------
    async def decide(self, request: CallRequest, now: datetime | None = None) -> Decision:
        """Return the decision for ``request``; an allowed call is recorded
        live (and, when paid, holds a reservation) until :meth:`finish`.

        112, 116xxx and 0800 are allowed even when the account cannot be
        found, the database cannot answer or the decision fails on a defect
        (invariant 3); any other call is then refused as ``unavailable``.
        """
        now = now or utc_now()
        destination = await self._classify_safely(request.dialled)
        try:
            decision = await self._decide(request, destination, now)
        except (SQLAlchemyError, OSError) as exc:
            log.error("admission cannot reach the database", extra={"call": request.call_ref, "error": str(exc)})
            decision = Decision(request.call_ref, destination, reason("unavailable"))
        except Exception:  # a defect must not take 112 down with the call's flow
            log.exception("admission failed", extra={"call": request.call_ref})
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
        terms = Terms(request, destination, now, self.chunk_seconds, self.max_seconds, self.settle_grace,
                      partial(self._cached_rate, destination=destination, now=now))
        while True:
            outcome = await self._worker.run(partial(decide_in, terms=terms))
            if not isinstance(outcome, TariffNeeded):
                return outcome
            await self._tariff(outcome.name)  # then decide again, with it cached

    def _cached_rate(self, tariff: str, *, destination: Classification, now: datetime) -> Rate | None:
        # runs inside the decision's transaction (maybe on the worker's thread):
        # reads the cache, never fills it
        plan = self._tariffs[tariff].plan_at(now)
        return plan.voice_rate(destination) if plan is not None else None

    async def extend(self, call_ref: str, now: datetime | None = None) -> Grant:
        """Reserve the call's next chunk while credit and the daily limit
        allow; return the seconds now granted in total, and when no more
        could be granted, why (0 seconds for a call that is not live)."""
        now = now or utc_now()
        call = await self._live_call(call_ref)
        if call is None:
            return Grant(0, "unknown_call")
        if call.free or call.reserved_seconds >= self.max_seconds:
            return Grant(call.reserved_seconds, self._at_longest(call))
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
                return Grant(call.reserved_seconds,
                             "account_inactive" if account.status == INACTIVE else "account_suspended")
            credit, daily = await ledger.budgets(conn, account, now)
            cap = min(call.reserved_seconds + self.chunk_seconds, self.max_seconds)
            # this call's own reservation counts against both budgets: next_chunk adds it back
            chunk = next_chunk(rate, credit, daily, cap,
                               held_seconds=call.reserved_seconds, held_micro=held.amount_micro)
            if chunk.refusal is not None:
                return Grant(call.reserved_seconds, chunk.refusal)
            total, extra = chunk.seconds, chunk.reserve_micro
            elapsed = max((now - call.started_at).total_seconds(), 0)
            ttl = timedelta(seconds=max(total - elapsed, 0)) + self.settle_grace
            await reservations.extend(conn, held.id, extra, ttl=ttl, now=now)
            await conn.execute(
                update(live_calls).where(live_calls.c.call_ref == call_ref).values(
                    reserved_seconds=total, expires_at=live_call_expiry(call.started_at, total, self.settle_grace))
            )
        log.info("call extended", extra={"call": call_ref, "granted_seconds": total})
        return Grant(total, None)

    async def granted(self, call_ref: str) -> Grant:
        """Return the seconds a live call holds now, reserving nothing (a
        restarted control plane re-arms an adopted call from it; the next
        chunk is reserved when it is due); 0 for a call that is not live."""
        call = await self._live_call(call_ref)
        if call is None:
            return Grant(0, "unknown_call")
        return Grant(call.reserved_seconds, self._at_longest(call))

    def _at_longest(self, call) -> str | None:
        """Why a paid call can get no more seconds whatever its credit, if so."""
        return "max_call_length" if not call.free and call.reserved_seconds >= self.max_seconds else None

    async def finish(self, call_ref: str) -> None:
        """Forget a call that ended (its reservation waits for the CDR)."""
        await self._worker.run(partial(forget_live_call, call_ref=call_ref))

    async def forget_expired(self, now: datetime | None = None) -> int:
        """Delete the live calls past their expiry (they no longer count
        toward max_concurrent_calls anyway); return how many."""
        async with self.engine.begin() as conn:
            done = await conn.execute(delete(live_calls).where(live_calls.c.expires_at <= (now or utc_now())))
        if done.rowcount:
            log.info("expired live calls forgotten", extra={"calls": done.rowcount})
        return done.rowcount

    async def live_call_refs(self, account_id: int | None = None, now: datetime | None = None) -> list[str]:
        """Return the live calls' references (of one account, or all): those
        that count toward max_concurrent_calls at ``now`` (not expired)."""
        query = select(live_calls.c.call_ref).order_by(live_calls.c.started_at).where(_counting(now or utc_now()))
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


async def live_call_count(db: AsyncEngine | AsyncConnection, account_id: int | None,
                          now: datetime | None = None) -> int:
    """Return how many of the account's live calls (every account's, for
    None) count toward max_concurrent_calls at ``now`` (those not expired),
    as :meth:`Admission.live_call_refs` lists them."""
    query = select(func.count()).select_from(live_calls).where(_counting(now or utc_now()))
    if account_id is not None:
        query = query.where(live_calls.c.account_id == account_id)
    async with reading(db) as conn:  # a read: on SQLite a transaction would take the write lock
        return int(await conn.scalar(query))


@dataclass(frozen=True)
class LiveCallView:
    """One live call as the admin side shows it: its reference, number
    class, the normalised number dialled, its start and the seconds granted."""

    call_ref: str
    number_class: str
    normalised: str
    started_at: datetime
    reserved_seconds: int


MAX_LIVE_CALLS_SHOWN = 200  # an account's concurrent-call limit is far lower; this bounds the read


async def account_live_calls(db: AsyncEngine | AsyncConnection, account_id: int, now: datetime | None = None,
                             limit: int = MAX_LIVE_CALLS_SHOWN) -> list[LiveCallView]:
    """Return the account's live calls that count at ``now`` (as
    :func:`live_call_count` counts them), oldest first, at most ``limit``."""
    query = (select(live_calls.c.call_ref, live_calls.c.number_class, live_calls.c.normalised,
                    live_calls.c.started_at, live_calls.c.reserved_seconds)
             .where(_counting(now or utc_now()), live_calls.c.account_id == account_id)
             .order_by(live_calls.c.started_at, live_calls.c.call_ref).limit(min(limit, MAX_LIVE_CALLS_SHOWN)))
    async with reading(db) as conn:
        return [LiveCallView(*row) for row in await conn.execute(query)]


def _counting(now: datetime):
    """The live calls that still count at ``now`` (NULL expiry: until reconciliation)."""
    return or_(live_calls.c.expires_at.is_(None), live_calls.c.expires_at > now)


async def account_policy(conn: AsyncConnection, account_id: int) -> AccountPolicy:
    """Return the account's call policy (the defaults when none is stored)."""
    row = (await conn.execute(select(account_policies).where(account_policies.c.account_id == account_id))).first()
    return stored_policy(row)


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


@dataclass(frozen=True)
class PolicyUpdate:
    """An account's policy before and after a change, with the account."""

    account: ledger.Account
    before: AccountPolicy
    after: AccountPolicy


async def change_account_policy(conn: AsyncConnection, account_id: int, changes: dict[str, object]) -> PolicyUpdate:
    """Apply ``changes`` (checked by :func:`admission.policy.policy_changes`)
    to the account's policy in the caller's transaction, the account's row
    locked (one change at a time); raise billing's UnknownAccountError."""
    account = await ledger.locked_account(conn, account_id)
    before = await account_policy(conn, account_id)
    after = replace(before, **changes)
    await set_account_policy(conn, account_id, after)
    return PolicyUpdate(account, before, after)
