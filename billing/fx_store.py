"""BNR exchange rates kept in the database, and the rate an invoice uses.

Rates arrive from BNR's XML (:mod:`billing.fx_fetch`, source ``bnr``) or
from the operator (``clickphone fx set``, source ``manual``). Both are kept;
for one day and currency the **manual rate wins** — it exists to correct or
stand in for BNR's. Values are RON per ONE unit (BNR's ``multiplier`` is
divided out by :func:`billing.fx_bnr.parse_bnr_xml`), stored as their exact
decimal text.

The rate of an invoice (:func:`rate_for_invoice`)
    The EUR rate BNR published **before** the issue date: the latest
    publication strictly before it, at most ``max_age_days`` old (weekends
    and holidays have none). Why not a publication of the issue date
    itself: BNR publishes around 13:00, so an invoice run at 00:05 could
    not use it, and a re-run in the afternoon would then pick another rate
    for the same issue date; the Romanian Fiscal Code (art. 290) likewise
    converts at the rate communicated the day before. ``same_day=True``
    counts the issue date's own publication too. No rate, or a stale one,
    raises :class:`~billing.fx_bnr.MissingRateError` /
    :class:`~billing.fx_bnr.StaleRateError`: no invoice is issued without
    a valid rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.fx_bnr import BASE_CURRENCY, FxError, rate_valid_on
from billing.invoicing.tables import BNR, FX_SOURCES, MANUAL, fx_rates
from sqlbase import Db, dialect_insert, transaction, utc_now

INVOICE_CURRENCY = "EUR"
"""The currency prices and the ledger are in; invoices convert it to RON."""

DEFAULT_MAX_AGE_DAYS = 7
"""How old the rate of an invoice may be: covers weekends and BNR's longest holiday breaks."""


class InvalidRateError(FxError, ValueError):
    """A rate given by hand is not a positive finite decimal (or names no currency)."""


@dataclass(frozen=True, slots=True)
class StoredRate:
    """A rate as used: RON per one ``currency``, the publication day and where it came from."""

    currency: str
    day: date
    rate: Decimal
    source: str


async def store_rates(
    db: Db,
    rates: Mapping[date, Mapping[str, Decimal]],
    *,
    source: str = BNR,
    now: datetime | None = None,
) -> int:
    """Store ``{day: {currency: RON per unit}}`` from ``source``, replacing what
    that source said for the same day and currency; return how many rates were
    given. Storing the same rates again changes nothing."""
    if source not in FX_SOURCES:
        raise InvalidRateError(f"source must be one of {FX_SOURCES}, not {source!r}")
    rows = []
    for day, day_rates in rates.items():
        for currency, rate in day_rates.items():
            rows.append(
                {
                    "day": day,
                    "currency": _currency(currency),
                    "source": source,
                    "ron_per_unit": _rate_text(rate),
                    "recorded_at": now or utc_now(),
                }
            )
    if not rows:
        return 0
    async with transaction(db) as conn:
        await _upsert(conn, rows)
    return len(rows)


async def set_manual_rate(
    db: Db, day: date, rate: Decimal | str, *, currency: str = INVOICE_CURRENCY, now: datetime | None = None
) -> StoredRate:
    """Record the operator's rate for ``day`` (it wins over BNR's of that day); return it."""
    value = parse_rate(rate)
    currency = _currency(currency)
    await store_rates(db, {day: {currency: value}}, source=MANUAL, now=now)
    return StoredRate(currency, day, value, MANUAL)


async def stored_rate_on(db: Db, day: date, currency: str = INVOICE_CURRENCY) -> StoredRate | None:
    """Return the rate stored for exactly ``day`` (manual over BNR), or None."""
    currency = _currency(currency)
    async with transaction(db) as conn:
        rows = (
            await conn.execute(
                select(fx_rates.c.source, fx_rates.c.ron_per_unit).where(
                    fx_rates.c.day == day, fx_rates.c.currency == currency
                )
            )
        ).all()
    by_source = {row.source: row.ron_per_unit for row in rows}
    for source in (MANUAL, BNR):
        if source in by_source:
            return StoredRate(currency, day, Decimal(by_source[source]), source)
    return None


async def rate_for_invoice(
    db: Db,
    issue_date: date,
    *,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    same_day: bool = False,
    currency: str = INVOICE_CURRENCY,
) -> StoredRate:
    """Return the rate an invoice issued on ``issue_date`` converts at (see module docstring).

    Raise :class:`~billing.fx_bnr.MissingRateError` when no rate was
    published before the issue date, :class:`~billing.fx_bnr.StaleRateError`
    when the latest is more than ``max_age_days`` old.
    """
    currency = _currency(currency)
    last_day = issue_date if same_day else issue_date - timedelta(days=1)
    async with transaction(db) as conn:
        latest_day = await conn.scalar(
            select(fx_rates.c.day)
            .where(fx_rates.c.currency == currency, fx_rates.c.day <= last_day)
            .order_by(fx_rates.c.day.desc())
            .limit(1)
        )
        found = None if latest_day is None else await stored_rate_on(conn, latest_day, currency)
    rates = {} if found is None else {found.day: {currency: found.rate}}
    # the kernel's rule, and its error messages, for "missing" and "stale"
    rate_valid_on(rates, currency, issue_date, max_age_days, same_day=same_day)
    assert found is not None  # rate_valid_on raised otherwise
    return found


async def stored_rates(
    db: Db, first: date, last: date, currency: str = INVOICE_CURRENCY
) -> list[StoredRate]:
    """Return the rates used for each stored day in ``[first, last]`` (manual over BNR), by day."""
    currency = _currency(currency)
    async with transaction(db) as conn:
        rows = (
            await conn.execute(
                select(fx_rates.c.day, fx_rates.c.source, fx_rates.c.ron_per_unit)
                .where(fx_rates.c.currency == currency, fx_rates.c.day >= first, fx_rates.c.day <= last)
                .order_by(fx_rates.c.day)
            )
        ).all()
    chosen: dict[date, StoredRate] = {}
    for row in rows:
        if row.day not in chosen or row.source == MANUAL:
            chosen[row.day] = StoredRate(currency, row.day, Decimal(row.ron_per_unit), row.source)
    return [chosen[day] for day in sorted(chosen)]


def parse_rate(value: Decimal | str) -> Decimal:
    """Return ``value`` as a positive finite Decimal; raise :class:`InvalidRateError`."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, str)):
        raise InvalidRateError(f"a rate is a decimal string or Decimal, not {type(value).__name__}")
    try:
        rate = Decimal(value.strip()) if isinstance(value, str) else value
    except InvalidOperation:
        raise InvalidRateError(f"rate {value!r} is not a number") from None
    if not rate.is_finite() or rate <= 0:
        raise InvalidRateError(f"rate {value!r} must be a positive number")
    if len(_rate_text(rate)) > 40:
        raise InvalidRateError(f"rate {value!r} has too many digits")
    return rate


def _rate_text(rate: Decimal) -> str:
    # plain notation, exact: '5.0720', never '5.072E+0'
    return format(rate, "f")


def _currency(currency: str) -> str:
    code = currency.strip().upper()
    if not (len(code) == 3 and code.isascii() and code.isalpha()) or code == BASE_CURRENCY:
        raise InvalidRateError(f"not a foreign ISO 4217 currency code: {currency!r}")
    return code


async def _upsert(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    statement = dialect_insert(conn, fx_rates)
    statement = statement.on_conflict_do_update(
        index_elements=[fx_rates.c.day, fx_rates.c.currency, fx_rates.c.source],
        set_={"ron_per_unit": statement.excluded.ron_per_unit, "recorded_at": statement.excluded.recorded_at},
        # a value already stored is left as it was (and not counted)
        where=fx_rates.c.ron_per_unit != statement.excluded.ron_per_unit,
    )
    await conn.execute(statement, rows)
