"""/api/v1's shapes for subscribers, SIP endpoints and DIDs written
through the API (base types from :mod:`web.api.schemas`). Strings are
bounded here as provisioning's rules bound them (:mod:`provisioning.validation`
says what each may hold and names the field when it refuses)."""

from __future__ import annotations

from datetime import date
from typing import Optional

from pydantic import Field, model_validator

from billing.accounts import PREPAID
from provisioning.endpoints import DIALPLAN_PROFILES

from .schemas import Cursor, Id, Money, PageQuery, SubscriberOut, EndpointOut, _Out, _Query

_PROFILES = f"one of {', '.join(DIALPLAN_PROFILES)} (the dialplan templates add more)"


class PatchBody(_Query):
    """A partial update: at least one field."""

    @model_validator(mode="after")
    def _something(self) -> "PatchBody":
        if not self.model_fields_set:
            raise ValueError(f"nothing to change; send some of {', '.join(sorted(type(self).model_fields))}")
        return self


# -- subscribers ---------------------------------------------------------------------


class SubscriberCreate(_Query):
    """A subscriber with its SIP endpoint and billing account, all or nothing."""

    name: str = Field(min_length=1, max_length=128)
    email: str = Field(min_length=3, max_length=254)
    language: str = Field("ro", max_length=2, description="ISO 639-1, lower case")
    username: str = Field(min_length=1, max_length=64, description="the SIP username")
    caller_id_number: str = Field(min_length=1, max_length=20)
    display_name: Optional[str] = Field(None, max_length=64, description="default: the username")
    account_code: str = Field(min_length=1, max_length=40, description="the billing account's code (CDR accountcode)")
    kind: str = Field(PREPAID, max_length=16, description="prepaid or postpaid")
    credit_limit: Optional[Money] = Field(None, description="postpaid only; default 0")
    daily_limit: Optional[Money] = Field(None, description="null: no daily limit")
    tariff: Optional[str] = Field(None, max_length=64, description="default: the standard tariff")
    plan: Optional[str] = Field(None, max_length=64, description="a service plan from plan_start")
    plan_start: Optional[date] = Field(None, description="the plan's first day; default today")


class AccountBrief(_Out):
    id: int
    code: str
    kind: str
    status: str


class SubscriberCreated(_Out):
    subscriber: SubscriberOut
    endpoint: EndpointOut
    password: str = Field(description="the SIP password: shown this once, never stored nor audited")
    account: AccountBrief


class SubscriberPatch(PatchBody):
    name: Optional[str] = Field(None, min_length=1, max_length=128)
    email: Optional[str] = Field(None, min_length=3, max_length=254)
    language: Optional[str] = Field(None, max_length=2)


class TerminateRequest(_Query):
    last_day: date = Field(description="the contract's last day, YYYY-MM-DD (also the last day on its plan)")


class TerminatedOut(_Out):
    subscriber: SubscriberOut
    endpoints_disabled: list[str] = Field(description="SIP usernames that no longer register")
    plans_ended: list[int] = Field(description="accounts whose service plan ends on last_day")


# -- SIP endpoints -------------------------------------------------------------------


class EndpointQuery(PageQuery):
    subscriber: Optional[Id] = None
    account: Optional[Id] = None


class EndpointPage(_Out):
    items: list[EndpointOut]
    next_cursor: Optional[str]


class EndpointPatch(PatchBody):
    profile: Optional[str] = Field(None, max_length=32, description=_PROFILES)
    display_name: Optional[str] = Field(None, min_length=1, max_length=64)
    caller_id_number: Optional[str] = Field(None, min_length=1, max_length=20)


class EndpointPassword(_Out):
    endpoint: EndpointOut
    password: str = Field(description="the new SIP password: shown this once, never stored nor audited")


# -- DIDs ----------------------------------------------------------------------------


class DidQuery(_Query):
    subscriber: Optional[Id] = None
    account: Optional[Id] = None
    cursor: Cursor = None
    limit: int = Field(50, ge=1, le=200, description="page size, at most 200")


class DidCreate(_Query):
    number: str = Field(min_length=1, max_length=32, description="as written: +40 31 234 5678, 0312345678...")
    subscriber_id: Id
    ring_seconds: int = Field(25, ge=5, le=120)
    voicemail_enabled: bool = True


class DidOut(_Out):
    number: str = Field(description="E.164 digits, no '+'")
    subscriber_id: int
    ring_seconds: int
    voicemail_enabled: bool


class DidPage(_Out):
    items: list[DidOut]
    next_cursor: Optional[str]
