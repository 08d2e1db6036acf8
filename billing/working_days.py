"""Working days in Romania: not a Saturday, a Sunday or a public holiday.

Contract art. 7.1.1 gives one-off fees 5 *working* days to be paid; the
dunning of issue 17 counts its days the same way. The public holidays
(Codul muncii art. 139) are data, ``billing/data/ro_public_holidays.csv``,
2024 to 2030 (Orthodox Easter, Good Friday and Pentecost move every year;
they were computed with ``dateutil.easter(EASTER_ORTHODOX)`` and a unit
test checks them against it). A day outside the listed years raises
:class:`HolidaysUnknownError` rather than silently counting a holiday as
a working day.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from billing._datafile import DataFileError, packaged_lines, read_rows

HOLIDAYS_FILE = "ro_public_holidays.csv"
MAX_WORKING_DAYS = 366
"""The most working days :func:`add_working_days` counts (a bound, not a rule)."""


class HolidaysUnknownError(ValueError):
    """A day falls in a year the holiday data does not list."""


@lru_cache(maxsize=1)
def public_holidays() -> dict[date, str]:
    """Return the Romanian public holidays listed in the data file: day → name."""
    rows, errors = read_rows(packaged_lines(HOLIDAYS_FILE), ("day", "name"), HOLIDAYS_FILE)
    holidays: dict[date, str] = {}
    for line, row in rows:
        try:
            holidays[date.fromisoformat(row["day"])] = row["name"]
        except ValueError:
            errors.append((line, f"day: not a date YYYY-MM-DD: {row['day']!r}"))
    if errors:
        raise DataFileError(HOLIDAYS_FILE, errors)
    return holidays


def _years_listed() -> tuple[int, int]:
    years = [day.year for day in public_holidays()]
    return min(years), max(years)


def is_working_day(day: date) -> bool:
    """True when ``day`` is Monday to Friday and not a public holiday;
    raise :class:`HolidaysUnknownError` outside the years listed."""
    first, last = _years_listed()
    if not first <= day.year <= last:
        raise HolidaysUnknownError(
            f"{day.isoformat()}: public holidays are known for {first}-{last} only ({HOLIDAYS_FILE})"
        )
    return day.weekday() < 5 and day not in public_holidays()


def add_working_days(day: date, n: int) -> date:
    """Return the ``n``-th working day after ``day`` (``day`` itself does not
    count, whatever it is; ``n`` = 0 returns ``day``). ``n`` is 0 to
    :data:`MAX_WORKING_DAYS`, else ValueError."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_WORKING_DAYS:
        raise ValueError(f"working days: a whole number from 0 to {MAX_WORKING_DAYS}, not {n!r}")
    current = day
    while n:
        current += timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current
