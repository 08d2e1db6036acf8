"""Dialled strings: their canonical form and their destination class.

Canonical form
    * E.164 digits without ``+``: ``+40 21 234 5678``, ``0040212345678`` and
      ``0212345678`` all become ``40212345678``;
    * short codes are kept as dialled: ``112``, ``116111``, ``1234``.

    Separators (spaces, tabs, no-break spaces, dashes, dots, parentheses,
    slashes) are dropped; ``(0)`` after an international prefix
    (``+40 (0)21 …``) is the trunk-prefix convention and is dropped too.
    A bare digit string without a prefix is a short code when it starts with
    ``1`` and has at most :data:`MAX_SHORT_DIGITS` digits, and is already
    canonical E.164 when it is longer — which is what makes
    :func:`normalise` idempotent.

Classes (the values of :attr:`Classification.number_class`)
    ``on_net`` (one of the operator's own DIDs — the caller passes that set or
    predicate), ``ro_fixed``, ``ro_mobile``, ``toll_free``, ``shared_cost``,
    ``premium``, ``emergency``, ``social``, ``short_code``, ``international``,
    ``invalid`` (with a reason).

The national plan and the country codes are data (``billing/data/
numbering_plan.csv``, ``billing/data/country_codes.csv``); classification is a
longest-prefix match over them followed by a digit-count check. Nothing here
raises on arbitrary text except :func:`normalise`, whose contract is to raise
:class:`InvalidNumber` for a string that is not a number at all.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

from billing._datafile import DataFileError, open_lines, packaged_lines, read_rows

ON_NET = "on_net"
RO_FIXED = "ro_fixed"
RO_MOBILE = "ro_mobile"
TOLL_FREE = "toll_free"
SHARED_COST = "shared_cost"
PREMIUM = "premium"
EMERGENCY = "emergency"
SOCIAL = "social"
SHORT_CODE = "short_code"
INTERNATIONAL = "international"
INVALID = "invalid"

NUMBER_CLASSES: tuple[str, ...] = (
    ON_NET,
    RO_FIXED,
    RO_MOBILE,
    TOLL_FREE,
    SHARED_COST,
    PREMIUM,
    EMERGENCY,
    SOCIAL,
    SHORT_CODE,
    INTERNATIONAL,
    INVALID,
)
"""Every class :func:`classify` can return (plain strings: cheap to hash)."""

ALWAYS_FREE_CLASSES: frozenset[str] = frozenset({EMERGENCY, SOCIAL, TOLL_FREE})
"""Classes that are always connected and free (architecture invariant 3)."""

COUNTRY_CODE = "40"
TRUNK_PREFIX = "0"
INTERNATIONAL_PREFIX = "00"
MAX_SHORT_DIGITS = 6
E164_MIN_DIGITS = 7
E164_MAX_DIGITS = 15

# Separators people and phones put in numbers; removed before anything else.
_SEPARATORS = " \t\r\n\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2015\u2212.()/"
_STRIP_SEPARATORS = str.maketrans("", "", _SEPARATORS)

OnNet = Container[str] | Callable[[str], bool]


class InvalidNumber(ValueError):
    """A dialled string is not a number; ``reason`` says why."""

    def __init__(self, dialled: str, reason: str):
        self.dialled = dialled
        self.reason = reason
        super().__init__(f"{dialled!r}: {reason}")


class Classification(NamedTuple):
    """What a dialled string is.

    ``normalised`` is the canonical form ('' when the string is not a number);
    ``prefix`` the matched table prefix in canonical form (``402``, ``49``,
    ``116``); ``country`` an ISO 3166 alpha-2 code ('' for global services and
    invalid numbers); ``reason`` is '' unless ``number_class == 'invalid'``.
    """

    dialled: str
    normalised: str
    number_class: str
    prefix: str
    country: str
    reason: str

    @property
    def is_valid(self) -> bool:
        """True unless the class is ``invalid``."""
        return self.number_class != INVALID


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One row of the numbering plan table."""

    scope: str  # "national" or "short"
    prefix: str
    number_class: str
    min_digits: int
    max_digits: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class CountryCode:
    """One row of the country-code table."""

    prefix: str
    iso2: str
    name: str


V = TypeVar("V")

_new = tuple.__new__


class PrefixTable(Generic[V]):
    """Longest-prefix match over a ``{digit prefix: value}`` table.

    When the table is small enough, every prefix is also expanded to the
    longest prefix length (``width``), longer prefixes overriding shorter
    ones, so that a string of at least ``width`` digits needs a single dict
    lookup: ``expanded.get(digits[:width])``. Otherwise (or for shorter
    strings) one lookup per distinct prefix length, longest first.
    """

    __slots__ = ("_table", "_lengths", "width", "expanded")

    MAX_EXPANDED = 200_000

    def __init__(self, table: Mapping[str, V]):
        self._table: dict[str, V] = dict(table)
        self._lengths: tuple[int, ...] = tuple(sorted({len(p) for p in table}, reverse=True))
        self.width = self._lengths[0] if self._lengths else 0
        size = sum(10 ** (self.width - len(p)) for p in self._table)
        self.expanded: dict[str, V] | None = None
        if self._table and size <= self.MAX_EXPANDED:
            expanded: dict[str, V] = {}
            for prefix in sorted(self._table, key=len):  # longer prefixes overwrite
                pad = self.width - len(prefix)
                value = self._table[prefix]
                for tail in range(10**pad):
                    expanded[prefix + (f"{tail:0{pad}d}" if pad else "")] = value
            self.expanded = expanded

    def match(self, digits: str) -> V | None:
        """Return the value of the longest prefix of ``digits`` in the table, or None."""
        if self.expanded is not None and len(digits) >= self.width:
            return self.expanded.get(digits[: self.width])
        get = self._table.get
        for n in self._lengths:
            value = get(digits[:n])
            if value is not None:
                return value
        return None

    def __len__(self) -> int:
        return len(self._table)

    def items(self) -> Iterable[tuple[str, V]]:
        """Return the table's ``(prefix, value)`` pairs."""
        return self._table.items()


# (class, canonical prefix, country, min digits, max digits, description) — a
# plain tuple so the hot path unpacks it without attribute lookups.
_Match = tuple[str, str, str, int, int, str]

_SCOPES = ("national", "short")
_PLAN_CLASSES = frozenset(NUMBER_CLASSES) - {ON_NET, INTERNATIONAL, INVALID}


class NumberingPlan:
    """The national plan, short codes and country codes, ready to classify."""

    def __init__(self, entries: Iterable[PlanEntry], countries: Iterable[CountryCode]):
        national: dict[str, _Match] = {}
        short: dict[str, _Match] = {}
        self.entries = tuple(entries)
        self.countries = tuple(countries)
        for e in self.entries:
            if e.scope == "national":
                national[e.prefix] = (
                    e.number_class, COUNTRY_CODE + e.prefix, "RO",
                    e.min_digits, e.max_digits, e.description,
                )  # fmt: skip
            else:
                short[e.prefix] = (
                    e.number_class, e.prefix, "RO", e.min_digits, e.max_digits, e.description
                )
        self._national = PrefixTable(national)
        self._short = PrefixTable(short)
        self._countries = PrefixTable({c.prefix: c for c in self.countries})
        # Hot path: one dict lookup on the first `width` NSN digits when expanded.
        self._national_width = self._national.width if self._national.expanded is not None else 10**6
        self._national_get = (self._national.expanded or {}).get

    # -- normalisation ------------------------------------------------------

    def canonical_or_reason(self, dialled: str) -> tuple[str, str]:
        """Return ``(canonical, '')`` or ``('', reason)``; never raises on a str."""
        s = dialled
        if not (s.isdigit() and s.isascii()):
            if "(0)" in s and s.lstrip().startswith(("+", INTERNATIONAL_PREFIX)):
                s = s.replace("(0)", "", 1)
            s = s.translate(_STRIP_SEPARATORS)
            if s[:1] == "+":
                s = s[1:]
                if not (s.isdigit() and s.isascii()):
                    return "", _reason_not_digits(s, after_plus=True)
                return _e164_or_reason(s)
            if not (s.isdigit() and s.isascii()):
                return "", _reason_not_digits(s, after_plus=False)
        if s[:2] == INTERNATIONAL_PREFIX:
            return _e164_or_reason(s[2:])
        if s[:1] == TRUNK_PREFIX:
            nsn = s[1:]
            if not nsn:
                return "", "only the trunk prefix 0"
            return _e164_or_reason(COUNTRY_CODE + nsn)
        if len(s) <= MAX_SHORT_DIGITS:
            if s[:1] == "1":
                return s, ""
            return "", f"{len(s)} digits: too short for a number and not a 1xx short code"
        return _e164_or_reason(s)

    def normalise(self, dialled: str) -> str:
        """Return the canonical form of ``dialled``; raise :class:`InvalidNumber` if it is not a number."""
        canonical, reason = self.canonical_or_reason(dialled)
        if reason:
            raise InvalidNumber(dialled, reason)
        return canonical

    # -- classification -----------------------------------------------------

    def classify(self, dialled: str, on_net: OnNet = frozenset()) -> Classification:
        """Return the :class:`Classification` of ``dialled``; never raises.

        ``on_net`` is the operator's own DIDs in canonical form: a container
        (``set``) or a predicate ``f(canonical) -> bool``.
        """
        # Hot path (national trunk form, plain digits) first; the general
        # normaliser handles everything else. Results are built with
        # tuple.__new__ because NamedTuple.__new__ is a Python-level call.
        s = dialled
        if s.isdigit() and s.isascii() and 6 <= len(s) <= 14 and s[0] == "0" and s[1] != "0":
            canonical = COUNTRY_CODE + s[1:]
        else:
            canonical, reason = self.canonical_or_reason(s)
            if reason:
                return _new(Classification, (dialled, "", INVALID, "", "", reason))
        n = len(canonical)
        if n <= MAX_SHORT_DIGITS:
            match = self._short.match(canonical)
            if match is None:
                return _new(Classification, (dialled, canonical, INVALID, "", "", "unknown short code"))
            return _checked(dialled, canonical, match, n, False)
        if canonical[:2] == COUNTRY_CODE:
            width = self._national_width
            if n - 2 >= width:
                match = self._national_get(canonical[2 : 2 + width])
            else:
                match = self._national.match(canonical[2:])
            if on_net and _is_on_net(on_net, canonical):
                prefix = match[1] if match is not None else COUNTRY_CODE
                return _new(Classification, (dialled, canonical, ON_NET, prefix, "RO", ""))
            if match is None:
                return _new(
                    Classification,
                    (dialled, canonical, INVALID, COUNTRY_CODE, "RO",
                     "range not in the Romanian numbering plan"),
                )  # fmt: skip
            number_class, prefix, iso2, lo, hi, _ = match
            if lo <= n - 2 <= hi:
                return _new(Classification, (dialled, canonical, number_class, prefix, iso2, ""))
            return _checked(dialled, canonical, match, n - 2, True)
        country = self._countries.match(canonical)
        if country is None:
            return _new(Classification, (dialled, canonical, INVALID, "", "", "unknown country code"))
        number_class = ON_NET if on_net and _is_on_net(on_net, canonical) else INTERNATIONAL
        return _new(Classification, (dialled, canonical, number_class, country.prefix, country.iso2, ""))

    def country_of(self, canonical: str) -> CountryCode | None:
        """Return the country whose calling code is the longest prefix of ``canonical``."""
        return self._countries.match(canonical)


def _checked(
    dialled: str, canonical: str, match: _Match, digits: int, national: bool
) -> Classification:
    number_class, prefix, country_iso, lo, hi, description = match
    if lo <= digits <= hi:
        return _new(Classification, (dialled, canonical, number_class, prefix, country_iso, ""))
    want = str(lo) if lo == hi else f"{lo}-{hi}"
    counted = "digits after the trunk 0" if national else "digits"
    return Classification(
        dialled, canonical, INVALID, prefix, country_iso,
        f"{description}: {want} {counted} expected, got {digits}",
    )  # fmt: skip


def _is_on_net(on_net: OnNet, canonical: str) -> bool:
    if callable(on_net):
        return bool(on_net(canonical))
    return canonical in on_net


def _e164_or_reason(digits: str) -> tuple[str, str]:
    if not digits:
        return "", "no digits after the international prefix"
    if digits[0] == "0":
        return "", "country code cannot start with 0"
    if len(digits) < E164_MIN_DIGITS:
        return "", f"{len(digits)} digits: too short for an international number"
    if len(digits) > E164_MAX_DIGITS:
        return "", f"{len(digits)} digits: E.164 allows at most {E164_MAX_DIGITS}"
    return digits, ""


def _reason_not_digits(s: str, after_plus: bool) -> str:
    if not s:
        return "no digits after +" if after_plus else "empty"
    bad = next((ch for ch in s if not ("0" <= ch <= "9")), "")
    if bad == "+":
        return "'+' is only allowed at the start"
    return f"contains {bad!r}, which is not a digit"


# -- loading ------------------------------------------------------------------

_PLAN_COLUMNS = ("scope", "prefix", "class", "min_digits", "max_digits")
_COUNTRY_COLUMNS = ("prefix", "iso2", "name")


def read_plan_entries(lines: Iterable[str], source: str = "numbering plan") -> list[PlanEntry]:
    """Parse a numbering-plan CSV (see ``billing/data/numbering_plan.csv``)."""
    rows, errors = read_rows(lines, _PLAN_COLUMNS, source, optional=("description",))
    entries: list[PlanEntry] = []
    seen: set[tuple[str, str]] = set()
    for line, row in rows:
        problems = []
        scope, prefix, cls = row["scope"], row["prefix"], row["class"]
        if scope not in _SCOPES:
            problems.append(f"scope must be one of {', '.join(_SCOPES)}, not {scope!r}")
        if not (prefix.isdigit() and prefix.isascii()):
            problems.append(f"prefix must be digits, not {prefix!r}")
        if cls not in _PLAN_CLASSES:
            problems.append(f"class must be one of {', '.join(sorted(_PLAN_CLASSES))}, not {cls!r}")
        try:
            lo, hi = int(row["min_digits"]), int(row["max_digits"])
            if not 1 <= lo <= hi:
                problems.append("need 1 <= min_digits <= max_digits")
            if scope == "short" and hi > MAX_SHORT_DIGITS:
                problems.append(f"short codes have at most {MAX_SHORT_DIGITS} digits")
        except ValueError:
            problems.append("min_digits and max_digits must be integers")
        if scope == "short" and not prefix.startswith("1"):
            problems.append("short codes start with 1")
        if (scope, prefix) in seen:
            problems.append(f"duplicate {scope} prefix {prefix}")
        seen.add((scope, prefix))
        if problems:
            errors.extend((line, p) for p in problems)
            continue
        entries.append(PlanEntry(scope, prefix, cls, lo, hi, row.get("description", "")))
    if errors:
        raise DataFileError(source, sorted(errors))
    return entries


def read_country_codes(lines: Iterable[str], source: str = "country codes") -> list[CountryCode]:
    """Parse a country-code CSV (see ``billing/data/country_codes.csv``)."""
    rows, errors = read_rows(lines, _COUNTRY_COLUMNS, source)
    codes: list[CountryCode] = []
    seen: set[str] = set()
    for line, row in rows:
        prefix = row["prefix"]
        if not (prefix.isdigit() and prefix.isascii()) or prefix[0] == "0" or len(prefix) > 4:
            errors.append((line, f"prefix must be 1-4 digits not starting with 0, not {prefix!r}"))
            continue
        if prefix in seen:
            errors.append((line, f"duplicate prefix {prefix}"))
            continue
        seen.add(prefix)
        codes.append(CountryCode(prefix, row["iso2"], row["name"]))
    if errors:
        raise DataFileError(source, sorted(errors))
    return codes


def load_numbering_plan(plan_csv: str | Path, countries_csv: str | Path) -> NumberingPlan:
    """Return a :class:`NumberingPlan` read from two CSV files."""
    return NumberingPlan(
        read_plan_entries(open_lines(plan_csv), str(plan_csv)),
        read_country_codes(open_lines(countries_csv), str(countries_csv)),
    )


@lru_cache(maxsize=1)
def default_numbering_plan() -> NumberingPlan:
    """Return the plan shipped in ``billing/data/`` (read once)."""
    return NumberingPlan(
        read_plan_entries(packaged_lines("numbering_plan.csv"), "numbering_plan.csv"),
        read_country_codes(packaged_lines("country_codes.csv"), "country_codes.csv"),
    )


def normalise(dialled: str, plan: NumberingPlan | None = None) -> str:
    """Return the canonical form of ``dialled``; raise :class:`InvalidNumber` if it is not a number."""
    return (plan or default_numbering_plan()).normalise(dialled)


def classify(
    dialled: str, on_net: OnNet = frozenset(), plan: NumberingPlan | None = None
) -> Classification:
    """Return the :class:`Classification` of ``dialled`` under ``plan`` (default: shipped plan)."""
    return (plan or default_numbering_plan()).classify(dialled, on_net)
