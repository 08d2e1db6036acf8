"""Tariff plans as data: versioned plans of rates, and their CSV file.

A :class:`Rate` prices one destination for one service:

* ``destination`` is either a **class name** (``ro_fixed``, ``ro_mobile``,
  ``on_net``, … — see :data:`billing.numbering.NUMBER_CLASSES`) or a **digit
  prefix** in canonical E.164 form (``49``, ``4917``) for international
  destinations;
* voice: ``price_eur`` per minute, charged as ``first_block_s`` seconds whole
  then in steps of ``increment_s`` seconds (CGRateS's two rate intervals in one
  row: the contract's "first minute whole, then per second" is 60/1), plus a
  ``connect_fee_eur`` per answered call;
* SMS: ``price_eur`` per message.

Lookup (:meth:`Plan.rate_for`): an ``international`` number takes the longest
matching prefix rate, falling back to the ``international`` class rate; every
other class takes its class rate. No rate means the destination is barred in
that plan (the default plan prices no ``premium`` numbers).

A :class:`Plan` is one version (name, version, effective_from, optional
effective_to); a :class:`Tariff` holds the versions of one plan and picks the
one in effect at a call's start (a version ends at its ``effective_to`` or
when the next version starts, whichever is first).

Tariff CSV (``billing/data/annex_b.csv`` is the shipped example)
    UTF-8, comma-separated, ``#`` lines are comments, first row is the header::

        plan,version,effective_from,effective_to,service,destination,
        price_eur,first_block_s,increment_s,connect_fee_eur,description

    ============== ==========================================================
    plan           plan name, e.g. ``annex_b``
    version        version label, unique within the plan
    effective_from ``YYYY-MM-DD`` (00:00 Europe/Bucharest) or an ISO datetime
                   (naive = Europe/Bucharest; an explicit offset is honoured)
    effective_to   same forms, or empty for open-ended; exclusive
    service        ``voice`` or ``sms``
    destination    class name or digit prefix (see above)
    price_eur      decimal with a dot, ≥ 0: EUR/minute (voice) or EUR/message
                   (sms, at most 6 decimals)
    first_block_s  voice: seconds charged whole (default 60); sms: empty
    increment_s    voice: step after the first block (default 1); sms: empty
    connect_fee_eur voice: EUR per answered call, at most 6 decimals (default 0)
    description    free text
    ============== ==========================================================

    Every row repeats its plan's metadata, so one file can hold several plans
    and versions; all rows of a version must agree on its dates.
    :func:`read_tariff_csv` checks everything and raises
    :class:`~billing._datafile.DataFileError` listing ``(line, message)``.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from billing import money
from billing._datafile import DataFileError, open_lines, packaged_lines, read_rows
from billing.numbering import (
    COUNTRY_CODE,
    INTERNATIONAL,
    INVALID,
    NUMBER_CLASSES,
    Classification,
    PrefixTable,
)

VOICE = "voice"
SMS = "sms"
SERVICES = (VOICE, SMS)

CONTRACT_TZ = ZoneInfo("Europe/Bucharest")
"""Legal time of the contract: date-only tariff dates are midnight here."""

TARIFF_COLUMNS = (
    "plan",
    "version",
    "effective_from",
    "effective_to",
    "service",
    "destination",
    "price_eur",
    "first_block_s",
    "increment_s",
    "connect_fee_eur",
    "description",
)

_RATED_CLASSES = frozenset(NUMBER_CLASSES) - {INVALID}


class NoPlanInEffect(LookupError):
    """No version of a tariff is in effect at the given instant."""


@dataclass(frozen=True, slots=True)
class Rate:
    """The price of one destination for one service (see module docstring).

    The ``scale_*`` and ``*_micro`` fields are integers derived once, so that
    rating a call is integer arithmetic only.
    """

    destination: str
    price_eur: Decimal
    service: str = VOICE
    first_block: int = 60
    increment: int = 1
    connect_fee_eur: Decimal = Decimal(0)
    description: str = ""
    # Derived (see billing.money.Scaler): cost of s seconds = (a*s + h) // d.
    scale_a: int = field(init=False, repr=False, compare=False)
    scale_h: int = field(init=False, repr=False, compare=False)
    scale_d: int = field(init=False, repr=False, compare=False)
    connect_fee_micro: int = field(init=False, repr=False, compare=False)
    price_micro: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES}, not {self.service!r}")
        if self.first_block < 0 or self.increment < 1:
            raise ValueError("need first_block >= 0 and increment >= 1")
        if not self.is_prefix and self.destination not in _RATED_CLASSES:
            raise ValueError(f"destination must be a digit prefix or a class, not {self.destination!r}")
        scaler = money.scaler_for(self.price_eur, 60)
        object.__setattr__(self, "scale_a", scaler.a)
        object.__setattr__(self, "scale_h", scaler.h)
        object.__setattr__(self, "scale_d", scaler.d)
        object.__setattr__(self, "connect_fee_micro", money.to_micro_exact(self.connect_fee_eur))
        # Per-message price: whole micro-euros for SMS; for voice the per-minute
        # price is not charged as such, and may have more decimals.
        object.__setattr__(
            self,
            "price_micro",
            money.to_micro_exact(self.price_eur) if self.service == SMS else -1,
        )

    @property
    def is_prefix(self) -> bool:
        """True when ``destination`` is a digit prefix rather than a class name."""
        return self.destination.isdigit() and self.destination.isascii()


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Plan:
    """One version of a tariff plan: its validity and its rates."""

    name: str
    version: str
    effective_from: datetime
    effective_to: datetime | None
    rates: tuple[Rate, ...]

    def __post_init__(self) -> None:
        if self.effective_from.tzinfo is None or (
            self.effective_to is not None and self.effective_to.tzinfo is None
        ):
            raise ValueError("plan dates must be timezone-aware")
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        # Kept in UTC: comparing aware datetimes that share one tzinfo object is
        # a plain field comparison (no utcoffset() calls) on the hot path.
        object.__setattr__(self, "effective_from", _utc(self.effective_from))
        if self.effective_to is not None:
            object.__setattr__(self, "effective_to", _utc(self.effective_to))
        by_class: dict[str, dict[str, Rate]] = {VOICE: {}, SMS: {}}
        by_prefix: dict[str, dict[str, Rate]] = {VOICE: {}, SMS: {}}
        for rate in self.rates:
            table = (by_prefix if rate.is_prefix else by_class)[rate.service]
            if rate.destination in table:
                raise ValueError(f"duplicate {rate.service} rate for {rate.destination}")
            table[rate.destination] = rate
        object.__setattr__(self, "_class_rates", by_class)
        object.__setattr__(self, "_prefix_rates", {s: PrefixTable(t) for s, t in by_prefix.items()})
        # Hot path: the voice tables bound once.
        object.__setattr__(self, "_voice_class_get", by_class[VOICE].get)
        object.__setattr__(self, "_voice_prefix_match", self._prefix_rates[VOICE].match)

    def covers(self, instant: datetime) -> bool:
        """True when ``instant`` (aware) is within ``[effective_from, effective_to)``."""
        return self.effective_from <= instant and (
            self.effective_to is None or instant < self.effective_to
        )

    def voice_rate(self, classification: Classification) -> Rate | None:
        """Return the voice :class:`Rate` for ``classification``, or None when barred."""
        number_class = classification.number_class
        if number_class == INTERNATIONAL:
            rate = self._voice_prefix_match(classification.normalised)  # type: ignore[attr-defined]
            if rate is not None:
                return rate
        return self._voice_class_get(number_class)  # type: ignore[attr-defined]

    def rate_for(self, classification: Classification, service: str = VOICE) -> Rate | None:
        """Return the :class:`Rate` of ``service`` for ``classification``, or None when barred."""
        if service == VOICE:
            return self.voice_rate(classification)
        number_class = classification.number_class
        if number_class == INTERNATIONAL:
            rate = self._prefix_rates[service].match(classification.normalised)  # type: ignore[attr-defined]
            if rate is not None:
                return rate
        return self._class_rates[service].get(number_class)  # type: ignore[attr-defined]

    def plan_at(self, instant: datetime) -> Plan | None:
        """Return this plan if it covers ``instant`` (so a Plan can stand for a Tariff)."""
        return self if self.covers(instant) else None

    @property
    def label(self) -> str:
        """``name vversion``, for messages."""
        return f"{self.name} v{self.version}"


class Tariff:
    """The versions of one plan, picked by a call's start time."""

    def __init__(self, versions: Iterable[Plan]):
        plans = sorted(versions, key=lambda p: p.effective_from)
        if not plans:
            raise ValueError("a tariff needs at least one plan version")
        names = {p.name for p in plans}
        if len(names) != 1:
            raise ValueError(f"versions of different plans: {', '.join(sorted(names))}")
        labels = [p.version for p in plans]
        if len(set(labels)) != len(labels):
            raise ValueError("duplicate version labels")
        for earlier, later in zip(plans, plans[1:]):
            if earlier.effective_from == later.effective_from:
                raise ValueError(f"versions {earlier.version} and {later.version} start together")
            if earlier.effective_to is not None and earlier.effective_to > later.effective_from:
                raise ValueError(f"version {earlier.version} overlaps {later.version}")
        self.name = plans[0].name
        self.versions: tuple[Plan, ...] = tuple(plans)
        self._starts = [p.effective_from for p in plans]

    def plan_at(self, instant: datetime) -> Plan | None:
        """Return the version in effect at ``instant`` (aware datetime), or None."""
        i = bisect.bisect_right(self._starts, instant) - 1
        if i < 0:
            return None
        plan = self.versions[i]
        if plan.effective_to is not None and instant >= plan.effective_to:
            return None
        return plan

    def plan_in_effect(self, instant: datetime) -> Plan:
        """Return the version in effect at ``instant``; raise :class:`NoPlanInEffect` if none."""
        plan = self.plan_at(instant)
        if plan is None:
            raise NoPlanInEffect(f"no version of {self.name} in effect at {instant.isoformat()}")
        return plan


# -- CSV ----------------------------------------------------------------------


def parse_tariff_instant(text: str) -> datetime:
    """Parse a tariff date: ``YYYY-MM-DD`` or ISO datetime; naive means Europe/Bucharest."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time(0), CONTRACT_TZ)
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=CONTRACT_TZ)
    return value


def format_tariff_instant(value: datetime) -> str:
    """Format a plan date as written by :func:`write_tariff_csv` (date when local midnight)."""
    local = value.astimezone(CONTRACT_TZ)
    if local.time() == time(0):
        return local.date().isoformat()
    return value.isoformat()


def _decimal(text: str, what: str, problems: list[str]) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        problems.append(f"{what} must be a decimal number with a dot, not {text!r}")
        return None
    if not value.is_finite() or value < 0:
        problems.append(f"{what} must be a finite number >= 0, not {text!r}")
        return None
    return value


def _int(text: str, default: int, what: str, minimum: int, problems: list[str]) -> int:
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        problems.append(f"{what} must be a whole number of seconds, not {text!r}")
        return default
    if value < minimum:
        problems.append(f"{what} must be >= {minimum}")
    return value


def read_tariff_csv(lines: Iterable[str], source: str = "tariff file") -> dict[str, Tariff]:
    """Return the tariffs in a tariff CSV, keyed by plan name; validate everything.

    Raise :class:`DataFileError` whose ``errors`` list every problem as
    ``(line_number, message)``.
    """
    rows, errors = read_rows(lines, TARIFF_COLUMNS[:7], source, optional=TARIFF_COLUMNS[7:])
    # (plan, version) -> [first line, effective_from, effective_to, rates]
    versions: dict[tuple[str, str], list] = {}
    seen: set[tuple[str, str, str, str]] = set()
    for line, row in rows:
        problems: list[str] = []
        name, version, service, dest = row["plan"], row["version"], row["service"], row["destination"]
        if not name:
            problems.append("plan is empty")
        if not version:
            problems.append("version is empty")
        start = end = None
        try:
            start = parse_tariff_instant(row["effective_from"])
        except ValueError:
            problems.append(f"effective_from is not a date: {row['effective_from']!r}")
        if row["effective_to"]:
            try:
                end = parse_tariff_instant(row["effective_to"])
            except ValueError:
                problems.append(f"effective_to is not a date: {row['effective_to']!r}")
        if start and end and end <= start:
            problems.append("effective_to must be after effective_from")
        if service not in SERVICES:
            problems.append(f"service must be voice or sms, not {service!r}")
        is_prefix = dest.isdigit() and dest.isascii()
        if not is_prefix and dest not in _RATED_CLASSES:
            problems.append(
                f"destination must be a digit prefix or one of {', '.join(sorted(_RATED_CLASSES))}, "
                f"not {dest!r}"
            )
        if is_prefix and dest.startswith(COUNTRY_CODE):
            problems.append(
                f"prefix {dest} would never match: numbers under +{COUNTRY_CODE} are rated by class"
            )
        price = _decimal(row["price_eur"], "price_eur", problems)
        fee_text = row.get("connect_fee_eur", "")
        fee = _decimal(fee_text, "connect_fee_eur", problems) if fee_text else Decimal(0)
        block_text, inc_text = row.get("first_block_s", ""), row.get("increment_s", "")
        if service == SMS:
            if block_text or inc_text or (fee and fee != 0):
                problems.append("sms rates take no first_block_s, increment_s or connect_fee_eur")
            block, inc = 60, 1
            if price is not None and _has_sub_micro(price):
                problems.append("sms price_eur has more than 6 decimals")
        else:
            block = _int(block_text, 60, "first_block_s", 0, problems)
            inc = _int(inc_text, 1, "increment_s", 1, problems)
        if fee is not None and _has_sub_micro(fee):
            problems.append("connect_fee_eur has more than 6 decimals")
        key = (name, version, service, dest)
        if key in seen:
            problems.append(f"duplicate {service} rate for {dest} in {name} v{version}")
        seen.add(key)
        if problems:
            errors.extend((line, p) for p in problems)
            continue
        assert price is not None and fee is not None and start is not None
        entry = versions.setdefault((name, version), [line, start, end, []])
        if (entry[1], entry[2]) != (start, end):
            errors.append((line, f"{name} v{version} has different dates on line {entry[0]}"))
            continue
        entry[3].append(Rate(dest, price, service, block, inc, fee, row.get("description", "")))

    by_name: dict[str, list[tuple[int, Plan]]] = {}
    for (name, version), (line, start, end, rates) in versions.items():
        by_name.setdefault(name, []).append((line, Plan(name, version, start, end, tuple(rates))))
    tariffs: dict[str, Tariff] = {}
    for name, plans in by_name.items():
        try:
            tariffs[name] = Tariff(p for _, p in plans)
        except ValueError as exc:
            errors.append((min(line for line, _ in plans), f"plan {name}: {exc}"))
    if errors:
        raise DataFileError(source, sorted(errors))
    return tariffs


def _has_sub_micro(value: Decimal) -> bool:
    try:
        money.to_micro_exact(value)
    except money.MoneyError:
        return True
    return False


def tariff_rows(plans: Iterable[Plan]) -> Iterable[list[str]]:
    """Yield the CSV rows (without header) describing ``plans``."""
    for plan in plans:
        start = format_tariff_instant(plan.effective_from)
        end = format_tariff_instant(plan.effective_to) if plan.effective_to else ""
        for r in plan.rates:
            voice = r.service == VOICE
            yield [
                plan.name,
                plan.version,
                start,
                end,
                r.service,
                r.destination,
                str(r.price_eur),
                str(r.first_block) if voice else "",
                str(r.increment) if voice else "",
                str(r.connect_fee_eur) if voice else "",
                r.description,
            ]


def write_tariff_csv(tariffs: Iterable[Tariff | Plan], out: IO[str]) -> None:
    """Write ``tariffs`` (or single plan versions) as a tariff CSV readable by :func:`read_tariff_csv`."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TARIFF_COLUMNS)
    for item in tariffs:
        writer.writerows(tariff_rows(item.versions if isinstance(item, Tariff) else (item,)))


def load_tariff(path: str | Path, plan: str | None = None) -> Tariff:
    """Return one tariff from a CSV file: ``plan`` by name, or the only plan in the file."""
    return _pick(read_tariff_csv(open_lines(path), str(path)), plan, str(path))


def _pick(tariffs: Mapping[str, Tariff], plan: str | None, source: str) -> Tariff:
    if plan is not None:
        if plan not in tariffs:
            raise KeyError(f"{source} has no plan {plan!r} (has {', '.join(sorted(tariffs))})")
        return tariffs[plan]
    if len(tariffs) != 1:
        raise KeyError(f"{source} holds plans {', '.join(sorted(tariffs))}: name one")
    return next(iter(tariffs.values()))


DEFAULT_TARIFF_FILE = "annex_b.csv"


@lru_cache(maxsize=1)
def default_tariff() -> Tariff:
    """Return the contract's Annex B tariff shipped in ``billing/data/annex_b.csv``."""
    tariffs = read_tariff_csv(packaged_lines(DEFAULT_TARIFF_FILE), DEFAULT_TARIFF_FILE)
    return _pick(tariffs, None, DEFAULT_TARIFF_FILE)
