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
