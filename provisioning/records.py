"""Plain data provisioning hands out: frozen, no database attached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Subscriber:
    id: int
    name: str
    email: str
    language: str
    created_at: datetime


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


@dataclass(frozen=True)
class Did:
    """One of our numbers: inbound calls to it ring its subscriber's endpoints."""

    number: str  # E.164 digits, no '+'
    subscriber_id: int
    ring_seconds: int
    voicemail_enabled: bool
