"""Email templates: Romanian by default, English on request, Bucharest time,
HTML escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from notify.events import EVENT_EMAILS
from notify.render import Renderer, language_of
from tests.unit.notify.samples import SAMPLE_EVENTS

RENDERER = Renderer()


def missed_call(**changes: object) -> SimpleNamespace:
    fields: dict[str, object] = {
        "caller_number": "+40722123456",
        "caller_name": "Ion Pop",
        "called_at": datetime(2025, 7, 1, 9, 0, tzinfo=UTC),
        "ring_seconds": 25,
        "called_number": "",
    }
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_a_0900_utc_call_on_1_july_shows_1200_in_romanian() -> None:
    """Summer time: Bucharest is UTC+3."""
    rendered = RENDERER.render("missed_call", "ro", event=missed_call())

    assert "Ora:     1 iulie 2025, 12:00" in rendered.text
    assert "1 iulie 2025, 12:00" in rendered.html


def test_a_0900_utc_call_on_1_july_shows_1200_in_english() -> None:
    rendered = RENDERER.render("missed_call", "en", event=missed_call())

    assert "Time:     1 July 2025, 12:00" in rendered.text


def test_a_0900_utc_call_in_january_shows_1100() -> None:
    """Winter time: Bucharest is UTC+2."""
    event = missed_call(called_at=datetime(2025, 1, 15, 9, 0, tzinfo=UTC))

    assert "15 ianuarie 2025, 11:00" in RENDERER.render("missed_call", "ro", event=event).text


def test_a_late_utc_evening_is_already_the_next_day_in_bucharest() -> None:
    event = missed_call(called_at=datetime(2025, 6, 30, 22, 30, tzinfo=UTC))

    assert "1 iulie 2025, 01:30" in RENDERER.render("missed_call", "ro", event=event).text


def test_a_naive_time_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError):
        RENDERER.render("missed_call", "ro", event=missed_call(called_at=datetime(2025, 7, 1, 9)))


def test_the_html_part_escapes_the_caller_name() -> None:
    event = missed_call(caller_name="<script>alert('x')</script> & Co")

    rendered = RENDERER.render("missed_call", "ro", event=event)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in rendered.html
    # the subject is escaped where the HTML shows it, in <title>
    assert "<title>Apel nepreluat de la &lt;script&gt;" in rendered.html


def test_a_caller_name_with_line_breaks_stays_on_one_line_of_the_text() -> None:
    event = missed_call(caller_name="Ion\n\nSunați urgent la 0900 000 000")

    rendered = RENDERER.render("missed_call", "ro", event=event)

    assert "De la:   Ion Sunați urgent la 0900 000 000 (+40722123456)" in rendered.text


def test_a_withheld_number_is_said_so_in_the_recipients_language() -> None:
    event = missed_call(caller_number="anonymous", caller_name="")

    assert RENDERER.render("missed_call", "ro", event=event).subject == (
        "Apel nepreluat de la număr ascuns"
    )
    assert RENDERER.render("missed_call", "en", event=event).subject == (
        "Missed call from withheld number"
    )


@pytest.mark.parametrize(
    ("preference", "language"),
    [("ro", "ro"), ("en", "en"), ("en-GB", "en"), ("EN", "en"), ("de", "ro"), (None, "ro"),
     ("", "ro")],
)
def test_the_language_is_the_accounts_when_supported_else_romanian(
    preference: str | None, language: str
) -> None:
    assert language_of(preference) == language


def test_an_account_in_an_unsupported_language_gets_romanian() -> None:
    rendered = RENDERER.render("missed_call", "de", event=missed_call())

    assert rendered.language == "ro"
    assert rendered.subject.startswith("Apel nepreluat")


@pytest.mark.parametrize(
    ("language", "amount", "shown"),
    [
        ("ro", Decimal("1234.5"), "1.234,50 RON"),
        ("en", Decimal("1234.5"), "1,234.50 RON"),
        ("ro", Decimal("0.005"), "0,01 RON"),
        ("en", Decimal("-3"), "-3.00 RON"),
    ],
)
def test_amounts_are_shown_with_the_languages_separators(
    language: str, amount: Decimal, shown: str
) -> None:
    event = SimpleNamespace(
        balance=amount, threshold=Decimal("5"), currency="RON",
        at=datetime(2025, 7, 1, 9, tzinfo=UTC),
    )

    assert shown in RENDERER.render("low_balance", language, event=event).text


def test_a_float_amount_is_refused() -> None:
    """Invariant 1: money is never a float, not even on its way to a template."""
    event = SimpleNamespace(
        balance=1.5, threshold=Decimal("5"), currency="RON",
        at=datetime(2025, 7, 1, 9, tzinfo=UTC),
    )

    with pytest.raises(TypeError):
        RENDERER.render("low_balance", "ro", event=event)


@pytest.mark.parametrize("seconds, shown", [(0, "0 s"), (42, "42 s"), (65, "1 min 05 s"),
                                            (3600, "60 min 00 s")])
def test_durations_are_minutes_and_seconds(seconds: int, shown: str) -> None:
    event = missed_call(ring_seconds=seconds)

    assert f"A sunat: {shown}\n" in RENDERER.render("missed_call", "ro", event=event).text


@pytest.mark.parametrize("language", ["ro", "en"])
@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda event: type(event).__name__)
def test_every_event_has_a_subject_text_and_html_in_both_languages(
    event: object, language: str
) -> None:
    kind = EVENT_EMAILS[type(event)].kind

    rendered = RENDERER.render(kind, language, event=event)

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and rendered.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in rendered.html
    assert "{{" not in rendered.text + rendered.html


def test_every_event_type_has_a_sample() -> None:
    assert {type(event) for event in SAMPLE_EVENTS} == set(EVENT_EMAILS)
