"""The tables notify owns: the outbox, its attachments and marketing consent.

Schema changes go through a migration in controlplane/migrations/versions;
a test checks that the migrated schema matches what is declared here.

Attachments live in their own table, not in files under a state folder:
an email and its audio are committed in one transaction with whatever
caused them (no file without a row, no row without its file), every
control-plane process sharing a PostgreSQL database sees them, and they
go with the row. Their bytes are deleted once the email is sent (a
voicemail's audio has no reason to stay in the outbox); the row stays,
so its dedup key keeps refusing a second copy.
"""

from __future__ import annotations


from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.schema import conv

from sqlbase import UtcDateTime
from sqlbase.columns import created_at
from sqlbase.naming import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
DEAD = "dead"
STATES = (PENDING, SENDING, SENT, DEAD)
# states a dispatcher may claim: pending when due, sending once its lease ended
LIVE_STATES = (PENDING, SENDING)

DEDUP_KEY_LENGTH = 200
KIND_LENGTH = 32
ADDRESS_LENGTH = 254
SUBJECT_LENGTH = 500


outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    # what makes two emails the same one: voicemail:<uniqueid>, invoice:<number>...
    Column("dedup_key", String(DEDUP_KEY_LENGTH), nullable=False, unique=True),
    Column("kind", String(KIND_LENGTH), nullable=False),
    # no foreign key: accounts belong to another package, and erasing one
    # must not wait for its mail history
    Column("account_id", Integer, nullable=True, index=True),
    Column("language", String(8), nullable=False),
    Column("recipient", String(ADDRESS_LENGTH), nullable=False),
    Column("subject", String(SUBJECT_LENGTH), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=True),
    Column("marketing", Boolean, nullable=False, default=False, server_default=false()),
    Column("state", String(8), nullable=False, index=True, default=PENDING, server_default=PENDING),
    # delivery attempts started (claims), including one whose sender died
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    # pending: when it is due; sending: when the claim's lease ends (a sender
    # that died leaves it due again then); NULL once sent or dead, so the
    # index only ever leads to live emails
    Column("next_attempt_at", UtcDateTime(), nullable=True, index=True),
    # which claim holds it: a sender whose lease ran out cannot reschedule it
    Column("claim_token", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    created_at(),
    Column("sent_at", UtcDateTime(), nullable=True),
    CheckConstraint(f"state IN ({', '.join(repr(s) for s in STATES)})", name="state"),
)

attachments = Table(
    "notify_attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "email_id",
        Integer,
        ForeignKey("notify_outbox.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
    # named as migration 0003 created it (the convention then took column 0 only)
    UniqueConstraint("email_id", "position", name=conv("uq_notify_attachments_email_id")),
)

marketing_consent = Table(
    "notify_marketing_consent",
    metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("granted_at", UtcDateTime(), nullable=False),
    # where the consent was given (form, call, contract clause): the proof GDPR asks for
    Column("source", String(200), nullable=False),
    # kept rather than deleting the row: the history of consent is the proof
    Column("withdrawn_at", UtcDateTime(), nullable=True),
)
