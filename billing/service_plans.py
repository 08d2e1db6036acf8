"""Service plans as data: a subscription's monthly fee and included minutes.

A **service plan** is what a customer subscribes to (contract art. 7.1.2,
7.4–7.5): a monthly fee in EUR excluding VAT, minutes included each month
per destination group, and the *tariff* plan (:mod:`billing.tariffs`, the
rate table) its calls are rated with. It is rows, not code: plans are
imported from a CSV file or the admin API and versioned like tariffs
(:mod:`billing.service_plan_store`).

Destination groups (:data:`DESTINATION_GROUPS`)
    A group names the number classes (:mod:`billing.numbering`) whose calls
    use its minutes. ``national`` is the contract's "minute incluse":
    Romanian fixed and mobile networks together, one pool, exactly the
    classes :data:`billing.rating.BUNDLE_CLASSES` rates from the bundle.
    ``ro_fixed``, ``ro_mobile``, ``on_net`` and ``international`` are pools
    of one class each. The groups of one plan version may not share a
    class: a call uses one pool.

One version (:class:`ServicePlan`) is valid from ``effective_from``
(a day, 00:00 Europe/Bucharest) until the day before ``effective_to``
(exclusive; none means open-ended); the versions in force of a plan
(:class:`ServicePlanVersions`) may not overlap.

Service plan CSV
    UTF-8, comma-separated, ``#`` lines are comments, the first row is the
    header. One row per included-minutes group of a version; a version
    without included minutes has one row with both group columns empty.
    Every row repeats its version's other fields, which must agree::

        plan,version,effective_from,effective_to,monthly_fee_eur,tariff,
        destination_group,included_minutes,description

    ================== ====================================================
    plan               1–64 of ``A-Z a-z 0-9 . _ -``, starting with a
                       letter or digit
    version            label, same characters; unique within the plan
    effective_from     ``YYYY-MM-DD`` (00:00 Europe/Bucharest)
    effective_to       ``YYYY-MM-DD``, exclusive, after effective_from; or
                       empty for open-ended
    monthly_fee_eur    EUR excluding VAT, ASCII digits with at most 6
                       decimals, from 0 to 10,000
    tariff             the stored tariff plan calls are rated with (same
                       characters as plan); empty: ``annex_b``
    destination_group  one of :data:`DESTINATION_GROUPS`, at most once per
                       version; or empty (no included minutes)
    included_minutes   whole minutes a month, 1 to 100,000; empty exactly
                       when destination_group is
    description        optional column: at most 200 characters, no control
                       characters
    setup_fee          optional column: the set-up fee charged once when an
                       account starts on the plan (contract art. 7.1.1),
                       EUR excluding VAT, more than 0 and at most 100,000;
                       empty (or no column, as in older files): none
    ================== ====================================================

    A file has at most :data:`MAX_ROWS` rows. :func:`read_service_plan_csv`
    checks everything and raises :class:`ServicePlanFileError` naming the
    line and the field of every problem.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import IO, NamedTuple

from billing import money
from billing._datafile import DataFileError, read_rows
from billing.accounts import DEFAULT_TARIFF
from billing.numbering import INTERNATIONAL, ON_NET, RO_FIXED, RO_MOBILE
from billing.rating import BUNDLE_CLASSES

NATIONAL = "national"

DESTINATION_GROUPS: dict[str, frozenset[str]] = {
    NATIONAL: BUNDLE_CLASSES,
    RO_FIXED: frozenset({RO_FIXED}),
    RO_MOBILE: frozenset({RO_MOBILE}),
    ON_NET: frozenset({ON_NET}),
    INTERNATIONAL: frozenset({INTERNATIONAL}),
}
"""Destination group → the number classes whose calls use its included minutes."""

SERVICE_PLAN_COLUMNS = (
    "plan",
    "version",
    "effective_from",
    "effective_to",
    "monthly_fee_eur",
    "tariff",
    "destination_group",
    "included_minutes",
    "description",
    "setup_fee",
)

NAME_LENGTH = 64
"""The longest plan name, version label or tariff name (the columns' width)."""
DESCRIPTION_LENGTH = 200
MAX_MONTHLY_FEE_MICRO = 10_000 * money.MICRO
"""The highest monthly fee: 10,000 EUR."""
MAX_SETUP_FEE_MICRO = 100_000 * money.MICRO
"""The highest set-up fee: 100,000 EUR (the bound of any one-off charge)."""
MAX_INCLUDED_MINUTES = 100_000
"""The most minutes one group may include in a month."""
MAX_ROWS = 1_000
"""The most rows (versions × groups) one import may hold."""

_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_LENGTH - 1}}}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MINUTES = re.compile(r"[0-9]{1,6}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Allowance(NamedTuple):
    """Minutes included each month for the calls of one destination group."""

    group: str
    minutes: int

    @property
    def seconds(self) -> int:
        """The included minutes in seconds (what rating counts)."""
        return self.minutes * 60


@dataclass(frozen=True)
class ServicePlan:
    """One version of a service plan: fee, tariff, included minutes, validity.

    ``effective_to`` is exclusive; ``allowances`` are ordered as
    :data:`DESTINATION_GROUPS`.
    """

    name: str
    version: str
    effective_from: date
    effective_to: date | None
    monthly_fee_micro: int
    tariff: str = DEFAULT_TARIFF
    allowances: tuple[Allowance, ...] = ()
    description: str = ""
    setup_fee_micro: int | None = None
    """Charged once when an account starts on the plan; None: no set-up fee."""

    def __post_init__(self) -> None:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        claimed: dict[str, str] = {}
        for allowance in self.allowances:
            for number_class in DESTINATION_GROUPS[allowance.group]:
                if number_class in claimed:
                    raise ValueError(
                        f"groups {claimed[number_class]} and {allowance.group} both include {number_class}"
                    )
                claimed[number_class] = allowance.group
        object.__setattr__(
            self, "allowances", tuple(sorted(self.allowances, key=lambda a: _GROUP_ORDER[a.group]))
        )

    def allowance_for(self, number_class: str) -> Allowance | None:
        """Return the allowance whose minutes a call of ``number_class`` uses, or None."""
        for allowance in self.allowances:
            if number_class in DESTINATION_GROUPS[allowance.group]:
                return allowance
        return None

    def covers(self, day: date) -> bool:
        """True when this version is valid on ``day``."""
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    @property
    def label(self) -> str:
        """``name vversion``, for messages."""
        return f"{self.name} v{self.version}"


_GROUP_ORDER = {group: i for i, group in enumerate(DESTINATION_GROUPS)}


class ServicePlanVersions:
    """The versions in force of one service plan, ordered, without overlap."""

    def __init__(self, versions: Iterable[ServicePlan]):
        ordered = sorted(versions, key=lambda v: v.effective_from)
        if not ordered:
            raise ValueError("a service plan needs at least one version")
        if len({v.name for v in ordered}) != 1:
            raise ValueError("versions of different service plans")
        if len({v.version for v in ordered}) != len(ordered):
            raise ValueError("duplicate version labels")
        for earlier, later in zip(ordered, ordered[1:]):
            if earlier.effective_to is None or earlier.effective_to > later.effective_from:
                raise ValueError(f"version {earlier.version} overlaps {later.version}")
        self.name = ordered[0].name
        self.versions: tuple[ServicePlan, ...] = tuple(ordered)

    def version_on(self, day: date) -> ServicePlan | None:
        """Return the version valid on ``day``, or None."""
        for version in self.versions:
            if version.covers(day):
                return version
        return None


# -- CSV ---------------------------------------------------------------------------


class Problem(NamedTuple):
    """One thing wrong in an import: where (a file's line, or a list's
    position), the field to blame, and why."""

    position: int
    field: str
    message: str


class ServicePlanFileError(DataFileError):
    """A service plan import is refused; ``problems`` name each line and field."""

    def __init__(self, source: str, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__(source, [(p.position, f"{p.field}: {p.message}") for p in self.problems])


def is_valid_name(text: str) -> bool:
    """True when ``text`` can name a plan, a version or a tariff (see the module docstring)."""
    return _NAME.fullmatch(text) is not None


def parse_day(text: str) -> date:
    """Return the day written ``YYYY-MM-DD``; raise ValueError."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"must be a day YYYY-MM-DD, not {_shown(text)}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"is not a day of the calendar: {_shown(text)}") from None


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:39]) + "…"


def _checked_name(text: str, field: str, problems: list[tuple[str, str]]) -> str:
    if not _NAME.fullmatch(text):
        problems.append((field, f"must be 1 to {NAME_LENGTH} of A-Z a-z 0-9 . _ - starting with a letter "
                                f"or digit, not {_shown(text)}"))
    return text


def _fields_of_row(row: Mapping[str, str]) -> tuple[tuple, Allowance | None, list[tuple[str, str]]]:
    """Check one row; return (version fields, its allowance, problems as (field, message))."""
    problems: list[tuple[str, str]] = []
    name = _checked_name(row["plan"], "plan", problems)
    version = _checked_name(row["version"], "version", problems)
    start = end = None
    try:
        start = parse_day(row["effective_from"])
    except ValueError as exc:
        problems.append(("effective_from", str(exc)))
    if row["effective_to"]:
        try:
            end = parse_day(row["effective_to"])
        except ValueError as exc:
            problems.append(("effective_to", str(exc)))
    if start and end and end <= start:
        problems.append(("effective_to", "must be after effective_from"))
    fee = 0
    try:
        fee = money.micro_from_text(row["monthly_fee_eur"])
    except money.MoneyError as exc:
        problems.append(("monthly_fee_eur", f"{exc}; write euros like 5.00"))
    else:
        if not 0 <= fee <= MAX_MONTHLY_FEE_MICRO:
            problems.append(("monthly_fee_eur", f"must be from 0 to {money.format_amount(MAX_MONTHLY_FEE_MICRO)}"))
    tariff = _checked_name(row["tariff"] or DEFAULT_TARIFF, "tariff", problems)
    description = row.get("description", "")
    if len(description) > DESCRIPTION_LENGTH:
        problems.append(("description", f"has at most {DESCRIPTION_LENGTH} characters, not {len(description)}"))
    elif _CONTROL.search(description):
        problems.append(("description", "may not hold control characters (line breaks, tabs...)"))
    allowance = _allowance(row["destination_group"], row["included_minutes"], problems)
    setup_fee = _setup_fee(row.get("setup_fee", ""), problems)
    return (name, version, start, end, fee, tariff, description, setup_fee), allowance, problems


def _setup_fee(text: str, problems: list[tuple[str, str]]) -> int | None:
    """The set-up fee written ``text`` in micro-euros; None when empty."""
    if not text:
        return None
    try:
        fee = money.micro_from_text(text)
    except money.MoneyError as exc:
        problems.append(("setup_fee", f"{exc}; write euros like 50.00, or leave it empty for none"))
        return None
    if not 0 < fee <= MAX_SETUP_FEE_MICRO:
        problems.append(("setup_fee", f"must be more than 0 and at most {money.format_amount(MAX_SETUP_FEE_MICRO)} "
                                      "(leave it empty for none)"))
    return fee


def _allowance(group: str, minutes_text: str, problems: list[tuple[str, str]]) -> Allowance | None:
    if not group and not minutes_text:
        return None
    if group not in DESTINATION_GROUPS:
        problems.append(("destination_group", f"must be one of {', '.join(DESTINATION_GROUPS)}, not {_shown(group)}"))
    if not _MINUTES.fullmatch(minutes_text) or not 1 <= int(minutes_text) <= MAX_INCLUDED_MINUTES:
        problems.append(("included_minutes", f"must be whole minutes from 1 to {MAX_INCLUDED_MINUTES:,}, "
                                             f"not {_shown(minutes_text)}"))
        return None
    return Allowance(group, int(minutes_text)) if group in DESTINATION_GROUPS else None


def service_plans_from_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]], source: str, errors: Iterable[Problem] = ()
) -> list[tuple[int, ServicePlan]]:
    """Return the versions described by ``rows`` (``(position, {column: text})``),
    each with the position of its first row; raise :class:`ServicePlanFileError`
    listing every problem (``errors`` are the caller's own, reported with them)."""
    problems = list(errors)
    rows = list(rows)
    if len(rows) > MAX_ROWS:
        raise ServicePlanFileError(source, [Problem(rows[MAX_ROWS][0], "plan", f"at most {MAX_ROWS} rows")])
    # (plan, version) -> [first position, version fields, allowances, positions of rows without a group]
    versions: dict[tuple[str, str], list] = {}
    for position, row in rows:
        fields, allowance, row_problems = _fields_of_row(row)
        if row_problems:
            problems.extend(Problem(position, field, message) for field, message in row_problems)
            continue
        entry = versions.setdefault(fields[:2], [position, fields, [], []])
        if entry[1] != fields:
            problems.append(Problem(position, "plan", f"{fields[0]} v{fields[1]} is written otherwise on line "
                                                      f"{entry[0]}: its rows must agree but for the group"))
        elif allowance is None:
            entry[3].append(position)
        elif any(a.group == allowance.group for a in entry[2]):
            problems.append(Problem(position, "destination_group", f"{allowance.group} is given twice"))
        else:
            entry[2].append(allowance)
    for position, _, allowances, without_group in versions.values():
        if without_group and (allowances or len(without_group) > 1):
            problems.append(Problem(without_group[-1], "destination_group",
                                    "a version has rows with groups or one row without a group, not both"))
    plans: list[tuple[int, ServicePlan]] = []
    for (name, version), (position, fields, allowances, _) in versions.items():
        _, _, start, end, fee, tariff, description, setup_fee = fields
        try:
            plans.append((position, ServicePlan(name, version, start, end, fee, tariff, tuple(allowances),
                                                description, setup_fee)))
        except ValueError as exc:
            problems.append(Problem(position, "destination_group", str(exc)))
    by_name: dict[str, list[tuple[int, ServicePlan]]] = {}
    for position, plan in plans:
        by_name.setdefault(plan.name, []).append((position, plan))
    for name, listed in by_name.items():
        try:
            ServicePlanVersions(plan for _, plan in listed)
        except ValueError as exc:
            problems.append(Problem(min(p for p, _ in listed), "effective_from", f"plan {name}: {exc}"))
    if problems:
        raise ServicePlanFileError(source, problems)
    return plans


def read_service_plan_csv(lines: Iterable[str], source: str = "service plan file") -> list[tuple[int, ServicePlan]]:
    """Return the versions of a service plan CSV with the line of each one's
    first row; raise :class:`ServicePlanFileError`, every problem with its
    line and field (``header`` for a missing or wrong header row, ``line``
    for a row that is not CSV or has the wrong number of fields)."""
    try:
        rows, errors = read_rows(lines, SERVICE_PLAN_COLUMNS[:8], source, optional=SERVICE_PLAN_COLUMNS[8:])
    except DataFileError as exc:  # no header, or its columns are not ours
        raise ServicePlanFileError(source, [Problem(line, "header", message) for line, message in exc.errors]) from exc
    return service_plans_from_rows(rows, source, [Problem(line, "line", message) for line, message in errors])


def service_plan_rows(plan: ServicePlan) -> list[list[str]]:
    """Return the CSV rows (without header) of one version."""
    head = [
        plan.name,
        plan.version,
        plan.effective_from.isoformat(),
        plan.effective_to.isoformat() if plan.effective_to else "",
        money.format_micro(plan.monthly_fee_micro),
        plan.tariff,
    ]
    groups = [[a.group, str(a.minutes)] for a in plan.allowances] or [["", ""]]
    setup_fee = "" if plan.setup_fee_micro is None else money.format_micro(plan.setup_fee_micro)
    return [head + group + [plan.description, setup_fee] for group in groups]


def write_service_plan_csv(plans: Iterable[ServicePlan], out: IO[str]) -> None:
    """Write ``plans`` as a CSV that :func:`read_service_plan_csv` reads back the same."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SERVICE_PLAN_COLUMNS)
    for plan in plans:
        writer.writerows(service_plan_rows(plan))
