"""One call decision as one short synchronous transaction.

:class:`admission.service.Admission` runs :func:`decide_in` on
``sqlbase.worker``: on SQLite the whole decision is one hop to the worker
thread, where it reads the account, its policy, its live calls and its
money in one statement, then writes the reservation and the live call.
The transaction holds the account's lock from its first statement
(SQLite's ``BEGIN IMMEDIATE``; ``FOR UPDATE`` on PostgreSQL, taken before
the sums are read so that they include every transaction that held the
lock before), so calls competing for the last euro, on this instance or
another, never overspend (invariant 2).

The tariff is not read here: it comes from the caller's cache
(``rate_of``); a tariff not cached yet makes the decision return
:class:`TariffNeeded`, and the caller loads it and asks again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select
from sqlalchemy.engine import Connection

from billing import ledger
from billing.accounts import ACTIVE, INACTIVE
from billing.numbering import ON_NET, Classification
from billing.reservations import hold_checked
from billing.tariffs import Rate
from provisioning.fragments import endpoint_account_code
from sqlbase.prepared import Prepared

from .budget import next_chunk
from .decisions import CallRequest, Decision
from .policy import AccountPolicy, PolicyInput, is_always_free, parse_networks, policy_refusal
from .reasons import reason
from .refusals import count_refusal
from .tables import account_policies, live_calls


@dataclass(frozen=True)
class TariffNeeded:
    """The decision needs tariff ``name``, which the caller has not cached."""

    name: str


@dataclass(frozen=True)
class Terms:
    """What a decision needs besides the database."""

    request: CallRequest
    destination: Classification
    now: datetime
    chunk_seconds: int
    max_seconds: int
    settle_grace: timedelta
    # tariff name → its rate for this destination now (None: no rate);
    # raises KeyError for a tariff not cached
    rate_of: Callable[[str], Rate | None]


_POLICY_COLUMNS = [
    account_policies.c.account_id.label("policy_account_id"),
    account_policies.c.allowed_networks,
    account_policies.c.premium_enabled,
    account_policies.c.international_enabled,
    account_policies.c.blocked_prefixes,
    account_policies.c.max_concurrent_calls,
]
# the account paying for the endpoint's calls: billing's and provisioning's fragments
_ENDPOINT_ACCOUNT_CODE = endpoint_account_code(bindparam("endpoint"))


def is_free(destination: Classification) -> bool:
    """True for the calls nobody pays for: 112, 116xxx, 0800, and on-net."""
    return is_always_free(destination.number_class) or destination.number_class == ON_NET


def decide_in(conn: Connection, terms: Terms) -> Decision | TariffNeeded:
    """Decide ``terms.request`` in ``conn``'s transaction: refuse (and count
    the refusal: :mod:`admission.refusals`), or allow and record the live
    call (with its reservation when paid)."""
    outcome = _decision_in(conn, terms)
    if isinstance(outcome, Decision) and outcome.reason is not None:
        count_refusal(conn, outcome, terms.now)
    return outcome


def _decision_in(conn: Connection, terms: Terms) -> Decision | TariffNeeded:
    request, destination, now = terms.request, terms.destination, terms.now
    if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE holds the lock already
        conn.execute(_LOCK_ACCOUNT, {"endpoint": request.endpoint})
    day_start, day_end = ledger.today(now)
    rows = _SNAPSHOT.rows(conn, {"endpoint": request.endpoint, "now": now, "day_start": day_start, "day_end": day_end})
    if not rows:
        return Decision(request.call_ref, destination, reason("unknown_endpoint"))
    row = _Snapshot.of(rows[0])
    account = row.account

    def refuse(code: str) -> Decision:
        return Decision(request.call_ref, destination, reason(code), account.id, account.code)

    policy_reason = policy_refusal(PolicyInput(
        account_active=account.status == ACTIVE,
        account_inactive=account.status == INACTIVE,
        source_address=request.source_address,
        destination=destination,
        live_calls=row.live_call_count,
        policy=row.policy,
    ))
    if policy_reason is not None:
        return Decision(request.call_ref, destination, policy_reason, account.id, account.code)
    if is_free(destination):
        record_live_call(conn, request.call_ref, account.id, destination, None, terms.max_seconds, True, now,
                         terms.settle_grace)
        return Decision(request.call_ref, destination, None, account.id, account.code,
                        terms.max_seconds, None, free=True)
    try:
        rate = terms.rate_of(account.tariff)
    except KeyError:
        return TariffNeeded(account.tariff)
    if rate is None:
        return refuse("no_rate")
    credit, daily = ledger.budgets_micro(account, row.balance, row.reserved, row.spent_today)
    chunk = next_chunk(rate, credit, daily, min(terms.chunk_seconds, terms.max_seconds))
    if chunk.refusal is not None:
        return refuse(chunk.refusal)
    held = hold_checked(
        conn, account.id, chunk.reserve_micro,
        ttl=timedelta(seconds=chunk.seconds) + terms.settle_grace, reference=request.call_ref, now=now,
    )
    record_live_call(conn, request.call_ref, account.id, destination, held.id, chunk.seconds, False, now,
                     terms.settle_grace)
    return Decision(request.call_ref, destination, None, account.id, account.code, chunk.seconds, held.id)


def _snapshot_query() -> Any:
    """The account paying for an endpoint's calls, its policy (NULLs when
    none is stored), its live-call count and its money, in one row."""
    account_id = ledger.ACCOUNT_ID
    live = (
        select(func.count()).select_from(live_calls)
        .where(live_calls.c.account_id == account_id,
               or_(live_calls.c.expires_at.is_(None), live_calls.c.expires_at > bindparam("now")))
        .scalar_subquery()
    )
    return (
        ledger.account_with_code(_ENDPOINT_ACCOUNT_CODE)
        .outerjoin(account_policies, account_policies.c.account_id == account_id)
        .add_columns(
            *_POLICY_COLUMNS,
            live.label("live_call_count"),
            ledger.balance_of(account_id).label("balance"),
            ledger.reserved_of(account_id, bindparam("now")).label("reserved"),
            ledger.usage_between(account_id, bindparam("day_start"), bindparam("day_end")).label("spent_today"),
        )
    )


@dataclass(frozen=True)
class _Snapshot:
    """A row of the snapshot query."""

    account: ledger.Account
    policy: AccountPolicy
    live_call_count: int
    balance: int
    reserved: int
    spent_today: int

    @classmethod
    def of(cls, values: tuple) -> "_Snapshot":
        n = len(ledger.ACCOUNT_COLUMNS)
        policy_values = values[n:n + len(_POLICY_COLUMNS)]
        live, balance, reserved, spent = values[n + len(_POLICY_COLUMNS):]
        policy = stored_policy(_PolicyRow(*policy_values[1:]) if policy_values[0] is not None else None)
        return cls(ledger.account_from(values[:n]), policy, live, int(balance), int(reserved), int(spent))


@dataclass(frozen=True)
class _PolicyRow:
    allowed_networks: str
    premium_enabled: bool
    international_enabled: bool
    blocked_prefixes: str
    max_concurrent_calls: int


# Built and compiled once: on the hot path, SQLAlchemy's work per statement
# costs more than SQLite's.
_SNAPSHOT = Prepared(_snapshot_query())
_LOCK_ACCOUNT = ledger.lock_account_with_code(_ENDPOINT_ACCOUNT_CODE)
_LIVE_CALL_COLUMNS = ("call_ref", "account_id", "number_class", "normalised", "started_at", "reservation_id",
                      "reserved_seconds", "free", "expires_at")
_INSERT_LIVE_CALL = Prepared(insert(live_calls).values({name: bindparam(name) for name in _LIVE_CALL_COLUMNS}))
_DELETE_LIVE_CALL = Prepared(delete(live_calls).where(live_calls.c.call_ref == bindparam("ref")))


def stored_policy(row: Any) -> AccountPolicy:
    """Return the policy of an ``account_policies`` row (the defaults for None)."""
    if row is None:
        return AccountPolicy()
    return AccountPolicy(
        allowed_networks=parse_networks(row.allowed_networks),
        premium_enabled=row.premium_enabled,
        international_enabled=row.international_enabled,
        blocked_prefixes=tuple(row.blocked_prefixes.split()),
        max_concurrent_calls=row.max_concurrent_calls,
    )


def record_live_call(
    conn: Connection, call_ref: str, account_id: int, destination: Classification,
    reservation_id: int | None, seconds: int, free: bool, now: datetime, margin: timedelta,
) -> None:
    """Insert the call into ``live_calls``, expiring ``margin`` after its
    grant of ``seconds`` (issue 10: a lost hangup must not count forever)."""
    _INSERT_LIVE_CALL.run(conn, {
        "call_ref": call_ref, "account_id": account_id, "number_class": destination.number_class,
        "normalised": destination.normalised, "started_at": now, "reservation_id": reservation_id,
        "reserved_seconds": seconds, "free": free, "expires_at": live_call_expiry(now, seconds, margin),
    })


def live_call_expiry(started_at: datetime, seconds: int, margin: timedelta) -> datetime:
    """Return when a live call granted ``seconds`` stops counting: the end
    of its grant plus ``margin`` (ringing before the answer, the CDR's way)."""
    return started_at + timedelta(seconds=seconds) + margin


def forget_live_call(conn: Connection, call_ref: str) -> None:
    """Delete the call from ``live_calls``."""
    _DELETE_LIVE_CALL.run(conn, {"ref": call_ref})
