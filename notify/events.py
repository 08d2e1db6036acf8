"""What happened, as plain data, and the outbox email each event becomes.

Call flows, billing and the admin API build these events; ``email_for_event``
renders one into an ``OutgoingEmail`` with its dedup key, and
``enqueue_event`` queues it. The table ``EVENT_EMAILS`` says, per event
type, the email's kind (which is also its template's name), its dedup key
and its attachments.

Dedup keys name the fact, not the email, so reporting a fact twice (a
retried call flow, a restarted scheduler) sends one email:

==========================  ==============================================
voicemail                   ``voicemail:<uniqueid>``
missed call                 ``missed:<linkedid>``
low balance                 ``low_balance:<account>:<local date>`` (one a day)
daily spending limit        ``daily_limit:<account>:<local date>``
top-up                      ``top_up:<account>:<ledger entry id>``
payment registered          ``payment:<payment id>``
invoice issued              ``invoice:<number>``
allowed-IP list changed     ``allowed_ips:<account>:<change id>``
==========================  ==============================================

"Local date" is the day in the operator's zone (Europe/Bucharest): a low
balance at 23:30 UTC on 30 June is the customer's 1 July.
Amounts are Decimal (invariant 1); times are aware datetimes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, TypeAlias
from zoneinfo import ZoneInfo

from sqlbase import Db
from notify.messages import Attachment, OutgoingEmail
from notify.outbox import enqueue
from notify.render import Renderer


@dataclass(frozen=True)
class Recipient:
    """Who gets an account's emails, in which language (``ro``, ``en``)."""

    account_id: int
    email: str
    language: str = "ro"


@dataclass(frozen=True)
class VoicemailReceived:
    to: Recipient
    uniqueid: str  # Asterisk's, of the call that left the message
    caller_number: str
    caller_name: str
    received_at: datetime
    duration_seconds: int
    audio: bytes = field(repr=False)
    audio_content_type: str = "audio/wav"
    called_number: str = ""
    # the same message as Ogg Opus, attached beside the WAV when a converter
    # made one: several times smaller, for phones on mobile data
    compressed_audio: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MissedCall:
    to: Recipient
    linkedid: str  # Asterisk's, shared by every leg of the call
    caller_number: str
    caller_name: str
    called_at: datetime
    ring_seconds: int
    called_number: str = ""


@dataclass(frozen=True)
class LowBalance:
    to: Recipient
    balance: Decimal
    threshold: Decimal
    currency: str
    at: datetime


@dataclass(frozen=True)
class DailySpendLimitReached:
    to: Recipient
    spent: Decimal
    limit: Decimal
    currency: str
    at: datetime


@dataclass(frozen=True)
class TopUp:
    to: Recipient
    reference: str  # the payer's free text, shown in the email; never part of a key
    amount: Decimal
    balance_after: Decimal
    currency: str
    at: datetime
    entry_id: int  # the ledger entry credited: one email per top-up, whatever its reference


@dataclass(frozen=True)
class PaymentRegistered:
    to: Recipient
    payment_id: int  # billing's id of the payment: the dedup key
    amount: Decimal
    currency: str
    at: datetime
    reference: str = ""  # the payer's or bank's text, shown as given (never in the key)
    invoice_number: str | None = None


@dataclass(frozen=True)
class InvoiceIssued:
    to: Recipient
    number: str
    issued_on: date
    due_on: date
    total: Decimal
    currency: str
    invoice_html: str = field(repr=False)  # attached as the invoice itself
    # False: nothing to pay (a prepaid statement settled from the balance at
    # issue, or a total of nothing): the email names no due date, asks nothing
    payable: bool = True
    prepaid: bool = False


@dataclass(frozen=True)
class AllowedIpsChanged:
    to: Recipient
    change_id: str  # the audit entry of the change
    added: tuple[str, ...]
    removed: tuple[str, ...]
    current: tuple[str, ...]
    changed_at: datetime
    changed_by: str


Event: TypeAlias = (
    VoicemailReceived
    | MissedCall
    | LowBalance
    | DailySpendLimitReached
    | TopUp
    | PaymentRegistered
    | InvoiceIssued
    | AllowedIpsChanged
)

# file name extensions of the audio Asterisk records
AUDIO_EXTENSIONS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/gsm": "gsm",
}
# Ogg Opus: audio/ogg, named .opus (RFC 7845, section 9)
COMPRESSED_AUDIO_CONTENT_TYPE = "audio/ogg"
COMPRESSED_AUDIO_EXTENSION = "opus"
VOICEMAIL_FILE = {"ro": "mesaj-vocal", "en": "voicemail"}
INVOICE_FILE = {"ro": "factura", "en": "invoice"}


@dataclass(frozen=True)
class EventEmail:
    """How one event type becomes an email: its kind (and template), its
    dedup key (from the event and the operator's zone), its attachments
    (from the event, the chosen language and the zone)."""

    kind: str
    dedup_key: Callable[[Any, ZoneInfo], str]
    attachments: Callable[[Any, str, ZoneInfo], tuple[Attachment, ...]] = (
        lambda event, language, zone: ()
    )


def _local_day(moment: datetime, zone: ZoneInfo) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: event times must carry a time zone")
    return moment.astimezone(zone).date().isoformat()


def _voicemail_audio(
    event: VoicemailReceived, language: str, zone: ZoneInfo
) -> tuple[Attachment, ...]:
    stamp = event.received_at.astimezone(zone).strftime("%Y%m%d-%H%M%S")
    stem = f"{VOICEMAIL_FILE[language]}-{stamp}"
    extension = AUDIO_EXTENSIONS.get(event.audio_content_type, "bin")
    recording = Attachment(f"{stem}.{extension}", event.audio_content_type, event.audio)
    if event.compressed_audio is None:
        return (recording,)
    compressed = Attachment(
        f"{stem}.{COMPRESSED_AUDIO_EXTENSION}", COMPRESSED_AUDIO_CONTENT_TYPE, event.compressed_audio
    )
    return (recording, compressed)


def _invoice_document(
    event: InvoiceIssued, language: str, zone: ZoneInfo
) -> tuple[Attachment, ...]:
    name = f"{INVOICE_FILE[language]}-{event.number}.html"
    return (Attachment(name, "text/html", event.invoice_html.encode("utf-8")),)


EVENT_EMAILS: dict[type, EventEmail] = {
    VoicemailReceived: EventEmail(
        "voicemail", lambda e, zone: f"voicemail:{e.uniqueid}", _voicemail_audio
    ),
    MissedCall: EventEmail("missed_call", lambda e, zone: f"missed:{e.linkedid}"),
    LowBalance: EventEmail(
        "low_balance", lambda e, zone: f"low_balance:{e.to.account_id}:{_local_day(e.at, zone)}"
    ),
    DailySpendLimitReached: EventEmail(
        "daily_limit", lambda e, zone: f"daily_limit:{e.to.account_id}:{_local_day(e.at, zone)}"
    ),
    TopUp: EventEmail("top_up", lambda e, zone: f"top_up:{e.to.account_id}:{e.entry_id}"),
    # the payment's own id: references are free text (two payments may share
    # one, and it may hold anything), so they never make a key
    PaymentRegistered: EventEmail("payment", lambda e, zone: f"payment:{e.payment_id}"),
    InvoiceIssued: EventEmail(
        "invoice", lambda e, zone: f"invoice:{e.number}", _invoice_document
    ),
    AllowedIpsChanged: EventEmail(
        "allowed_ips", lambda e, zone: f"allowed_ips:{e.to.account_id}:{e.change_id}"
    ),
}


def email_for_event(event: Event, renderer: Renderer) -> OutgoingEmail:
    """Return the outbox email for ``event``, rendered in its recipient's
    language, with its dedup key and attachments."""
    spec = EVENT_EMAILS[type(event)]
    rendered = renderer.render(spec.kind, event.to.language, event=event)
    return OutgoingEmail(
        dedup_key=spec.dedup_key(event, renderer.timezone),
        kind=spec.kind,
        recipient=event.to.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        attachments=spec.attachments(event, rendered.language, renderer.timezone),
        account_id=event.to.account_id,
        language=rendered.language,
    )


async def enqueue_event(
    db: Db, event: Event, renderer: Renderer, *, wake: asyncio.Event | None = None
) -> int:
    """Queue the email for ``event`` (see ``outbox.enqueue``: idempotent by
    its dedup key) and return its outbox id."""
    return await enqueue(db, email_for_event(event, renderer), wake=wake)
