"""What admission is asked and what it answers: a call request, the
decision on it, and the grant of a live call."""

from __future__ import annotations

from dataclasses import dataclass

from billing.numbering import Classification

from .reasons import RefusalReason


@dataclass(frozen=True)
class CallRequest:
    """A call asking to go ahead."""

    call_ref: str  # the caller's channel uniqueid
    endpoint: str  # the PJSIP endpoint it comes from
    source_address: str  # the SIP packet's source address
    dialled: str


@dataclass(frozen=True)
class Decision:
    """Refused with a reason, or allowed for ``max_seconds`` (so far)."""

    call_ref: str
    destination: Classification
    reason: RefusalReason | None = None
    account_id: int | None = None
    account_code: str | None = None
    max_seconds: int = 0
    reservation_id: int | None = None
    free: bool = False

    @property
    def allowed(self) -> bool:
        return self.reason is None

    @property
    def number_class(self) -> str:
        return self.destination.number_class


@dataclass(frozen=True)
class Grant:
    """Seconds granted to a live call so far; ``limited_by`` says why no
    more were (a refusal reason code, ``max_call_length``, ...), or None."""

    seconds: int
    limited_by: str | None = None
