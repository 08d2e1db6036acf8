"""/api/v1's shapes for account operations: reservations, live calls,
call policy, limits, top-ups, suspension and service plans (base types
from :mod:`web.api.schemas`; every list and string bounded here as the
owners bound them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Optional

from pydantic import Field

from admission.policy import MAX_ALLOWED_NETWORKS, MAX_BLOCKED_PREFIXES, MAX_CONCURRENT_CALLS
from billing.suspension_causes import CAUSE_NAMES, MAX_NOTE_CHARS
from billing.top_ups import MAX_REFERENCE_LENGTH

from .provisioning_schemas import PatchBody
from .schemas import Money, SuspensionOut, _Out, _Query


class ReservationOut(_Out):
    id: int
    amount: Money = Field(description="credit held for the call")
    call_reference: str
    created_at: datetime
    expires_at: datetime = Field(description="past it, the hold stops counting")


class ReservationList(_Out):
    items: list[ReservationOut]


class LiveCallsOut(_Out):
    call_refs: list[str] = Field(description="the live calls' references, oldest first")
    count: int


class HungUpOut(_Out):
    call_ref: str = Field(description="the call hung up")
    status: str = Field(description='"ended"')


class PolicyOut(_Out):
    allowed_networks: list[str] = Field(description="addresses or CIDRs calls may come from; empty: anywhere")
    premium_enabled: bool
    international_enabled: bool
    blocked_prefixes: list[str]
    max_concurrent_calls: int


_Network = Annotated[str, Field(max_length=64, description="an address or CIDR")]
_Prefix = Annotated[str, Field(max_length=20, description="digits of a normalised number's start")]


class PolicyPatch(PatchBody):
    allowed_networks: Optional[list[_Network]] = Field(
        None, max_length=MAX_ALLOWED_NETWORKS, description=f"at most {MAX_ALLOWED_NETWORKS}; [] allows any address")
    premium_enabled: Optional[bool] = None
    international_enabled: Optional[bool] = None
    blocked_prefixes: Optional[list[_Prefix]] = Field(None, max_length=MAX_BLOCKED_PREFIXES,
                                                  description=f"at most {MAX_BLOCKED_PREFIXES}")
    max_concurrent_calls: Optional[int] = Field(None, ge=0, le=MAX_CONCURRENT_CALLS)


class PolicyChanged(_Out):
    policy: PolicyOut
    allowed_ips_change_id: Optional[str] = Field(description="set when the allowlist changed (and was emailed)")


class LimitsPatch(PatchBody):
    credit_limit: Optional[Money] = Field(None, description="postpaid only")
    daily_limit: Optional[Money] = Field(None, description="null: no daily limit")


class TopUpRequest(_Query):
    amount: Money = Field(description="more than 0, at most 100,000 EUR")
    reference: str = Field("", max_length=MAX_REFERENCE_LENGTH)
    idempotency_key: Optional[str] = Field(None, max_length=128,
                                           description="the same key again returns the first top-up")


class TopUpOut(_Out):
    entry_id: int
    amount: Money
    balance: Money = Field(description="after this top-up")


class SuspendRequest(_Query):
    cause: str = Field(max_length=40, description=f"one of {', '.join(CAUSE_NAMES)}")
    note: Optional[str] = Field(None, max_length=MAX_NOTE_CHARS)


class SuspendOut(_Out):
    status: str
    calls_ended: int
    suspension: SuspensionOut


class ReinstateOut(_Out):
    status: str
    suspension: Optional[SuspensionOut] = Field(description="the suspension this ended (null: one from before causes)")


class PlanRequest(_Query):
    plan: str = Field(min_length=1, max_length=64)
    immediately: bool = Field(False, description="from today (this month pro-rated) rather than next month's 1st")


class PlanEndQuery(_Query):
    last_day: date = Field(description="the last day on the plan, YYYY-MM-DD")


class PlanStretch(_Out):
    plan: str
    from_day: date
    until_day: Optional[date] = Field(description="the first day without it; null: still on it")


class PlansOut(_Out):
    plan: Optional[str] = Field(description="the plan today; null: none")
    plan_history: list[PlanStretch]
