"""Accounts and their money: the ledger, the one source of truth.

Sign convention
    Every ledger entry has a signed ``amount_micro`` (integer micro-euros):
    **positive credits the account** (top-up, payment, an adjustment in the
    customer's favour), **negative debits it** (call, SMS and recurring
    charges, an adjustment against the customer). An account's balance is
    the SUM of its entries — there is no stored balance to drift:

    * prepaid: the balance is the money left (>= 0 in normal operation);
    * postpaid: the balance is negative when the customer owes money.

    Available credit = balance + credit limit − live reservations. Prepaid
    accounts have a credit limit of 0 (``open_account`` refuses another),
    so for them it is the balance minus what live calls hold.

Bounds
    A top-up, a payment and an adjustment move at most
    :data:`MAX_OPERATION_MICRO` (100,000 EUR) each, a credit or daily limit
    is at most :data:`MAX_LIMIT_MICRO` (100,000 EUR), and a top-up may not
    bring the balance above :data:`MAX_BALANCE_MICRO` (1,000,000 EUR). So a
    balance, and every running sum of an account's entries in the order
    they were written, stays below 10^13 micro-euros: SQL's SUM over 64-bit
    integers (SQLite raises past 9.2 × 10^18) cannot overflow.

Daily limit
    Today's spend is the usage charged since midnight Europe/Bucharest
    (call and SMS charges, as a positive number); recurring fees, payments
    and adjustments are not usage.

Concurrency
    Every write and every credit check first locks the account row
    (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the engine's
    ``BEGIN IMMEDIATE`` already serialises writers), so checks and entries
    of one account happen one at a time across processes and instances.

Every function takes an ``AsyncEngine`` (own transaction, committed) or an
``AsyncConnection`` (joins the caller's transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.errors import (
    AccountCodeTakenError,
    IdempotencyKeyReusedError,
    InvalidAmountError,
    UnknownAccountError,
)
from billing.money import MICRO, format_amount
from billing.accounts import ACCOUNT_STATUSES, ACTIVE, DEFAULT_TARIFF, POSTPAID, PREPAID
from billing.tables import (
    ADJUSTMENT,
    CALL_CHARGE,
    LIVE,
    PAYMENT,
    RECURRING_FEE,
    SMS_CHARGE,
    TOPUP,
    USAGE_KINDS,
    accounts,
    ledger_entries,
    reservations,
)
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import insert_or_skip, select_where_in
from billing.tariffs import CONTRACT_TZ

MAX_OPERATION_MICRO = 100_000 * MICRO
"""The most one top-up, payment or adjustment may move: 100,000 EUR."""
MAX_LIMIT_MICRO = 100_000 * MICRO
"""The highest credit limit or daily limit: 100,000 EUR."""
MAX_BALANCE_MICRO = 1_000_000 * MICRO
"""The highest balance a top-up may leave on an account: 1,000,000 EUR."""

CHARGE_KINDS = (CALL_CHARGE, SMS_CHARGE, RECURRING_FEE)
"""Kinds :func:`charge` writes (as negative amounts)."""


@dataclass(frozen=True, slots=True)
class Account:
    """One billing account (see :data:`billing.tables.accounts`)."""

    id: int
    code: str
    subscriber_id: int | None
    kind: str
    credit_limit_micro: int
    daily_limit_micro: int | None
    status: str
    monthly_fee_micro: int
    included_seconds: int
    tariff: str
    language: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger entry; ``amount_micro`` is signed (+ credit, − debit)."""

    id: int
    account_id: int
    kind: str
    amount_micro: int
    created_at: datetime
    reference: str
    idempotency_key: str | None
    cdr_id: int | None


ACCOUNT_COLUMNS = [accounts.c[f.name] for f in fields(Account)]
"""The columns of :class:`Account`, in its fields' order."""
ACCOUNT_ID = accounts.c.id
"""The account's id column, which the fragments below correlate on."""
_ENTRY_COLUMNS = [ledger_entries.c[f.name] for f in fields(LedgerEntry)]


# -- accounts -------------------------------------------------------------------


async def open_account(
    db: Db,
    *,
    code: str,
    kind: str = PREPAID,
    credit_limit_micro: int = 0,
    daily_limit_micro: int | None = None,
    monthly_fee_micro: int = 0,
    included_seconds: int = 0,
    tariff: str = DEFAULT_TARIFF,
    language: str | None = None,
    subscriber_id: int | None = None,
    now: datetime | None = None,
) -> Account:
    """Open an account for the Asterisk accountcode ``code`` and return it.

    Raise :class:`AccountCodeTakenError` if the code is taken, and
    :class:`InvalidAmountError` for a negative limit, fee or bundle, or a
    credit limit on a prepaid account.
    """
    if kind not in (PREPAID, POSTPAID):
        raise InvalidAmountError(f"kind must be prepaid or postpaid, not {kind!r}")
    if not code or len(code) > 80:
        raise InvalidAmountError("code must be 1 to 80 characters (an Asterisk accountcode)")
    for name, value, maximum in (
        ("credit_limit_micro", credit_limit_micro, MAX_LIMIT_MICRO),
        ("monthly_fee_micro", monthly_fee_micro, None),
        ("included_seconds", included_seconds, None),
        ("daily_limit_micro", daily_limit_micro or 0, MAX_LIMIT_MICRO),
    ):
        require_micro(name, value, minimum=0, maximum=maximum)
    if kind == PREPAID and credit_limit_micro:
        raise InvalidAmountError("a prepaid account has no credit limit", field="credit_limit")
    values = {
        "code": code,
        "kind": kind,
        "credit_limit_micro": credit_limit_micro,
        "daily_limit_micro": daily_limit_micro,
        "status": ACTIVE,
        "monthly_fee_micro": monthly_fee_micro,
        "included_seconds": included_seconds,
        "tariff": tariff,
        "language": language,
        "subscriber_id": subscriber_id,
        "created_at": now or utc_now(),
    }
    async with transaction(db) as conn:
        statement = insert_or_skip(conn, accounts, accounts.c.code).values(values)
        row = (await conn.execute(statement.returning(*ACCOUNT_COLUMNS))).first()
    if row is None:
        raise AccountCodeTakenError(code)
    return account_from(row)


async def find_account(db: Db, code: str) -> Account | None:
    """Return the account with accountcode ``code``, or None."""
    async with transaction(db) as conn:
        row = (await conn.execute(select(*ACCOUNT_COLUMNS).where(accounts.c.code == code))).first()
    return None if row is None else account_from(row)


async def get_account(db: Db, account_id: int) -> Account:
    """Return the account ``account_id``; raise :class:`UnknownAccountError`."""
    async with transaction(db) as conn:
        row = (await conn.execute(_account_query(account_id))).first()
    if row is None:
        raise UnknownAccountError(account_id)
    return account_from(row)


async def set_account_status(db: Db, account_id: int, status: str) -> Account:
    """Set the account ``active`` or ``suspended`` and return it."""
    if status not in ACCOUNT_STATUSES:
        raise InvalidAmountError(f"status must be one of {ACCOUNT_STATUSES}, not {status!r}")
    async with transaction(db) as conn:
        row = (
            await conn.execute(
                accounts.update()
                .where(accounts.c.id == account_id)
                .values(status=status)
                .returning(*ACCOUNT_COLUMNS)
            )
        ).first()
    if row is None:
        raise UnknownAccountError(account_id)
    return account_from(row)


async def locked_account(conn: AsyncConnection, account_id: int) -> Account:
    """Return the account row locked for the rest of ``conn``'s transaction.

    ``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds
    the database's write lock. Raise :class:`UnknownAccountError`.
    """
    row = (await conn.execute(_account_query(account_id).with_for_update())).first()
    if row is None:
        raise UnknownAccountError(account_id)
    return account_from(row)


@dataclass(frozen=True, slots=True)
class BillingTerms:
    """What rating an account's CDRs needs of it."""

    id: int
    code: str
    included_seconds: int
    tariff: str


async def locked_billing_terms(
    conn: AsyncConnection, codes: Iterable[str]
) -> dict[str, BillingTerms]:
    """Return the billing terms of the accounts with these codes, keyed by code,
    their rows locked in id order.

    Always locking in id order means two transactions locking overlapping
    sets wait for each other instead of deadlocking.
    """
    rows = await select_where_in(
        conn,
        accounts,
        ["id", "code", "included_seconds", "tariff"],
        "code",
        list(set(codes)),
        order_by="id",
        for_update=True,
    )
    return {row.code: BillingTerms(*row) for row in rows}


# -- writing entries ----------------------------------------------------------------


async def top_up(
    db: Db,
    account_id: int,
    amount_micro: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Credit a (prepaid) account with ``amount_micro`` (0 < amount <=
    :data:`MAX_OPERATION_MICRO`); return the entry. Refused when it would
    bring the balance above :data:`MAX_BALANCE_MICRO`, unless it repeats an
    entry by its ``idempotency_key`` (which adds nothing)."""
    require_micro("amount_micro", amount_micro, minimum=1, maximum=MAX_OPERATION_MICRO)
    async with transaction(db) as conn:
        await locked_account(conn, account_id)
        if idempotency_key is None or await entry_with_idempotency_key(conn, idempotency_key) is None:
            balance = await balance_micro(conn, account_id)
            if balance + amount_micro > MAX_BALANCE_MICRO:
                raise InvalidAmountError(
                    f"{format_amount(amount_micro)} would bring the balance to"
                    f" {format_amount(balance + amount_micro)}; an account holds at most"
                    f" {format_amount(MAX_BALANCE_MICRO)}",
                    field="amount",
                )
        return await append_entry(
            conn, account_id, TOPUP, amount_micro, reference=reference,
            idempotency_key=idempotency_key, now=now,
        )


async def add_payment(
    db: Db,
    account_id: int,
    amount_micro: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Record a payment of ``amount_micro`` (0 < amount <= :data:`MAX_OPERATION_MICRO`;
    postpaid: it reduces what is owed)."""
    require_micro("amount_micro", amount_micro, minimum=1, maximum=MAX_OPERATION_MICRO)
    return await _append(
        db, account_id, PAYMENT, amount_micro, reference, idempotency_key, None, now
    )


async def add_adjustment(
    db: Db,
    account_id: int,
    amount_micro: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    cdr_id: int | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Record a signed, non-zero correction (+ in the customer's favour) of
    at most :data:`MAX_OPERATION_MICRO` either way."""
    require_micro("amount_micro", amount_micro, minimum=-MAX_OPERATION_MICRO, maximum=MAX_OPERATION_MICRO)
    if amount_micro == 0:
        raise InvalidAmountError("an adjustment of 0 changes nothing")
    return await _append(
        db, account_id, ADJUSTMENT, amount_micro, reference, idempotency_key, cdr_id, now
    )


async def charge(
    db: Db,
    account_id: int,
    cost_micro: int,
    *,
    kind: str = CALL_CHARGE,
    reference: str = "",
    idempotency_key: str | None = None,
    cdr_id: int | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Debit ``cost_micro`` > 0 (written as a negative entry of ``kind``); return the entry."""
    if kind not in CHARGE_KINDS:
        raise InvalidAmountError(f"kind must be one of {CHARGE_KINDS}, not {kind!r}")
    require_micro("cost_micro", cost_micro, minimum=1)
    return await _append(db, account_id, kind, -cost_micro, reference, idempotency_key, cdr_id, now)


async def append_entry(
    conn: AsyncConnection,
    account_id: int,
    kind: str,
    amount_micro: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    cdr_id: int | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Append one entry in ``conn``'s transaction, whose caller holds the account lock.

    With an ``idempotency_key`` already used for the same account, kind and
    amount, return that entry instead of writing another; for a different
    one raise :class:`IdempotencyKeyReusedError`.
    """
    values = {
        "account_id": account_id,
        "kind": kind,
        "amount_micro": amount_micro,
        "created_at": now or utc_now(),
        "reference": reference,
        "idempotency_key": idempotency_key,
        "cdr_id": cdr_id,
    }
    if idempotency_key is None:
        statement = ledger_entries.insert().values(values)
    else:
        statement = insert_or_skip(conn, ledger_entries, ledger_entries.c.idempotency_key).values(
            values
        )
    row = (await conn.execute(statement.returning(*_ENTRY_COLUMNS))).first()
    if row is not None:
        return _entry(row)
    existing = await entry_with_idempotency_key(conn, idempotency_key)  # type: ignore[arg-type]
    assert existing is not None, "an idempotency key conflicted with no entry"
    if (existing.account_id, existing.kind, existing.amount_micro) != (
        account_id,
        kind,
        amount_micro,
    ):
        raise IdempotencyKeyReusedError(idempotency_key)  # type: ignore[arg-type]
    return existing


async def entry_with_idempotency_key(db: Db, idempotency_key: str) -> LedgerEntry | None:
    """Return the entry written with ``idempotency_key``, or None."""
    async with transaction(db) as conn:
        row = (
            await conn.execute(
                select(*_ENTRY_COLUMNS).where(ledger_entries.c.idempotency_key == idempotency_key)
            )
        ).first()
    return None if row is None else _entry(row)


async def _append(
    db: Db,
    account_id: int,
    kind: str,
    amount_micro: int,
    reference: str,
    idempotency_key: str | None,
    cdr_id: int | None,
    now: datetime | None,
) -> LedgerEntry:
    async with transaction(db) as conn:
        await locked_account(conn, account_id)
        return await append_entry(
            conn,
            account_id,
            kind,
            amount_micro,
            reference=reference,
            idempotency_key=idempotency_key,
            cdr_id=cdr_id,
            now=now,
        )


# -- reading money ----------------------------------------------------------------


async def balance_micro(db: Db, account_id: int) -> int:
    """Return the account's balance: the SUM of its ledger entries (see sign convention)."""
    async with transaction(db) as conn:
        return int(await conn.scalar(select(balance_of(account_id))))


async def reserved_micro(db: Db, account_id: int, now: datetime | None = None) -> int:
    """Return what the account's live, unexpired reservations hold."""
    async with transaction(db) as conn:
        return int(await conn.scalar(select(reserved_of(account_id, now or utc_now()))))


async def available_credit_micro(db: Db, account_id: int, now: datetime | None = None) -> int:
    """Return balance + credit limit − live reservations (may be negative)."""
    async with transaction(db) as conn:
        account = await get_account(conn, account_id)
        balance = await balance_micro(conn, account_id)
        return balance + account.credit_limit_micro - await reserved_micro(conn, account_id, now)


async def spent_today_micro(db: Db, account_id: int, now: datetime | None = None) -> int:
    """Return the usage charged today (Europe/Bucharest day of ``now``), as a positive amount."""
    async with transaction(db) as conn:
        return int(await conn.scalar(select(usage_between(account_id, *today(now or utc_now())))))


@dataclass(frozen=True, slots=True)
class AccountMoney:
    """An account with its money read together: balance, what live
    reservations hold and today's usage (see :func:`account_money`)."""

    account: Account
    balance_micro: int
    reserved_micro: int
    spent_today_micro: int

    @property
    def available_micro(self) -> int:
        """Balance + credit limit − live reservations (may be negative)."""
        return self.balance_micro + self.account.credit_limit_micro - self.reserved_micro


async def account_money(db: Db, account_id: int, now: datetime | None = None) -> AccountMoney:
    """Return the account and its money in one statement (an admin page's
    read: no lock, so a write committing meanwhile is seen whole or not at
    all); raise :class:`UnknownAccountError`."""
    async with transaction(db) as conn:
        row = (await conn.execute(_money_query(account_id, now or utc_now()))).first()
    if row is None:
        raise UnknownAccountError(account_id)
    *columns, balance, reserved, spent = row
    return AccountMoney(account_from(columns), int(balance), int(reserved), int(spent))


def _money_query(account_id: int, now: datetime) -> Any:
    return select(
        *ACCOUNT_COLUMNS, balance_of(ACCOUNT_ID), reserved_of(ACCOUNT_ID, now), usage_between(ACCOUNT_ID, *today(now))
    ).where(ACCOUNT_ID == account_id)


# The same sums as SQL expressions, so a hot path (call admission) can read
# them with the account in one statement. ``account_id`` may be a value or
# a column (:data:`ACCOUNT_ID`: the subquery is then correlated).


def account_with_code(code: Any) -> Any:
    """``SELECT`` the :data:`ACCOUNT_COLUMNS` of the account whose code is
    ``code`` (a value, a bind parameter or a scalar subquery): a statement
    another package extends with its own columns and joins on
    :data:`ACCOUNT_ID` (admission's one-statement decision)."""
    return select(*ACCOUNT_COLUMNS).where(accounts.c.code == code)


def lock_account_with_code(code: Any) -> Any:
    """``SELECT … FOR UPDATE`` of the id of the account whose code is ``code``:
    taken first, it makes the sums read after it include every transaction
    that held the account before (PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
    already holds the database)."""
    return select(accounts.c.id).where(accounts.c.code == code).with_for_update()


def balance_of(account_id: Any) -> Any:
    """The account's balance (SUM of its entries) as a scalar subquery."""
    return (
        select(func.coalesce(func.sum(ledger_entries.c.amount_micro), 0))
        .where(ledger_entries.c.account_id == account_id)
        .scalar_subquery()
    )


def reserved_of(account_id: Any, now: Any) -> Any:
    """What the account's live, unexpired reservations hold, as a scalar subquery."""
    return (
        select(func.coalesce(func.sum(reservations.c.amount_micro), 0))
        .where(
            reservations.c.account_id == account_id,
            reservations.c.state == LIVE,
            reservations.c.expires_at > now,
        )
        .scalar_subquery()
    )


def usage_between(account_id: Any, start: Any, end: Any) -> Any:
    """The usage charged in [start, end) (positive) as a scalar subquery;
    :func:`today` gives today's bounds (see :func:`spent_today_micro`)."""
    return (
        select(-func.coalesce(func.sum(ledger_entries.c.amount_micro), 0))
        .where(
            ledger_entries.c.account_id == account_id,
            # OR of plain comparisons, not IN: an IN list is expanded at
            # every execution, which costs the hot path more than the query
            or_(*(ledger_entries.c.kind == kind for kind in USAGE_KINDS)),
            ledger_entries.c.created_at >= start,
            ledger_entries.c.created_at < end,
        )
        .scalar_subquery()
    )


def today(now: datetime) -> tuple[datetime, datetime]:
    """Return the bounds of the Europe/Bucharest day ``now`` falls on."""
    start = day_start(now)
    return start, day_start(start + timedelta(hours=36))


async def budgets(conn: AsyncConnection, account: Account, now: datetime) -> tuple[int, int]:
    """Return the account's :func:`budgets_micro`, read in one statement."""
    row = (await conn.execute(select(
        balance_of(account.id), reserved_of(account.id, now), usage_between(account.id, *today(now))
    ))).one()
    return budgets_micro(account, *(int(value) for value in row))


def budgets_micro(account: Account, balance: int, reserved: int, spent_today: int) -> tuple[int, int]:
    """Return (available credit, what the daily limit leaves), both net of
    live reservations; the second is the first when there is no daily limit."""
    credit = balance + account.credit_limit_micro - reserved
    if account.daily_limit_micro is None:
        return credit, credit
    return credit, account.daily_limit_micro - spent_today - reserved


def day_start(instant: datetime) -> datetime:
    """Return midnight Europe/Bucharest of the day ``instant`` falls on (aware)."""
    local = instant.astimezone(CONTRACT_TZ)
    return datetime.combine(local.date(), time(0), CONTRACT_TZ)


async def list_entries(db: Db, account_id: int) -> list[LedgerEntry]:
    """Return the account's ledger entries, oldest first."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            select(*_ENTRY_COLUMNS)
            .where(ledger_entries.c.account_id == account_id)
            .order_by(ledger_entries.c.id)
        )
        return [_entry(row) for row in rows]


async def entries_newest_first(db: Db, account_id: int, *, before_id: int | None = None,
                               limit: int = 50) -> list[LedgerEntry]:
    """Return up to ``limit`` of the account's ledger entries, newest first,
    with an id below ``before_id`` (None: from the newest). Keyset
    pagination: pass the last id returned as ``before_id`` for the next page."""
    query = select(*_ENTRY_COLUMNS).where(ledger_entries.c.account_id == account_id)
    if before_id is not None:
        query = query.where(ledger_entries.c.id < before_id)
    async with transaction(db) as conn:
        rows = await conn.execute(query.order_by(ledger_entries.c.id.desc()).limit(limit))
        return [_entry(row) for row in rows]


# -- helpers ----------------------------------------------------------------------


def require_micro(
    name: str, value: Any, minimum: int | None = None, maximum: int | None = None
) -> None:
    """Raise :class:`InvalidAmountError` unless ``value`` is an int (not
    bool) from ``minimum`` to ``maximum``. For a ``name`` ending in
    ``_micro`` the message speaks euros (``amount must be at least
    0.000001 EUR, not -5.00 EUR``), never micro-euros."""
    # bool is an int, float is not money: refuse both
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAmountError(f"{name} must be an integer number of micro-euros, not {value!r}")
    shown: Any = str
    if name.endswith("_micro"):
        name, shown = name.removesuffix("_micro"), format_amount
    if minimum is not None and value < minimum:
        raise InvalidAmountError(
            f"{name} must be at least {shown(minimum)}, not {shown(value)}", field=name)
    if maximum is not None and value > maximum:
        raise InvalidAmountError(
            f"{name} must be at most {shown(maximum)}, not {shown(value)}", field=name)


def _account_query(account_id: int) -> Any:
    return select(*ACCOUNT_COLUMNS).where(accounts.c.id == account_id)


def account_from(values: Iterable[Any]) -> Account:
    """Return the :class:`Account` of ``ACCOUNT_COLUMNS``' values (a row)."""
    return Account(*values)


def _entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(*row)
