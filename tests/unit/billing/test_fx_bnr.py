"""BNR reference rates: parsing BNR's XML and picking the rate valid on a day."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing.fx_bnr import (
    FxParseError,
    FxRateUnavailable,
    MissingRateError,
    StaleRateError,
    load_bnr_file,
    merge_rates,
    parse_bnr_xml,
    rate_valid_on,
)

DATA = Path(__file__).parent / "data"


def daily():
    return load_bnr_file(DATA / "nbrfxrates.xml")


def yearly():
    return load_bnr_file(DATA / "nbrfxrates2025.xml")


def test_daily_file_gives_ron_per_euro_as_an_exact_decimal():
    """Invoices in RON at the BNR EUR rate: values are Decimal, as published."""
    assert daily()[date(2025, 8, 1)]["EUR"] == Decimal("5.0720")


def test_rates_with_a_multiplier_are_per_one_unit():
    """<Rate currency="HUF" multiplier="100">1.2345</Rate> is RON per 100 HUF."""
    rates = daily()[date(2025, 8, 1)]
    assert rates["HUF"] == Decimal("0.012345")
    assert rates["JPY"] == Decimal("0.029876")


def test_the_https_namespace_is_accepted_too():
    """BNR's files use http://www.bnr.ro/xsd or https://www.bnr.ro/xsd."""
    assert load_bnr_file(DATA / "nbrfxrates_https.xml") == daily()


def test_a_yearly_file_gives_every_published_day():
    """nbrfxrates{YYYY}.xml holds one Cube per banking day."""
    rates = yearly()
    assert len(rates) == 38
    assert min(rates) == date(2025, 1, 3) and max(rates) == date(2025, 2, 28)
    assert rates[date(2025, 1, 8)]["HUF"] == Decimal("0.012001")


def test_the_rate_valid_on_a_day_is_that_days_publication():
    """The rate valid on the issue date is the one published that day."""
    assert rate_valid_on(yearly(), "EUR", date(2025, 1, 8)) == yearly()[date(2025, 1, 8)]["EUR"]


def test_on_a_day_without_publication_the_latest_earlier_one_applies():
    """Weekends and holidays: the last publication before the day (Thursday 23 Jan for Sunday 26)."""
    rates = yearly()
    assert rate_valid_on(rates, "EUR", date(2025, 1, 26)) == rates[date(2025, 1, 23)]["EUR"]


def test_same_day_false_uses_the_previous_publication():
    """Option for the 'rate published the day before' convention."""
    rates = yearly()
    assert rate_valid_on(rates, "EUR", date(2025, 1, 9), same_day=False) == rates[date(2025, 1, 8)]["EUR"]


def test_a_stale_rate_is_an_error_not_a_guess():
    """A publication older than max_age_days is refused with StaleRateError."""
    with pytest.raises(StaleRateError) as err:
        rate_valid_on(yearly(), "EUR", date(2025, 3, 20), max_age_days=7)
    assert err.value.published == date(2025, 2, 28)
    assert "20 days old" in str(err.value)


def test_a_rate_before_any_publication_is_missing():
    """No publication on or before the day: MissingRateError."""
    with pytest.raises(MissingRateError):
        rate_valid_on(yearly(), "EUR", date(2025, 1, 2))


def test_an_unpublished_currency_is_missing():
    """A currency BNR does not publish: MissingRateError (an FxRateUnavailable)."""
    with pytest.raises(FxRateUnavailable, match="GBP"):
        rate_valid_on(yearly(), "GBP", date(2025, 2, 3))


def test_ron_is_one():
    """RON needs no conversion."""
    assert rate_valid_on({}, "RON", date(2025, 8, 1)) == 1


def test_files_merge_by_day():
    """A yearly archive and the daily file combine into one history."""
    merged = merge_rates(yearly(), daily())
    assert date(2025, 1, 3) in merged and date(2025, 8, 1) in merged


def _dataset(body, ns="http://www.bnr.ro/xsd"):
    return (
        f'<?xml version="1.0" encoding="utf-8"?><DataSet xmlns="{ns}"><Header>'
        "<Publisher>National Bank of Romania</Publisher><PublishingDate>2025-08-01</PublishingDate>"
        "<MessageType>DR</MessageType></Header><Body><Subject>Reference rates</Subject>"
        f"<OrigCurrency>RON</OrigCurrency>{body}</Body></DataSet>"
    )


@pytest.mark.parametrize(
    "xml, message",
    [
        ("<html/>", "expected DataSet"),
        (_dataset('<Cube date="2025-08-01"><Rate currency="EUR">5.07</Rate></Cube>', "urn:other"), "BNR namespace"),
        (_dataset('<Cube date="01.08.2025"><Rate currency="EUR">5.07</Rate></Cube>'), "not YYYY-MM-DD"),
        (_dataset('<Cube date="2025-08-01"><Rate currency="EUR">5,07</Rate></Cube>'), "2025-08-01 EUR"),
        (_dataset('<Cube date="2025-08-01"><Rate currency="EUR">-1</Rate></Cube>'), "positive"),
        (_dataset('<Cube date="2025-08-01"><Rate currency="HUF" multiplier="x">1.2</Rate></Cube>'), "multiplier"),
        (_dataset('<Cube date="2025-08-01"><Rate>5.07</Rate></Cube>'), "currency"),
        (_dataset(""), "no <Cube>"),
        ("<DataSet", "not well-formed"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><DataSet xmlns="http://www.bnr.ro/xsd"/>', "DOCTYPE"),
    ],
)
def test_malformed_files_raise_a_clear_parse_error(xml, message):
    """Anything that is not a well-formed BNR rates file is refused with the reason."""
    with pytest.raises(FxParseError, match=message):
        parse_bnr_xml(xml)
