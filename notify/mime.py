"""An outbox email as the bytes an SMTP server receives: plain text with an
HTML alternative and attachments, built with ``email.message.EmailMessage``
under ``email.policy.SMTP``.

Headers (invariant 7): every value goes through the email package, after
``header_text`` has cleaned it. Stripping CR/LF is not enough on every
Python: the email package decodes RFC 2047 encoded-words in the values it
is given, so a caller name ``=?utf-8?q?x=0D=0ABcc:_a@b?=`` becomes a CR/LF
again, which CPython before 3.11.10/3.12.5 writes out raw (CVE-2024-6923).
``header_text`` therefore also breaks ``=?`` apart, and ``email_bytes``
checks the finished message's header names against the ones we set and
refuses anything else (HeaderInjectionError), whatever the Python.
"""

from __future__ import annotations

import hashlib
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import format_datetime

from notify.errors import HeaderInjectionError, InvalidEmailError
from notify.messages import OutgoingEmail
from sqlbase import utc_now

# lines of 78 characters at most, CRLF, and 7-bit clean bodies: the text
# parts are quoted-printable and attachments base64, so any relay takes them
POLICY = SMTP.clone(cte_type="7bit")
HEADER_TEXT_LENGTH = 250
TEXT_CHARSET = "utf-8"
"""The charset of every text part and every text/* attachment."""
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def header_text(value: str, *, max_length: int = HEADER_TEXT_LENGTH) -> str:
    """Return ``value`` safe to put in a header: every character Python
    does not call printable (control and format characters such as
    bidirectional overrides, line and paragraph separators, unassigned code
    points, lone surrogates) becomes a space, runs of spaces one space,
    ``=?`` (what starts an encoded-word) becomes ``= ?``, and it is cut to
    ``max_length``."""
    cleaned = "".join(char if char.isprintable() else " " for char in value)
    cleaned = " ".join(cleaned.split()).replace("=?", "= ?")
    if len(cleaned) > max_length:
        cleaned = cleaned[: max_length - 1].rstrip() + "…"
    return cleaned


def safe_filename(filename: str) -> str:
    """Return ``filename`` with anything but letters, digits, '.', '_' and
    '-' replaced by '_' (it goes into a MIME parameter and, at the
    recipient, onto a disk)."""
    cleaned = _FILENAME_UNSAFE.sub("_", filename).strip("._") or "attachment"
    return cleaned[:100]


def message_id(dedup_key: str, domain: str) -> str:
    """Return the Message-ID of the email with this dedup key: the same for
    every copy, so a mail client shows a rare second delivery as one."""
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def build_email(email: OutgoingEmail, *, sender: Address) -> EmailMessage:
    """Return the MIME message for ``email`` from ``sender``:
    multipart/alternative (text, HTML) inside multipart/mixed when there are
    attachments. Raises InvalidEmailError if the recipient is not one
    address."""
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    try:
        message["To"] = Address(addr_spec=email.recipient)
    except (ValueError, IndexError) as exc:
        raise InvalidEmailError("recipient", "one address like name@example.com") from exc
    message["Subject"] = header_text(email.subject)
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = message_id(email.dedup_key, sender.domain or "localhost")
    if not email.marketing:
        # RFC 3834: no vacation replies or bounces-to-bounces for these
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text, subtype="plain", charset=TEXT_CHARSET, cte="quoted-printable")
    if email.html is not None:
        message.add_alternative(email.html, subtype="html", charset=TEXT_CHARSET, cte="quoted-printable")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=safe_filename(attachment.filename),
            # without a charset, text/* means US-ASCII (RFC 2046 4.1.2): readers
            # show "Factură" as "Factur��". ``checked`` refused any text
            # attachment that is not UTF-8, so this is always true.
            params={"charset": TEXT_CHARSET} if maintype == "text" else None,
        )
    return message


def email_bytes(message: EmailMessage) -> bytes:
    """Return ``message`` serialised for SMTP (CRLF line ends), after
    checking that its top-level headers are exactly the ones set on it;
    raises HeaderInjectionError otherwise."""
    data = message.as_bytes(policy=POLICY)
    expected = [name.lower() for name in message.keys()]
    # the top-level header block ends at the first empty line
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    found = BytesHeaderParser().parsebytes(head).keys()
    if [name.lower() for name in found] != expected:
        unexpected = [name for name in found if name.lower() not in expected] or found
        raise HeaderInjectionError(unexpected)
    return data
