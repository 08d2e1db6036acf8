"""Plain data notify hands around: an email to queue, one claimed for
sending, an outbox entry as an admin sees it. Frozen, no database attached.

``checked`` holds the rules an email must follow before it is queued, as a
table, so a bad address is refused to the caller who made it, not found
dead in the outbox later.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address

from notify.errors import InvalidEmailError
from notify.tables import ADDRESS_LENGTH, DEDUP_KEY_LENGTH, SUBJECT_LENGTH


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "audio/wav", "text/html"...
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class OutgoingEmail:
    """One email to queue. ``dedup_key`` names it: queuing the same key twice
    sends one email. ``marketing`` emails need the account's recorded consent."""

    dedup_key: str
    kind: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    account_id: int | None = None
    language: str = "ro"
    marketing: bool = False


@dataclass(frozen=True)
class ClaimedEmail:
    """An email a dispatcher holds until ``lease_expires_at``: if the
    dispatcher dies, another one sends it after that (at least once)."""

    id: int
    claim_token: str
    attempts: int  # including this one
    lease_expires_at: datetime
    email: OutgoingEmail


@dataclass(frozen=True)
class OutboxEntry:
    """Where one email stands, without its content."""

    id: int
    dedup_key: str
    kind: str
    recipient: str
    account_id: int | None
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    max_length: int
    meaning: str  # completes "must be ..."


# Characters with a meaning around addresses in headers and SMTP commands.
_ADDRESS_PART = r'[^\s@"<>,;:()\[\]\\]+'

_RULES: dict[str, _Rule] = {
    "dedup_key": _Rule(
        re.compile(r"[A-Za-z0-9_]+:[\x21-\x7e]+"),
        DEDUP_KEY_LENGTH,
        "'<kind>:<id>' in printable ASCII without spaces, at most 200 characters",
    ),
    "kind": _Rule(
        re.compile(r"[a-z][a-z0-9_]*"), 32, "a lowercase identifier of 1 to 32 characters"
    ),
    "recipient": _Rule(
        re.compile(rf"{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}"),
        ADDRESS_LENGTH,
        "one address like name@example.com",
    ),
    # our own From address: "clickphone@localhost" is fine for the catcher
    "sender": _Rule(
        re.compile(rf"{_ADDRESS_PART}@{_ADDRESS_PART}"),
        ADDRESS_LENGTH,
        "one address like noreply@example.com",
    ),
    "language": _Rule(re.compile(r"[a-z]{2}"), 2, "a two-letter language code"),
    "subject": _Rule(re.compile(r".+"), SUBJECT_LENGTH, "1 to 500 characters"),
    "content_type": _Rule(
        re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*"),
        100,
        "a media type like audio/wav",
    ),
    "filename": _Rule(re.compile(r"[^/\\]+"), 255, "1 to 255 characters, no slashes"),
}


def check_field(name: str, value: str) -> str:
    """Return ``value`` if it follows the rule of field ``name``; raise
    InvalidEmailError otherwise. Control characters are never allowed."""
    rule = _RULES[name]
    if (
        not isinstance(value, str)
        or len(value) > rule.max_length
        or any(unicodedata.category(char) == "Cc" for char in value)
        or not rule.pattern.fullmatch(value)
    ):
        raise InvalidEmailError(name, rule.meaning)
    return value


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def checked(email: OutgoingEmail) -> OutgoingEmail:
    """Return ``email`` if it can be queued and sent; raise InvalidEmailError
    naming the first field that breaks its rule."""
    check_field("dedup_key", email.dedup_key)
    check_field("kind", email.kind)
    check_field("recipient", email.recipient)
    try:  # and the email package must read it as exactly one address
        Address(addr_spec=email.recipient)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidEmailError("recipient", _RULES["recipient"].meaning) from exc
    check_field("language", email.language)
    # the subject may hold a caller's name: it is cleaned when built, only
    # its size is a reason to refuse here
    if not email.subject or len(email.subject) > SUBJECT_LENGTH:
        raise InvalidEmailError("subject", _RULES["subject"].meaning)
    for attachment in email.attachments:
        check_field("filename", attachment.filename)
        check_field("content_type", attachment.content_type)
        if not isinstance(attachment.content, bytes):
            raise InvalidEmailError("attachment content", "bytes")
        if attachment.content_type.startswith("text/") and not _is_utf8(attachment.content):
            # the email declares every text attachment UTF-8 (notify.mime)
            raise InvalidEmailError("attachment content", "UTF-8 text for a text/* attachment")
    if email.marketing and email.account_id is None:
        raise InvalidEmailError("account_id", "set for marketing email (consent is per account)")
    return email
