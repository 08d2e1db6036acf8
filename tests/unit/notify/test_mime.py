"""Building the MIME message: parts, headers, and header safety (invariant 7)."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.errors import HeaderInjectionError
from notify.messages import Attachment, OutgoingEmail
from notify.mime import build_email, email_bytes, header_text, message_id, safe_filename

SENDER = Address("ClickPhone", addr_spec="alerts@clickphone.example")
EXPECTED_HEADERS = [
    "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version",
    "Content-Type",
]


def email(**changes: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "dedup_key": "missed:1751360400.3",
        "kind": "missed_call",
        "recipient": "ana@example.ro",
        "subject": "Apel nepreluat",
        "text": "Ați avut un apel nepreluat.\n",
        "html": "<p>Ați avut un apel nepreluat.</p>",
    }
    fields.update(changes)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(data)  # type: ignore[return-value]


def test_text_and_html_are_alternatives_of_one_message() -> None:
    message = parsed(email_bytes(build_email(email(), sender=SENDER)))

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain", "text/html",
    ]


def test_attachments_make_the_message_mixed_with_the_alternatives_first() -> None:
    wav = Attachment("mesaj.wav", "audio/wav", b"RIFF\x00\x01\x02WAVE")
    message = parsed(email_bytes(build_email(email(attachments=(wav,)), sender=SENDER)))

    assert message.get_content_type() == "multipart/mixed"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["multipart/alternative", "audio/wav"]
    [attached] = list(message.iter_attachments())
    assert attached.get_content() == wav.content


def test_the_message_is_seven_bit_clean_with_crlf_line_ends() -> None:
    """Any relay takes it, 8BITMIME or not."""
    data = email_bytes(build_email(email(subject="Țară și ștampilă"), sender=SENDER))

    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_service_email_is_marked_auto_generated_and_marketing_is_not() -> None:
    service = build_email(email(), sender=SENDER)
    marketing = build_email(email(marketing=True, account_id=7), sender=SENDER)

    assert service["Auto-Submitted"] == "auto-generated"
    assert "Auto-Submitted" not in marketing


def test_the_message_id_is_the_same_for_every_copy_of_a_dedup_key() -> None:
    first = build_email(email(), sender=SENDER)
    again = build_email(email(), sender=SENDER)
    other = build_email(email(dedup_key="missed:1751360400.4"), sender=SENDER)

    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].endswith("@clickphone.example>")
    assert message_id("missed:1", "x.example") == message_id("missed:1", "x.example")


@pytest.mark.parametrize(
    "subject",
    [
        "Apel de la Ion\r\nBcc: victim@example.com",
        "=?utf-8?q?Ion=0D=0ABcc:_victim@example.com?=",
        "=?utf-8?b?SW9uDQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=",
        "Ion\x00\x1b[31m\u2029X-Injected: yes",
    ],
)
def test_a_hostile_subject_adds_no_header(subject: str) -> None:
    message = parsed(email_bytes(build_email(email(subject=subject), sender=SENDER)))

    assert list(message.keys()) == EXPECTED_HEADERS
    assert "\n" not in message["Subject"]


def test_email_bytes_never_returns_a_header_that_was_not_set() -> None:
    """The last guard, whatever the Python: a raw encoded-word holding CR/LF
    set straight on a message (past header_text) either serialises as one
    header or is refused."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = "=?utf-8?q?x=0D=0ABcc:_victim@example.com?="
    message.set_content("hi")

    try:
        data = email_bytes(message)
    except HeaderInjectionError as refused:
        assert refused.unexpected == ["Bcc"]
    else:
        assert list(parsed(data).keys()) == list(message.keys())


@given(st.text())
def test_header_text_has_no_line_break_control_character_or_encoded_word_start(
    value: str,
) -> None:
    cleaned = header_text(value)

    assert "=?" not in cleaned
    assert all(char.isprintable() or char == " " for char in cleaned)
    assert len(cleaned) <= 250


def test_header_text_keeps_ordinary_names_as_they_are() -> None:
    assert header_text("Ștefan Țurcanu-Popescu (0722 123 456)") == (
        "Ștefan Țurcanu-Popescu (0722 123 456)"
    )


@pytest.mark.parametrize(
    ("given_name", "safe"),
    [
        ("voicemail-20250701-120000.wav", "voicemail-20250701-120000.wav"),
        ("../../etc/passwd", "etc_passwd"),
        ('factura "CP 1".html', "factura_CP_1_.html"),
        ("", "attachment"),
    ],
)
def test_attachment_file_names_are_reduced_to_safe_characters(
    given_name: str, safe: str
) -> None:
    assert safe_filename(given_name) == safe
