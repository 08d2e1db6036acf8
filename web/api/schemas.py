"""/api/v1's request and response shapes, declared once as pydantic models.

Each model validates what comes in and gives the JSON Schema the OpenAPI
document (:mod:`web.api.openapi`) is generated from. Money is
:data:`Money`: exact micro-euros inside, a decimal string with six decimals
outside (``"10.500000"``), parsed by :func:`billing.money.micro_from_text`,
never through float. Query models forbid unknown parameters; every string,
number and page size from outside is bounded here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Optional

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)

from billing.money import MoneyError, format_micro, micro_from_text
from provisioning.services import MAX_SEARCH_CHARS
from web.admin_input import MAX_ID


CLIENT = {"client": True}
"""The validation context of what a client sent (:func:`web.api.registry`'s
query and body): money must then be a decimal string."""


def _money_from(value: Any, info: ValidationInfo) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and not (info.context or {}).get("client"):
        return value  # built by our code from an owner's micro-euros
    if not isinstance(value, str):
        raise ValueError('an amount is a decimal string like "10.50"')
    try:
        return micro_from_text(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


Money = Annotated[
    int,
    PlainValidator(_money_from),
    PlainSerializer(format_micro, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,6})?$", "examples": ["10.500000"],
                    "description": "euros, a decimal string (six decimals in answers)"}),
]
"""An amount of euros: micro-euros in Python, a decimal string in JSON
(from a client, only a decimal string: see :data:`CLIENT`)."""

MAX_PAGE_SIZE = 200
"""The largest ``limit`` of any list."""
DEFAULT_PAGE_SIZE = 50
MAX_CURSOR_CHARS = 64

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description=f"page size, at most {MAX_PAGE_SIZE}")]
Cursor = Annotated[Optional[str], Field(max_length=MAX_CURSOR_CHARS,
                                        description="opaque: the previous page's next_cursor")]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- errors --------------------------------------------------------------------------


class ErrorDetail(_Out):
    code: str = Field(description="a stable word: invalid, unauthenticated, not_found, ...")
    message: str
    field: Optional[str] = Field(None, description="the parameter or body field to blame (dotted path)")


class ErrorBody(_Out):
    """Every refusal and failure of /api/v1."""

    error: ErrorDetail


# -- queries -------------------------------------------------------------------------


class PageQuery(_Query):
    cursor: Cursor = None
    limit: Limit = DEFAULT_PAGE_SIZE


class SubscriberQuery(PageQuery):
    search: str = Field("", max_length=MAX_SEARCH_CHARS,
                        description="part of the name, email, SIP username or account code")


class CallQuery(PageQuery):
    account: Optional[Id] = None
    start_from: Optional[AwareDatetime] = Field(None, alias="from", description="calls started at or after")
    start_to: Optional[AwareDatetime] = Field(None, alias="to", description="calls started before")
    number_class: Optional[str] = Field(None, alias="class", max_length=16, pattern=r"^[a-z_0-9]+$")
    disposition: Optional[str] = Field(None, max_length=16, pattern=r"^[A-Z _]+$")


MAX_DAY_RANGE = 366


class DayRangeQuery(_Query):
    first: date = Field(alias="from", description="first day, YYYY-MM-DD")
    last: date = Field(alias="to", description=f"last day (inclusive), at most {MAX_DAY_RANGE} days on")


# -- bodies --------------------------------------------------------------------------


class ReprocessRequest(_Query):
    """Re-process one quarantined line (``id``), or all still waiting (no body, or no id)."""

    id: Optional[Id] = None


# -- answers -------------------------------------------------------------------------


class SubscriberOut(_Out):
    id: int
    name: str
    email: str
    language: str
    created_at: datetime
    contract_ended_on: Optional[date] = Field(None, description="the contract's last day; null: running")
    terminated_at: Optional[datetime] = Field(None, description="when the termination was recorded")


class EndpointOut(_Out):
    id: int
    username: str
    display_name: str
    caller_id_number: str
    realm: str
    account_code: Optional[str]
    subscriber_id: int
    profile: str = Field(description="its dialplan profile")
    disabled_at: Optional[datetime] = Field(description="set: it no longer registers (subscriber terminated)")


class SubscriberDetail(SubscriberOut):
    endpoints: list[EndpointOut]


class SubscriberPage(_Out):
    items: list[SubscriberOut]
    next_cursor: Optional[str] = Field(description="null on the last page")


class SuspensionOut(_Out):
    id: int
    cause: str
    fee_due: bool
    note: str
    started_at: datetime


class AccountOut(_Out):
    id: int
    code: str
    kind: str
    status: str
    subscriber_id: Optional[int]
    tariff: str
    language: Optional[str]
    credit_limit: Money
    daily_limit: Optional[Money] = Field(description="null: no daily limit")
    balance: Money
    reserved: Money = Field(description="held by calls in progress")
    available: Money
    spent_today: Money = Field(description="usage since midnight, Europe/Bucharest")
    live_calls: int
    plan: Optional[str] = Field(description="the service plan today; null: none")
    suspension: Optional[SuspensionOut] = Field(description="the suspension that still lasts; null: none")


class LedgerEntryOut(_Out):
    id: int
    kind: str
    amount: Money = Field(description="signed: + credit, - debit")
    created_at: datetime
    reference: str
    cdr_id: Optional[int]


class LedgerPage(_Out):
    items: list[LedgerEntryOut]
    next_cursor: Optional[str]


class CallOut(_Out):
    id: int
    account_id: int
    account_code: str
    dialled: str
    number_class: str
    destination: str
    disposition: str
    start: datetime
    billsec: int
    charged_seconds: int
    cost: Optional[Money]
    system_name: str
    uniqueid: str


class CallPage(_Out):
    items: list[CallOut]
    next_cursor: Optional[str]


class QuarantinedLineOut(_Out):
    id: int
    file: str
    line_number: int
    raw: str = Field(description="the line's first 1,024 characters")
    reason: str
    system_name: str
    uniqueid: Optional[str]
    account_code: Optional[str]
    start: Optional[datetime]
    created_at: datetime
    retried_at: Optional[datetime]
    resolution: Optional[str] = Field(description="charged, already_charged, or null: still quarantined")
    resolved_at: Optional[datetime]
    cdr_id: Optional[int]


class QuarantinePage(_Out):
    items: list[QuarantinedLineOut]
    next_cursor: Optional[str]


class ReprocessedOut(_Out):
    quarantine_id: int
    resolution: Optional[str]
    cdr_id: Optional[int]
    reason: Optional[str] = Field(description="why it is still quarantined")
    tried: bool = Field(description="false: resolved before, nothing done")


class ReprocessReport(_Out):
    results: list[ReprocessedOut]
    resolved: int
    still_quarantined: int


class FxRateOut(_Out):
    day: date
    currency: str
    ron_per_unit: str = Field(description="RON per one unit of currency, exact decimal text")
    source: str


class FxRateList(_Out):
    items: list[FxRateOut]


class DowntimeDayOut(_Out):
    day: date
    reason: str


class DowntimeList(_Out):
    items: list[DowntimeDayOut]
