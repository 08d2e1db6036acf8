"""Exact money: integer micro-units, and the one place where rounding happens.

Representation
    Every amount the billing engine keeps is an ``int`` of micro-units:
    micro-euros (1 EUR = 1_000_000) for tariffs, usage, the ledger and fees;
    micro-RON when an invoice is converted. Prices read from data files are
    ``Decimal`` (never ``float``); they become integers here.

Rounding policy (the only rounding in ``billing/``)
    Rounding is **half-up** (ties away from zero; all billed quantities are
    non-negative) **to the micro-unit**, done **once per computed amount**,
    on the exact rational value, never on an intermediate:

    * per-call cost: ``rate_eur_per_minute × charged_seconds / 60`` exactly,
      rounded once; a connect fee is whole micro-euros and is added after
      (``rating.rate_call``, through a :class:`Scaler` built here);
    * SMS: ``price × messages`` — prices must be whole micro-euros, so exact;
    * VAT: ``net × rate`` rounded once per amount (``vat.vat_micro``);
    * late-payment penalty: ``Σ unpaid-per-day × 0.1 %`` rounded once, then
      capped (``penalty``);
    * downtime credit: ``fee × down_days / days_in_period`` rounded once
      (``recurring``);
    * EUR→RON: ``micro_eur × RON-per-EUR`` rounded once (:func:`convert_micro`).

    The functions below are the only code that rounds. ``rating``'s hot path
    inlines :func:`Scaler.apply` (``(a * x + h) // d``) for speed; it is the
    same integer formula, and a property test checks it against
    ``Decimal.quantize(ROUND_HALF_UP)``. ``tests/unit/test_money_sources.py``
    checks that no other module of any package rounds, converts to float or
    divides a money value, but the exceptions it lists with their reasons.

Why integers: ``(a*x + h) // d`` on Python ints is exact for any size, costs
tens of nanoseconds, and makes half-up rounding a floor division.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from math import gcd
from typing import NamedTuple

MICRO = 1_000_000
"""Micro-units per unit (EUR or RON)."""

AMOUNT_TEXT_LENGTH = 32
"""The longest amount :func:`micro_from_text` reads, in characters."""

# ASCII digits only ([0-9], not \d: "١٠" is not 10), one optional '-', one
# optional '.': no spaces, '+', '_' separators or exponents
_AMOUNT_TEXT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")

_MICRO_EXP = Decimal("0.000001")


class MoneyError(ValueError):
    """An amount cannot be represented exactly as required."""


def decimal_ratio(value: Decimal) -> tuple[int, int]:
    """Return ``(numerator, denominator)`` with ``value == numerator / denominator``.

    The denominator is a power of ten; exact for every finite Decimal.
    """
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {value}")
    sign, digits, exponent = value.as_tuple()
    numerator = int("".join(map(str, digits)) or "0")
    if sign:
        numerator = -numerator
    if exponent >= 0:
        return numerator * 10**exponent, 1
    return numerator, 10**-exponent


def round_half_up(numerator: int, denominator: int) -> int:
    """Return ``numerator / denominator`` rounded half-up to an integer.

    Exact integer arithmetic; ties round away from zero.
    """
    if denominator <= 0:
        raise MoneyError("denominator must be positive")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def to_micro_exact(amount: Decimal) -> int:
    """Return ``amount`` in micro-units; raise :class:`MoneyError` if that would round.

    For prices charged per unit (SMS, connect fee, monthly fee): they must be
    whole micro-units so that ``price × count`` needs no rounding.
    """
    numerator, denominator = decimal_ratio(amount)
    scaled = numerator * MICRO
    if scaled % denominator:
        raise MoneyError(f"{amount} has more than 6 decimal places")
    return scaled // denominator


def micro_from_text(text: str) -> int:
    """Return the micro-units of an amount written in decimal units
    (``"10.50"``, ``"-3"``, ``"0.000001"``); raise :class:`MoneyError` for
    anything else: more than 6 significant decimals, other characters than
    ASCII digits, one leading ``-`` and one ``.``, or more than
    :data:`AMOUNT_TEXT_LENGTH` characters."""
    if len(text) > AMOUNT_TEXT_LENGTH:
        raise MoneyError(f"an amount has at most {AMOUNT_TEXT_LENGTH} characters, not {len(text)}")
    match = _AMOUNT_TEXT.fullmatch(text)
    if match is None:
        raise MoneyError(
            f"{text!r} is not an amount like 10.50"
            " (digits 0-9 and one '.', no spaces, '+' or exponent)"
        )
    sign, whole, fraction = match.groups()
    fraction = (fraction or "").rstrip("0")
    if len(fraction) > 6:
        raise MoneyError(f"{text} has more than 6 decimal places")
    micro = int(whole) * MICRO + int(fraction.ljust(6, "0"))
    return -micro if sign else micro


def to_micro_rounded(amount: Decimal) -> int:
    """Return ``amount`` in micro-units, rounded half-up once."""
    numerator, denominator = decimal_ratio(amount)
    return round_half_up(numerator * MICRO, denominator)


def from_micro(micro: int) -> Decimal:
    """Return the exact Decimal with 6 decimal places for ``micro`` micro-units."""
    return Decimal(micro).scaleb(-6).quantize(_MICRO_EXP)  # exact: no digits dropped


def format_micro(micro: int) -> str:
    """Return ``micro`` as a string with exactly 6 decimals, e.g. ``'0.010000'``."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{frac:06d}"


def format_amount(micro: int, currency: str = "EUR") -> str:
    """Return ``micro`` as a person reads it in a message: at least 2 and at
    most 6 decimals, and the currency (``'10.50 EUR'``, ``'0.000001 EUR'``)."""
    text = format_micro(micro).rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')} {currency}"


def multiply_micro(micro: int, factor: Decimal) -> int:
    """Return ``micro × factor`` rounded half-up once to the micro-unit.

    Used for VAT (``factor`` = rate), penalties and pro-rata shares.
    """
    numerator, denominator = decimal_ratio(factor)
    return round_half_up(micro * numerator, denominator)


def share_micro(micro: int, part: int, whole: int) -> int:
    """Return ``micro × part / whole`` rounded half-up once (pro-rata shares)."""
    return round_half_up(micro * part, whole)


def convert_micro(micro: int, rate: Decimal) -> int:
    """Return ``micro`` of one currency in micro-units of another at ``rate``.

    ``rate`` is units of the target currency per one unit of the source
    (BNR: RON per 1 EUR). Rounded half-up once.
    """
    return multiply_micro(micro, rate)


def quantize_half_up(amount: Decimal, places: int = 6) -> Decimal:
    """Return ``amount`` rounded half-up to ``places`` decimals (reference form)."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class Scaler(NamedTuple):
    """Integer form of ``x ↦ round_half_up(price × x / per × 10⁶)``.

    ``apply(x) == (a * x + h) // d`` for ``x >= 0``; built once per rate so
    the hot path is one multiply, one add and one floor division.
    """

    a: int
    h: int
    d: int

    def apply(self, x: int) -> int:
        """Return the rounded micro-unit amount for quantity ``x`` (``x >= 0``)."""
        return (self.a * x + self.h) // self.d


def scaler_for(price: Decimal, per: int) -> Scaler:
    """Return the :class:`Scaler` for ``price`` per ``per`` units (e.g. EUR per 60 s)."""
    if price < 0:
        raise MoneyError(f"negative price: {price}")
    if per <= 0:
        raise MoneyError("per must be positive")
    numerator, denominator = decimal_ratio(price)
    # round_half_up(n*x*MICRO / (den*per)) == floor((2*n*MICRO*x + den*per) / (2*den*per))
    a, h, d = 2 * numerator * MICRO, denominator * per, 2 * denominator * per
    # Reduce by the common factor so the hot-path integers stay small.
    g = gcd(gcd(a, h), d)
    return Scaler(a // g, h // g, d // g)
