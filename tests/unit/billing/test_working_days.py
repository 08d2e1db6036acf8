"""Working days (contract art. 7.1.1: one-off fees are payable within 5 working days)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil import easter as dateutil_easter

from billing.working_days import HolidaysUnknownError, add_working_days, is_working_day, public_holidays


def test_five_working_days_skip_a_weekend() -> None:
    """Art. 7.1.1: issued on Thursday 2026-03-05, due five working days later,
    Thursday 2026-03-12 (Saturday and Sunday do not count)."""
    assert add_working_days(date(2026, 3, 5), 5) == date(2026, 3, 12)


def test_five_working_days_skip_a_weekend_and_a_holiday() -> None:
    """Art. 7.1.1: issued on Wednesday 2026-11-25, the weekend and the holidays of
    30 November (Sf. Andrei) and 1 December (Ziua Națională) do not count: due
    Friday 2026-12-04."""
    assert add_working_days(date(2026, 11, 25), 5) == date(2026, 12, 4)


def test_orthodox_easter_days_are_holidays() -> None:
    """The holiday data has Good Friday, Easter Sunday and Monday of Orthodox
    Easter (2025-04-20, 2026-04-12) and Pentecost 49 and 50 days after."""
    holidays = public_holidays()
    for easter in (date(2025, 4, 20), date(2026, 4, 12)):
        for offset in (-2, 0, 1, 49, 50):
            assert easter + timedelta(days=offset) in holidays
    assert add_working_days(date(2026, 4, 9), 1) == date(2026, 4, 14)  # Thu → past Fri..Mon


def test_holiday_data_matches_dateutil_orthodox_easter() -> None:
    """The moving holidays of 2024-2030 are those dateutil computes."""
    holidays = public_holidays()
    for year in range(2024, 2031):
        easter = dateutil_easter.easter(year, dateutil_easter.EASTER_ORTHODOX)
        assert {easter - timedelta(days=2), easter, easter + timedelta(days=1),
                easter + timedelta(days=49), easter + timedelta(days=50)} <= set(holidays)
    # 2026: 17 holidays on 16 days — Pentecost Monday falls on 1 June, Children's Day
    assert len({day for day in holidays if day.year == 2026}) == 16


def test_a_year_without_holiday_data_is_refused() -> None:
    """A day past the data's years is not guessed to be a working day."""
    with pytest.raises(HolidaysUnknownError, match="2031"):
        is_working_day(date(2031, 1, 3))


@pytest.mark.parametrize("n", [-1, 367, True, 1.0])
def test_working_days_are_bounded(n: object) -> None:
    """n is a whole number from 0 to 366."""
    with pytest.raises(ValueError, match="working days"):
        add_working_days(date(2026, 1, 5), n)  # type: ignore[arg-type]
