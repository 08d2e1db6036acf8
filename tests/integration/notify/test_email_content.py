"""What arrives at a real SMTP server: headers, parts, language and times.

Invariant 7: no subscriber-controlled string can inject email headers or
HTML. A caller ID name is such a string: the caller chooses it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.catcher import MaildirCatcher
from notify.dispatcher import Dispatcher
from notify.errors import InvalidEmailError
from notify.events import InvoiceIssued, MissedCall, Recipient, VoicemailReceived, enqueue_event
from notify.messages import Attachment, OutgoingEmail, checked
from notify.render import Renderer
from tests.integration.notify.support import NOTIFY_HEADERS, html_part, text_part, wav_bytes

# 09:00 UTC on 1 July is 12:00 in Bucharest (EEST, UTC+3)
CALL_TIME = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)


def missed_call(caller_name: str, language: str = "ro") -> MissedCall:
    return MissedCall(
        to=Recipient(account_id=7, email="ana@example.ro", language=language),
        linkedid="1751360400.11",
        caller_number="+40722123456",
        caller_name=caller_name,
        called_at=CALL_TIME,
        ring_seconds=25,
    )


async def deliver(engine: AsyncEngine, dispatcher: Dispatcher, event: object) -> None:
    await enqueue_event(engine, event, Renderer())  # type: ignore[arg-type]
    counts = await dispatcher.dispatch_due()
    assert counts.sent == 1, counts


@pytest.mark.parametrize(
    "caller_name",
    [
        "Ion\r\nBcc: victim@example.com",
        "Ion\nX-Injected: yes",
        "Ion\rX-Injected: yes",
        "Ion\u2028X-Injected: yes",
    ],
    ids=["crlf", "lf", "cr", "unicode-line-separator"],
)
async def test_line_breaks_in_a_caller_name_add_no_header(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher, caller_name: str
) -> None:
    await deliver(engine, dispatcher, missed_call(caller_name))

    [received] = catcher.messages()
    assert list(received.keys()) == NOTIFY_HEADERS
    assert "\n" not in received["Subject"] and "\r" not in received["Subject"]


@pytest.mark.parametrize(
    "caller_name",
    [
        "=?utf-8?q?Ion=0D=0ABcc:_victim@example.com?=",
        "=?utf-8?b?SW9uDQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=",
        "Ion =?UTF-8?Q?=0AX-Injected:_yes?= Pop",
    ],
    ids=["q-encoded-crlf", "b-encoded-crlf", "inside-a-name"],
)
async def test_an_encoded_word_in_a_caller_name_adds_no_header(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher, caller_name: str
) -> None:
    """The email package decodes encoded-words it is given: on Python
    without the CVE-2024-6923 fix that alone wrote a raw CR/LF out."""
    await deliver(engine, dispatcher, missed_call(caller_name))

    [received] = catcher.messages()
    assert list(received.keys()) == NOTIFY_HEADERS
    assert "victim@example.com" not in str(received.get_all("Bcc") or "")
    assert "\n" not in received["Subject"]


async def test_html_in_a_caller_name_is_escaped_in_the_html_part(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    await deliver(engine, dispatcher, missed_call('<a href="https://evil.example">Bancă</a>'))

    [received] = catcher.messages()
    html = html_part(received)
    assert "<a href" not in html
    assert "&lt;a href=&#34;https://evil.example&#34;&gt;Bancă&lt;/a&gt;" in html
    # the text part shows it as the caller wrote it
    assert '<a href="https://evil.example">Bancă</a>' in text_part(received)


async def test_a_romanian_email_shows_the_call_time_in_bucharest(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    await deliver(engine, dispatcher, missed_call("Ion Pop", language="ro"))

    [received] = catcher.messages()
    assert received["Subject"] == "Apel nepreluat de la Ion Pop (+40722123456)"
    assert "1 iulie 2025, 12:00" in text_part(received)
    assert "1 iulie 2025, 12:00" in html_part(received)


async def test_an_english_email_shows_the_call_time_in_bucharest(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    await deliver(engine, dispatcher, missed_call("Ion Pop", language="en"))

    [received] = catcher.messages()
    assert received["Subject"] == "Missed call from Ion Pop (+40722123456)"
    assert "1 July 2025, 12:00" in text_part(received)
    assert "1 July 2025, 12:00" in html_part(received)


def voicemail_received(audio: bytes, compressed_audio: bytes | None = None) -> VoicemailReceived:
    return VoicemailReceived(
        to=Recipient(account_id=7, email="ana@example.ro"),
        uniqueid="1751360400.12",
        caller_number="0722123456",
        caller_name="Maria Ionescu",
        received_at=CALL_TIME,
        duration_seconds=42,
        audio=audio,
        compressed_audio=compressed_audio,
    )


async def test_a_voicemail_email_carries_the_recording_and_the_call_details(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    audio = wav_bytes(seconds=1.0)

    await deliver(engine, dispatcher, voicemail_received(audio))

    [received] = catcher.messages()
    assert "Maria Ionescu (0722123456)" in text_part(received)
    assert "42 s" in text_part(received)
    [recording] = list(received.iter_attachments())
    assert recording.get_filename() == "mesaj-vocal-20250701-120000.wav"
    assert recording.get_content() == audio


async def test_a_voicemail_with_a_compressed_copy_carries_both_the_wav_first(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    """Both files go through the outbox and SMTP byte for byte: the WAV,
    then the Ogg Opus copy as audio/ogg named .opus (RFC 7845)."""
    audio = wav_bytes(seconds=1.0)
    compressed = b"OggS" + bytes(range(256)) * 8  # every byte value survives base64

    await deliver(engine, dispatcher, voicemail_received(audio, compressed))

    [received] = catcher.messages()
    recording, copy = received.iter_attachments()
    assert (recording.get_content_type(), recording.get_filename()) == ("audio/wav", "mesaj-vocal-20250701-120000.wav")
    assert (copy.get_content_type(), copy.get_filename()) == ("audio/ogg", "mesaj-vocal-20250701-120000.opus")
    assert recording.get_content() == audio and copy.get_content() == compressed


async def test_an_invoice_email_carries_the_invoice_document(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    invoice_html = (
        "<html><body><h1>Factura CP-2025-000123</h1><p>Total: 121,00 RON</p></body></html>"
    )
    event = InvoiceIssued(
        to=Recipient(account_id=7, email="ana@example.ro"),
        number="CP-2025-000123",
        issued_on=date(2025, 8, 1),
        due_on=date(2025, 8, 15),
        total=Decimal("121.00"),
        currency="RON",
        invoice_html=invoice_html,
    )

    await deliver(engine, dispatcher, event)

    [received] = catcher.messages()
    [document] = list(received.iter_attachments())
    assert document.get_filename() == "factura-CP-2025-000123.html"
    assert document.get_content_type() == "text/html"
    assert document.get_payload(decode=True) == invoice_html.encode()
    assert "121,00 RON" in text_part(received)


async def test_a_text_attachment_declares_utf8_so_readers_decode_diacritics(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    """Issue 10, defect 15: the invoice attachment went out as bare
    ``text/html``, which MIME reads as US-ASCII ("Factur��"). Every text/*
    attachment carries ``charset=utf-8`` and decodes to the same text."""
    invoice_html = "<html><body><h1>Factură</h1><p>Total: 121,00 RON — achitată</p></body></html>"
    event = InvoiceIssued(
        to=Recipient(account_id=7, email="ana@example.ro"), number="CP-000123",
        issued_on=date(2025, 8, 1), due_on=date(2025, 8, 11), total=Decimal("121.00"),
        currency="RON", invoice_html=invoice_html,
    )  # fmt: skip

    await deliver(engine, dispatcher, event)

    [received] = catcher.messages()
    [document] = list(received.iter_attachments())
    assert document.get_content_charset() == "utf-8"
    assert document.get_content() == invoice_html  # decoded by the declared charset
    assert "Factură" in document.get_content()


def test_a_text_attachment_that_is_not_utf8_is_refused_before_queuing() -> None:
    """Issue 10, defect 15: the charset declared for text/* attachments is
    always true: Latin-2 bytes are refused, naming the field."""
    email = OutgoingEmail(
        dedup_key="invoice:CP-000123", kind="invoice", recipient="ana@example.ro", subject="Factura",
        text="Factura.", attachments=(Attachment("factura.html", "text/html", "Factură".encode("iso8859-2")),),
    )  # fmt: skip

    with pytest.raises(InvalidEmailError, match="attachment content"):
        checked(email)
