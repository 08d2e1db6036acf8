"""Each event becomes one outbox email, named by the fact it reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from notify.events import LowBalance, Recipient, VoicemailReceived, email_for_event
from notify.messages import checked
from notify.render import Renderer
from tests.unit.notify.samples import ANA, AT, INVOICE, MISSED_CALL, SAMPLE_EVENTS, VOICEMAIL

RENDERER = Renderer()

EXPECTED_KEYS = {
    "VoicemailReceived": "voicemail:1751360400.1",
    "MissedCall": "missed:1751360400.2",
    "LowBalance": "low_balance:7:2025-07-01",
    "DailySpendLimitReached": "daily_limit:7:2025-07-01",
    "TopUp": "top_up:7:4242",
    "PaymentRegistered": "payment:42",
    "InvoiceIssued": "invoice:CP-2025-000123",
    "AllowedIpsChanged": "allowed_ips:7:audit-981",
}


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda event: type(event).__name__)
def test_each_event_has_the_dedup_key_of_the_fact_it_reports(event: object) -> None:
    email = email_for_event(event, RENDERER)  # type: ignore[arg-type]

    assert email.dedup_key == EXPECTED_KEYS[type(event).__name__]


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda event: type(event).__name__)
def test_each_event_email_can_be_queued(event: object) -> None:
    email = email_for_event(event, RENDERER)  # type: ignore[arg-type]

    assert checked(email) == email
    assert email.account_id == 7 and email.recipient == "ana@example.ro"
    assert not email.marketing


def test_the_same_event_reported_twice_gives_the_same_email() -> None:
    """Invariant 5 (at most once by dedup key): a voicemail reported twice —
    two events built apart from the same facts — gives the same email, with
    the key, subject and text the fact alone decides."""
    first = VoicemailReceived(ANA, "1751360400.1", "0722123456", "Ion Pop", AT, 42, b"RIFF-WAVE")
    again = VoicemailReceived(ANA, "1751360400.1", "0722123456", "Ion Pop", AT, 42, b"RIFF-WAVE")

    emails = [email_for_event(event, RENDERER) for event in (first, again)]

    for email in emails:
        assert email.dedup_key == "voicemail:1751360400.1"
        assert email.subject == "Mesaj vocal nou de la Ion Pop (0722123456)"
        assert "De la:   Ion Pop (0722123456)\nPrimit:  1 iulie 2025, 12:00\nDurată:  42 s\n" in email.text
        assert [a.filename for a in email.attachments] == ["mesaj-vocal-20250701-120000.wav"]
    assert emails[0] == emails[1]


def test_low_balance_is_one_email_per_bucharest_day() -> None:
    """23:30 UTC on 30 June is already 1 July in Bucharest."""
    late_evening = LowBalance(ANA, *_low(datetime(2025, 6, 30, 23, 30, tzinfo=UTC)))
    next_morning = LowBalance(ANA, *_low(datetime(2025, 7, 1, 8, 0, tzinfo=UTC)))

    keys = {email_for_event(e, RENDERER).dedup_key for e in (late_evening, next_morning)}

    assert keys == {"low_balance:7:2025-07-01"}


def test_a_voicemail_email_attaches_the_recording_named_by_its_local_time() -> None:
    [recording] = email_for_event(VOICEMAIL, RENDERER).attachments

    assert recording.filename == "mesaj-vocal-20250701-120000.wav"
    assert recording.content_type == "audio/wav"
    assert recording.content == b"RIFF-WAVE"


def test_an_english_voicemail_email_names_its_recording_in_english() -> None:
    voicemail = replace(VOICEMAIL, to=Recipient(7, "ana@example.ro", "en"))

    [recording] = email_for_event(voicemail, RENDERER).attachments

    assert recording.filename == "voicemail-20250701-120000.wav"


def test_an_invoice_email_attaches_the_invoice_html() -> None:
    [document] = email_for_event(INVOICE, RENDERER).attachments

    assert document.filename == "factura-CP-2025-000123.html"
    assert document.content_type == "text/html"
    assert document.content == b"<html><body>Factura</body></html>"


def test_an_email_is_in_its_recipients_language() -> None:
    english = replace(MISSED_CALL, to=Recipient(7, "ana@example.ro", "en"))

    email = email_for_event(english, RENDERER)

    assert email.language == "en" and email.subject.startswith("Missed call")


def _low(at: datetime) -> tuple[Decimal, Decimal, str, datetime]:
    return (Decimal("3.20"), Decimal("5.00"), "EUR", at)
