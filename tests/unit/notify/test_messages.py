"""What enqueue accepts: an email that can be sent, or a clear refusal."""

from __future__ import annotations

import pytest

from notify.errors import InvalidEmailError
from notify.messages import Attachment, OutgoingEmail, checked


def email(**changes: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "dedup_key": "invoice:CP-2025-000123",
        "kind": "invoice",
        "recipient": "ana@example.ro",
        "subject": "Factura",
        "text": "Factura este atașată.",
    }
    fields.update(changes)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def test_a_well_formed_email_is_accepted_as_it_is() -> None:
    assert checked(email()) == email()


@pytest.mark.parametrize(
    "recipient",
    [
        "ana@example.ro\r\nBcc: victim@example.com",
        "ana@example.ro, victim@example.com",
        "Ana <ana@example.ro>",
        "ana",
        "ana@localhost",
        "",
    ],
)
def test_anything_but_one_plain_address_is_refused_as_recipient(recipient: str) -> None:
    with pytest.raises(InvalidEmailError) as refused:
        checked(email(recipient=recipient))

    assert refused.value.field == "recipient"


def test_a_refusal_does_not_repeat_the_address() -> None:
    """Errors end up in logs; addresses are personal data."""
    with pytest.raises(InvalidEmailError) as refused:
        checked(email(recipient="ana.popescu@example.ro, x@example.ro"))

    assert "ana.popescu" not in str(refused.value)


@pytest.mark.parametrize("key", ["", "invoice", "invoice:", "invoice:CP 1", "x" * 201, "a:\n"])
def test_a_dedup_key_must_be_kind_colon_id_in_printable_ascii(key: str) -> None:
    with pytest.raises(InvalidEmailError):
        checked(email(dedup_key=key))


def test_an_attachment_needs_a_media_type() -> None:
    with pytest.raises(InvalidEmailError):
        checked(email(attachments=(Attachment("a.wav", "wav", b"RIFF"),)))


def test_marketing_email_must_name_its_account() -> None:
    """Consent is recorded per account."""
    with pytest.raises(InvalidEmailError):
        checked(email(marketing=True, account_id=None))


def test_an_over_long_subject_is_refused() -> None:
    with pytest.raises(InvalidEmailError):
        checked(email(subject="a" * 501))
