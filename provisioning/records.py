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
    """A SIP endpoint: what Asterisk needs to register and identify a phone."""

    username: str
    password: str = field(repr=False)  # kept out of logs and tracebacks
    display_name: str
    caller_id_number: str
    subscriber_id: int
    account_code: str | None = None  # billing's account: CDR accountcode, whose credit pays


@dataclass(frozen=True)
class Did:
    """One of our numbers: inbound calls to it ring its subscriber's endpoints."""

    number: str  # E.164 digits, no '+'
    subscriber_id: int
    ring_seconds: int
    voicemail_enabled: bool
