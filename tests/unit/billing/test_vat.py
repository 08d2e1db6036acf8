"""Romanian VAT: dated rates as data."""

from datetime import date
from decimal import Decimal

import pytest

from billing._datafile import DataFileError
from billing.vat import NoVatRate, read_vat_csv, vat_micro, vat_rate_on


def test_vat_is_19_percent_on_the_last_day_before_the_switch():
    """Romanian VAT: 19 % before 2025-08-01."""
    assert vat_rate_on(date(2025, 7, 31)) == Decimal("0.19")


def test_vat_is_21_percent_from_2025_08_01():
    """Romanian VAT: 21 % from 2025-08-01."""
    assert vat_rate_on(date(2025, 8, 1)) == Decimal("0.21")


def test_vat_amount_is_rounded_half_up_once():
    """VAT = net × rate, rounded half-up to the micro-unit once."""
    assert vat_micro(10_167, date(2025, 8, 1)) == 2_135  # 2135.07 → 2135
    assert vat_micro(50, date(2025, 8, 1)) == 11  # 10.5 → 11


def test_no_vat_rate_before_the_first_row():
    """Asking for a day the table does not cover is an error, not a guess."""
    with pytest.raises(NoVatRate):
        vat_rate_on(date(2000, 1, 1))


def test_vat_table_rows_are_validated_with_line_numbers():
    """The VAT table is data: a bad rate is reported with its line number."""
    with pytest.raises(DataFileError) as err:
        read_vat_csv(["effective_from,rate_percent\n", "2025-08-01,21\n", "2026-01-01,abc\n"])
    assert err.value.errors[0][0] == 3
