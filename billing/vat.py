"""Romanian VAT: dated standard rates (data) and VAT on net amounts.

The rates live in ``billing/data/vat_ro.csv`` (``effective_from,
rate_percent,description``): 19 % before 2025-08-01, 21 % from that day.
Which date to ask for (issue date, tax point) is the invoicing caller's
decision; this module answers "what rate applies on this day".

VAT is computed per amount as ``net × rate`` and rounded once, half-up, to
the micro-unit (:func:`billing.money.multiply_micro`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from billing import money
from billing._datafile import DataFileError, open_lines, packaged_lines, read_rows


class NoVatRate(LookupError):
    """No VAT rate is known for the requested day (before the first row)."""


@dataclass(frozen=True, slots=True)
class VatRate:
    """A VAT rate in force from ``effective_from`` (``rate`` as a fraction, e.g. 0.21)."""

    effective_from: date
    rate: Decimal
    description: str = ""


class VatTable:
    """Dated VAT rates; each applies until the next one starts."""

    def __init__(self, rates: Iterable[VatRate]):
        self.rates: tuple[VatRate, ...] = tuple(sorted(rates, key=lambda r: r.effective_from))
        if not self.rates:
            raise ValueError("a VAT table needs at least one rate")
        days = [r.effective_from for r in self.rates]
        if len(set(days)) != len(days):
            raise ValueError("two VAT rates start on the same day")
        self._days = days

    def rate_on(self, day: date) -> Decimal:
        """Return the VAT rate (fraction) in force on ``day``; raise :class:`NoVatRate` before the first."""
        i = bisect.bisect_right(self._days, day) - 1
        if i < 0:
            raise NoVatRate(f"no VAT rate known for {day.isoformat()}")
        return self.rates[i].rate


def read_vat_csv(lines: Iterable[str], source: str = "VAT table") -> VatTable:
    """Parse a VAT CSV (see ``billing/data/vat_ro.csv``)."""
    rows, errors = read_rows(lines, ("effective_from", "rate_percent"), source, ("description",))
    rates = []
    for line, row in rows:
        try:
            day = date.fromisoformat(row["effective_from"])
        except ValueError:
            errors.append((line, f"effective_from is not a date: {row['effective_from']!r}"))
            continue
        try:
            percent = Decimal(row["rate_percent"])
        except InvalidOperation:
            errors.append((line, f"rate_percent is not a number: {row['rate_percent']!r}"))
            continue
        if not percent.is_finite() or not 0 <= percent < 100:
            errors.append((line, "rate_percent must be in [0, 100)"))
            continue
        rates.append(VatRate(day, percent.scaleb(-2), row.get("description", "")))
    if errors:
        raise DataFileError(source, sorted(errors))
    try:
        return VatTable(rates)
    except ValueError as exc:
        raise DataFileError(source, [(0, str(exc))]) from None


def load_vat_table(path: str | Path) -> VatTable:
    """Return the VAT table in a CSV file."""
    return read_vat_csv(open_lines(path), str(path))


@lru_cache(maxsize=1)
def default_vat_table() -> VatTable:
    """Return the Romanian VAT table shipped in ``billing/data/vat_ro.csv``."""
    return read_vat_csv(packaged_lines("vat_ro.csv"), "vat_ro.csv")


def vat_rate_on(day: date, table: VatTable | None = None) -> Decimal:
    """Return the standard VAT rate (fraction, e.g. ``Decimal('0.21')``) in force on ``day``."""
    return (table or default_vat_table()).rate_on(day)


def vat_micro(net_micro: int, day: date, table: VatTable | None = None) -> int:
    """Return the VAT on ``net_micro`` at the rate in force on ``day``, rounded half-up once."""
    return money.multiply_micro(net_micro, vat_rate_on(day, table))


def gross_micro(net_micro: int, day: date, table: VatTable | None = None) -> int:
    """Return ``net_micro`` plus its VAT on ``day``."""
    return net_micro + vat_micro(net_micro, day, table)
