"""BNR reference exchange rates: parse BNR's XML, pick the rate valid on a day.

BNR (Banca Națională a României) publishes ``nbrfxrates.xml`` (the latest
day), ``nbrfxrates10days.xml`` and yearly ``nbrfxrates{YYYY}.xml`` (one
``<Cube date="…">`` per banking day), all in this shape::

    <DataSet xmlns="http://www.bnr.ro/xsd" …>
      <Header><Publisher>National Bank of Romania</Publisher>
              <PublishingDate>2025-08-01</PublishingDate>
              <MessageType>DR</MessageType></Header>
      <Body><Subject>Reference rates</Subject><OrigCurrency>RON</OrigCurrency>
        <Cube date="2025-08-01">
          <Rate currency="EUR">5.0720</Rate>
          <Rate currency="HUF" multiplier="100">1.2345</Rate> …

A rate is RON per ``multiplier`` units (default 1); :func:`parse_bnr_xml`
divides, so every value returned is RON per **one** unit, as an exact
``Decimal``. Both ``http://`` and ``https://www.bnr.ro/xsd`` namespaces are
accepted; any other is refused.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path

BNR_NAMESPACES = frozenset({"http://www.bnr.ro/xsd", "https://www.bnr.ro/xsd"})
BASE_CURRENCY = "RON"

Rates = dict[date, dict[str, Decimal]]
"""``{publication date: {currency: RON per 1 unit}}``."""


class FxError(Exception):
    """Base of the exchange-rate errors."""


class FxParseError(FxError, ValueError):
    """A file is not a BNR rates file, or holds a malformed value."""


class FxRateUnavailable(FxError, LookupError):
    """No usable rate for a currency on a day (base of the two cases below)."""

    def __init__(self, message: str, currency: str, on: date):
        self.currency = currency
        self.on = on
        super().__init__(message)


class MissingRateError(FxRateUnavailable):
    """No publication of the currency on or before the day."""


class StaleRateError(FxRateUnavailable):
    """The latest publication on or before the day is older than allowed."""

    def __init__(self, message: str, currency: str, on: date, published: date):
        self.published = published
        super().__init__(message, currency, on)


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def parse_bnr_xml(data: bytes | str) -> Rates:
    """Return ``{date: {currency: Decimal RON per 1 unit}}`` from a BNR rates file.

    Works for the daily, 10-day and yearly files. Raise :class:`FxParseError`
    on anything that is not a well-formed BNR file (the message names the
    date and currency of a bad value).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        # BNR files have none; refusing them closes entity-expansion attacks.
        raise FxParseError("DOCTYPE/ENTITY declarations are not accepted")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise FxParseError(f"not well-formed XML: {exc}") from None
    namespace, local = _split(root.tag)
    if local != "DataSet" or namespace not in BNR_NAMESPACES:
        raise FxParseError(f"root element is {root.tag!r}, expected DataSet in a BNR namespace")
    origin = root.find(f"{{{namespace}}}Body/{{{namespace}}}OrigCurrency")
    if origin is not None and (origin.text or "").strip() != BASE_CURRENCY:
        raise FxParseError(f"OrigCurrency is {origin.text!r}, expected {BASE_CURRENCY}")
    rates: Rates = {}
    for cube in root.iter(f"{{{namespace}}}Cube"):
        day_text = cube.get("date", "")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise FxParseError(f"Cube date {day_text!r} is not YYYY-MM-DD") from None
        day_rates = rates.setdefault(day, {})
        for rate in cube.iter(f"{{{namespace}}}Rate"):
            day_rates[_currency(rate, day)] = _value(rate, day)
    if not rates:
        raise FxParseError("no <Cube> with rates")
    return rates


def _currency(rate: ET.Element, day: date) -> str:
    currency = (rate.get("currency") or "").strip().upper()
    if not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        raise FxParseError(f"{day}: Rate has no ISO 4217 currency attribute ({currency!r})")
    return currency


def _value(rate: ET.Element, day: date) -> Decimal:
    currency = rate.get("currency")
    text = (rate.text or "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FxParseError(f"{day} {currency}: rate {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise FxParseError(f"{day} {currency}: rate {text!r} must be positive")
    multiplier_text = rate.get("multiplier", "1").strip()
    try:
        multiplier = int(multiplier_text)
    except ValueError:
        raise FxParseError(f"{day} {currency}: multiplier {multiplier_text!r} is not an integer") from None
    if multiplier <= 0:
        raise FxParseError(f"{day} {currency}: multiplier must be positive")
    if multiplier == 1:
        return value
    with localcontext() as ctx:
        # Exact for BNR's powers of ten; 50 digits is far beyond any published value.
        ctx.prec = 50
        return value / multiplier


def load_bnr_file(path: str | Path) -> Rates:
    """Return the rates in a BNR XML file on disk."""
    return parse_bnr_xml(Path(path).read_bytes())


def merge_rates(*sources: Mapping[date, Mapping[str, Decimal]]) -> Rates:
    """Return the union of several parsed files (a later source wins on the same day and currency)."""
    merged: Rates = {}
    for source in sources:
        for day, day_rates in source.items():
            merged.setdefault(day, {}).update(day_rates)
    return merged


def rate_valid_on(
    rates: Mapping[date, Mapping[str, Decimal]],
    currency: str,
    on: date,
    max_age_days: int = 7,
    *,
    same_day: bool = True,
) -> Decimal:
    """Return RON per 1 ``currency``: the latest publication on or before ``on``.

    ``max_age_days`` bounds how old that publication may be (weekends and
    holidays have none, so a few days is normal). With ``same_day=False``
    only publications strictly before ``on`` count (the rate BNR publishes
    on a day is often applied from the next day). ``RON`` is 1.

    Raise :class:`MissingRateError` when no publication of ``currency``
    qualifies, :class:`StaleRateError` when the latest is too old.
    """
    currency = currency.upper()
    if currency == BASE_CURRENCY:
        return Decimal(1)
    last_day = on if same_day else on - timedelta(days=1)
    candidates = [d for d, day_rates in rates.items() if d <= last_day and currency in day_rates]
    if not candidates:
        raise MissingRateError(
            f"no BNR rate for {currency} published on or before {last_day.isoformat()}",
            currency,
            on,
        )
    published = max(candidates)
    age = (on - published).days
    if age > max_age_days:
        raise StaleRateError(
            f"latest BNR rate for {currency} before {on.isoformat()} is from "
            f"{published.isoformat()}, {age} days old (at most {max_age_days} allowed)",
            currency,
            on,
            published,
        )
    return rates[published][currency]
