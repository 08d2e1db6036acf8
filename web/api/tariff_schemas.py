"""/api/v1's shapes for tariff plans (:mod:`web.api.tariff_routes`) and the
FX-rate and downtime writes (:mod:`web.api.billing_data`). Prices of a
tariff are exact decimal euros as strings (a tariff's precision is finer
than a micro-euro can be: the CSV's own text), never floats."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from pydantic import Field

from .schemas import _Out, _Query

MAX_TARIFF_ROWS = 5000
"""The most rates one JSON import carries (a CSV import is bounded by the body size)."""
TARIFF_TEXT = 200


def _text(description: str, default: Optional[str] = None) -> Optional[str]:
    return Field(default, max_length=TARIFF_TEXT, description=description)  # type: ignore[no-any-return]


class TariffRow(_Query):
    """One rate of one plan version: the tariff CSV's columns, as text."""

    plan: str = Field(max_length=TARIFF_TEXT)
    version: str = Field(max_length=TARIFF_TEXT)
    effective_from: str = Field(max_length=40, description="ISO date or instant")
    effective_to: str = Field("", max_length=40, description="empty: open-ended")
    service: str = Field("voice", max_length=16, description="voice or sms")
    destination: str = Field(max_length=TARIFF_TEXT)
    price_eur: str = Field(max_length=40, description="exact decimal, e.g. 0.0125")
    first_block_s: str = Field("", max_length=10)
    increment_s: str = Field("", max_length=10)
    connect_fee_eur: str = Field("", max_length=40)
    description: str = Field("", max_length=TARIFF_TEXT)


class TariffImport(_Query):
    """A tariff import as JSON (or send the CSV itself as ``text/csv``)."""

    rows: list[TariffRow] = Field(default_factory=list, max_length=MAX_TARIFF_ROWS,
                                  description=f"1 to {MAX_TARIFF_ROWS} rates")


class TariffImportReport(_Out):
    added: list[str] = Field(description="plan/version")
    unchanged: list[str]
    superseded: list[str] = Field(description="corrected: rated calls are re-rated")


class RateOut(_Out):
    service: str
    destination: str
    price_eur: str
    first_block_s: int
    increment_s: int
    connect_fee_eur: str
    description: str


class TariffVersionOut(_Out):
    version: str
    effective_from: datetime
    effective_to: Optional[datetime] = Field(description="null: open-ended")
    rates: int = Field(description="how many rates")


class TariffVersionDetail(TariffVersionOut):
    rate_list: list[RateOut]


class TariffPlanOut(_Out):
    name: str
    versions: list[TariffVersionOut] = Field(description="the versions in force, by start")


class TariffPlanList(_Out):
    items: list[TariffPlanOut]


class TariffPlanDetail(_Out):
    name: str
    versions: list[TariffVersionDetail]


class FxRateIn(_Query):
    """The operator's EUR→RON rate of a day (it wins over BNR's)."""

    ron_per_unit: str = Field(max_length=40, description="RON per 1 EUR, an exact decimal string such as 5.0720")


class DowntimeIn(_Query):
    reason: str = Field(min_length=1, max_length=500, description="why the service was down (shown on invoices)")
