"""Plain data provisioning hands out: frozen, no database attached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Subscriber:
    id: int
    name: str
    email: str
    language: str
    created_at: datetime
    contract_ended_on: date | None = None  # the contract's last day, once terminated
    terminated_at: datetime | None = None  # when the termination was recorded


@dataclass(frozen=True)
class Endpoint:
    """A SIP endpoint: what Asterisk needs to register and identify a phone.

    Its password is not kept: ``md5_cred`` is the digest credential made from
    it in ``realm`` (provisioning.credentials). ``password`` is set only on
    the record that created the endpoint (or gave it a new password), to be
    shown once; read back, it is None."""

    username: str
    md5_cred: str = field(repr=False)  # a password equivalent in its realm
    realm: str
    display_name: str
    caller_id_number: str
    subscriber_id: int
    account_code: str | None = None  # billing's account: CDR accountcode, whose credit pays
    password: str | None = field(default=None, repr=False, compare=False)
    profile: str = "standard"  # its dialplan profile (provisioning.endpoints.DIALPLAN_PROFILES)
    disabled_at: datetime | None = None  # set: no longer registers (its subscriber terminated)
    id: int = 0  # the row's id (0 only on a record not stored yet)


@dataclass(frozen=True)
class Did:
    """One of our numbers: inbound calls to it ring its subscriber's endpoints."""

    number: str  # E.164 digits, no '+'
    subscriber_id: int
    ring_seconds: int
    voicemail_enabled: bool
