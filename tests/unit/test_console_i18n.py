"""The console's message catalog (issue 13, item 5): Romanian and English,
every key in both, and the language a browser gets by default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web.console import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"
CONSOLE = Path(i18n.__file__).parent


def test_both_languages_have_every_key() -> None:
    """Each key of one language exists in the other (and nothing is empty)."""
    assert set(i18n.CATALOG) == set(i18n.LANGUAGES)
    assert set(i18n.CATALOG["ro"]) == set(i18n.CATALOG["en"])
    assert all(text.strip() for language in i18n.CATALOG.values() for text in language.values())


def test_every_key_the_pages_use_is_in_the_catalog() -> None:
    """A key written in a template or a console module exists (else the page shows the bare key)."""
    used = set()
    for path in [*TEMPLATES.glob("*.html"), *CONSOLE.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+|yes|no)["']""", path.read_text()))
        used |= set(re.findall(r"""translate\([^,]+,\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()))
    assert used, "no key found: the pattern no longer matches how pages ask for words"
    assert used - set(i18n.CATALOG["en"]) == set()


def test_placeholders_are_the_same_in_both_languages() -> None:
    """A message's {placeholders} are filled the same way whatever the language."""
    for key, english in i18n.CATALOG["en"].items():
        assert set(re.findall(r"{(\w+)}", english)) == set(re.findall(r"{(\w+)}", i18n.CATALOG["ro"][key])), key


@pytest.mark.parametrize("header,expected", [
    ("", "ro"),
    ("de-DE,de;q=0.9", "ro"),
    ("en-US,en;q=0.9", "en"),
    ("ro-RO,ro;q=0.9,en;q=0.8", "ro"),
    ("en;q=0.5,ro;q=0.8", "ro"),
    ("fr,en;q=0.7", "en"),
    ("en;q=0", "ro"),
    ("en;q=bogus", "ro"),
])
def test_the_default_language_follows_accept_language_romanian_first(header: str, expected: str) -> None:
    """The browser's languages by weight pick ours; Romanian when none is ours."""
    assert i18n.from_accept_language(header) == expected
