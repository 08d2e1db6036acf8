"""Credit held for live calls: reserve, extend, settle, release, sweep.

A reservation holds ``amount_micro`` of an account's credit for one call
(``call_reference``: the channel's uniqueid or the call's linkedid) until it
is settled (the rated cost becomes a ledger charge), released (the call did
not need it), or expires (``expires_at`` passed: it stops holding credit at
once and :func:`sweep_expired` marks it released).

No overspend (architecture invariant 2)
    :func:`reserve` and :func:`extend` check, in one transaction holding the
    account's row lock (``SELECT … FOR UPDATE`` on PostgreSQL, the engine's
    ``BEGIN IMMEDIATE`` on SQLite), that

    * the request ≤ available credit (balance + credit limit − live
      reservations, :mod:`billing.ledger`), and
    * with a daily limit, the request ≤ limit − today's spend − live
      reservations.

    Every other writer of the account's money (ledger entries, ingestion)
    takes the same lock, so the sum of live reservations never exceeds the
    available credit or the daily limit, across processes and instances.

Settling writes at most one charge: its ledger entry's idempotency key is
``reservation:<id>``; settling again with the same cost returns the settled
reservation unchanged. A cost above the amount reserved is still charged in
full (the ledger is the truth; the balance may then go below zero).
Calls rated from CDRs are settled by :mod:`billing.ingest` with the CDR's
charge — never settle such a call directly as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.errors import (
    AccountSuspendedError,
    DailyLimitReachedError,
    InsufficientCreditError,
    InvalidAmountError,
    ReservationClosedError,
    UnknownReservationError,
)
from billing.accounts import SUSPENDED
from billing.tables import CALL_CHARGE, LIVE, RELEASED, SETTLED, reservations
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import select_where_in
from sqlbase.prepared import Prepared


@dataclass(frozen=True, slots=True)
class Reservation:
    """One reservation (see :data:`billing.tables.reservations`)."""

    id: int
    account_id: int
    amount_micro: int
    state: str
    call_reference: str
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    settled_micro: int | None
    settled_by: str | None

    def holds_credit(self, now: datetime) -> bool:
        """True while live and unexpired: it counts against available credit."""
        return self.state == LIVE and self.expires_at > now


_COLUMNS = [reservations.c[f.name] for f in fields(Reservation)]


async def reserve(
    db: Db,
    account_id: int,
    amount_micro: int,
    *,
    ttl: timedelta,
    reference: str,
    now: datetime | None = None,
) -> Reservation:
    """Hold ``amount_micro`` of the account's credit for ``ttl``; return the reservation.

    Raise :class:`InsufficientCreditError`, :class:`DailyLimitReachedError`
    or :class:`AccountSuspendedError` (nothing is held then).
    """
    ledger.require_micro("amount_micro", amount_micro, minimum=1)
    _require_ttl(ttl)
    now = now or utc_now()
    async with transaction(db) as conn:
        account = await ledger.locked_account(conn, account_id)
        await _check_headroom(conn, account, amount_micro, now)
        return await conn.run_sync(hold_checked, account_id, amount_micro, ttl=ttl, reference=reference, now=now)


def hold_checked(
    conn: Connection, account_id: int, amount_micro: int, *, ttl: timedelta, reference: str, now: datetime
) -> Reservation:
    """Insert a live reservation and return it, in the caller's transaction
    (a sync connection: see ``sqlbase.worker``). The caller holds the
    account's lock and has checked the amount against its budgets (what
    :func:`reserve` does), as call admission does with the budgets it read."""
    ledger.require_micro("amount_micro", amount_micro, minimum=1)
    _require_ttl(ttl)
    (row,) = _INSERT_LIVE.rows(conn, {
        "account_id": account_id, "amount_micro": amount_micro, "state": LIVE,
        "call_reference": reference, "created_at": now, "expires_at": now + ttl,
    })
    return _reservation(row)


# prepared once: on a hot path, SQLAlchemy's per-statement work costs more
# than SQLite's
_INSERT_LIVE = Prepared(
    reservations.insert()
    .values({name: bindparam(name) for name in
             ("account_id", "amount_micro", "state", "call_reference", "created_at", "expires_at")})
    .returning(*_COLUMNS)
)


async def extend(
    db: Db,
    reservation_id: int,
    extra_micro: int,
    *,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Add ``extra_micro`` to a live reservation (the next chunk of a call) under
    the same checks as :func:`reserve`; with ``ttl``, it then expires ``ttl``
    from now. Raise :class:`ReservationClosedError` if it is no longer live
    or has expired."""
    ledger.require_micro("extra_micro", extra_micro, minimum=1)
    if ttl is not None:
        _require_ttl(ttl)
    now = now or utc_now()
    async with transaction(db) as conn:
        account, current = await _locked_with_account(conn, reservation_id)
        if not current.holds_credit(now):
            raise ReservationClosedError(
                reservation_id, current.state if current.state != LIVE else "expired"
            )
        await _check_headroom(conn, account, extra_micro, now)
        values: dict[str, Any] = {"amount_micro": current.amount_micro + extra_micro}
        if ttl is not None:
            values["expires_at"] = now + ttl
        return await _update(conn, reservation_id, values)


async def settle(
    db: Db,
    reservation_id: int,
    cost_micro: int,
    *,
    kind: str = CALL_CHARGE,
    reference: str = "",
    now: datetime | None = None,
) -> Reservation:
    """Charge the rated ``cost_micro`` (one ledger entry, none when 0) and mark
    the reservation settled; return it.

    Idempotent for the same cost; raise :class:`ReservationClosedError` if it
    was released, or settled at another cost.
    """
    ledger.require_micro("cost_micro", cost_micro, minimum=0)
    now = now or utc_now()
    async with transaction(db) as conn:
        _, current = await _locked_with_account(conn, reservation_id)
        if current.state == SETTLED and current.settled_micro == cost_micro:
            return current
        if current.state != LIVE:
            raise ReservationClosedError(reservation_id, current.state)
        key = f"reservation:{reservation_id}"
        if cost_micro:
            await ledger.append_entry(
                conn,
                current.account_id,
                kind,
                -cost_micro,
                reference=reference or current.call_reference,
                idempotency_key=key,
                now=now,
            )
        return await _update(
            conn,
            reservation_id,
            {
                "state": SETTLED,
                "settled_micro": cost_micro,
                "closed_at": now,
                "settled_by": key if cost_micro else None,
            },
        )


async def release(db: Db, reservation_id: int, *, now: datetime | None = None) -> Reservation:
    """Give the held credit back (the call ended with nothing to charge, or never
    started); idempotent. Raise :class:`ReservationClosedError` if settled."""
    now = now or utc_now()
    async with transaction(db) as conn:
        _, current = await _locked_with_account(conn, reservation_id)
        if current.state == RELEASED:
            return current
        if current.state == SETTLED:
            raise ReservationClosedError(reservation_id, current.state)
        return await _update(conn, reservation_id, {"state": RELEASED, "closed_at": now})


async def sweep_expired(db: Db, now: datetime | None = None) -> int:
    """Mark every live reservation that expired by ``now`` released; return how many.

    One atomic UPDATE: safe to run from every instance at once. (Expired
    reservations already stopped holding credit; this closes them.)
    """
    now = now or utc_now()
    async with transaction(db) as conn:
        result = await conn.execute(
            reservations.update()
            .where(reservations.c.state == LIVE, reservations.c.expires_at <= now)
            .values(state=RELEASED, closed_at=now)
        )
    return result.rowcount


async def get_reservation(db: Db, reservation_id: int) -> Reservation:
    """Return the reservation; raise :class:`UnknownReservationError`."""
    async with transaction(db) as conn:
        row = (
            await conn.execute(select(*_COLUMNS).where(reservations.c.id == reservation_id))
        ).first()
    if row is None:
        raise UnknownReservationError(reservation_id)
    return _reservation(row)


async def live_reservations(db: Db, account_id: int) -> list[Reservation]:
    """Return the account's reservations in state live (expired or not), oldest first."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            select(*_COLUMNS)
            .where(reservations.c.account_id == account_id, reservations.c.state == LIVE)
            .order_by(reservations.c.id)
        )
        return [_reservation(row) for row in rows]


# -- for ingestion (in its transaction, holding the accounts' locks) ---------------


async def live_references(
    conn: AsyncConnection, references: Iterable[str]
) -> list[tuple[int, int, str]]:
    """Return ``(id, account id, call reference)`` of the live reservations whose
    call reference is one of ``references``, oldest first."""
    rows = await select_where_in(
        conn,
        reservations,
        ["id", "account_id", "call_reference"],
        "call_reference",
        list(set(references)),
        state=LIVE,
    )
    return sorted((row.id, row.account_id, row.call_reference) for row in rows)


async def mark_settled(
    conn: AsyncConnection, settlements: list[tuple[int, int, str | None]], now: datetime
) -> None:
    """Mark reservations settled by charges already written: ``(id, cost, ledger key)``
    (no key when the cost was 0 and nothing was written)."""
    if not settlements:
        return
    await conn.execute(
        reservations.update()
        .where(reservations.c.id == bindparam("rid"), reservations.c.state == LIVE)
        .values(
            state=SETTLED,
            settled_micro=bindparam("cost"),
            settled_by=bindparam("key"),
            closed_at=now,
        ),
        [{"rid": rid, "cost": cost, "key": key} for rid, cost, key in settlements],
    )


# -- helpers ------------------------------------------------------------------------


async def _check_headroom(
    conn: AsyncConnection, account: ledger.Account, amount_micro: int, now: datetime
) -> None:
    if account.status == SUSPENDED:
        raise AccountSuspendedError(account.id)
    credit, daily = await ledger.budgets(conn, account, now)
    if amount_micro > credit:
        raise InsufficientCreditError(account.id, amount_micro, credit)
    if account.daily_limit_micro is not None and amount_micro > daily:
        raise DailyLimitReachedError(account.id, amount_micro, daily)


async def _locked_with_account(
    conn: AsyncConnection, reservation_id: int
) -> tuple[ledger.Account, Reservation]:
    # Lock order everywhere: the account, then its reservations (ingestion
    # does the same), so two transactions never wait for each other in a
    # cycle. A reservation's account never changes, so reading it first
    # without a lock is safe.
    account_id = await conn.scalar(
        select(reservations.c.account_id).where(reservations.c.id == reservation_id)
    )
    if account_id is None:
        raise UnknownReservationError(reservation_id)
    account = await ledger.locked_account(conn, account_id)
    return account, await _locked(conn, reservation_id)


async def _locked(conn: AsyncConnection, reservation_id: int) -> Reservation:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(reservations.c.id == reservation_id).with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownReservationError(reservation_id)
    return _reservation(row)


async def _update(
    conn: AsyncConnection, reservation_id: int, values: dict[str, Any]
) -> Reservation:
    row = (
        await conn.execute(
            reservations.update()
            .where(reservations.c.id == reservation_id)
            .values(values)
            .returning(*_COLUMNS)
        )
    ).one()
    return _reservation(row)


def _require_ttl(ttl: timedelta) -> None:
    if ttl <= timedelta(0):
        raise InvalidAmountError("ttl must be positive")


def _reservation(row: Row[Any] | tuple) -> Reservation:
    return Reservation(*row)
