"""What provisioning accepts in each field, as a table of rules.

SIP usernames, passwords, caller IDs and display names end up in Asterisk's
rendered configuration and in SIP headers; subscriber names and emails in
email headers. Refusing control characters and configuration syntax when
the data comes in is the first line of invariant 7; asterisk_conf and
notify still escape whatever they render.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from provisioning.errors import InvalidFieldError


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    max_length: int
    meaning: str  # completes "must be ..." in the error an admin sees


# Characters with a meaning in email addresses' surroundings (headers, lists).
_EMAIL_PART = r'[^\s@"<>,;:()\[\]\\]+'

RULES: dict[str, Rule] = {
    "username": Rule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"),
        64,
        "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
    # Never rendered nor stored (only its digest credential is), but typed
    # into phones' settings: no quotes, spaces, '$' or backslashes.
    "password": Rule(
        re.compile(r"[A-Za-z0-9._+/@:-]{12,}"),
        128,
        "12 to 128 characters among letters, digits and ._+/@:-",
    ),
    # Sent in SIP challenges and rendered into pjsip.conf; part of every
    # endpoint's digest credential (provisioning.credentials).
    "realm": Rule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"),
        64,
        "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
    "account_code": Rule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"),
        40,
        "1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
    "did": Rule(re.compile(r"[1-9][0-9]{5,14}"), 15, "an E.164 number in digits, like 40212345678"),
    "caller_id_number": Rule(
        re.compile(r"\+?[0-9]+"), 20, "1 to 20 digits, optionally after a '+'"
    ),
    # Goes between quotes in a SIP From header and in pjsip callerid.
    "display_name": Rule(
        re.compile(r'[^"<>;\\]+'),
        64,
        "1 to 64 characters, none of \" < > ; \\ or control characters",
    ),
    "name": Rule(re.compile(r".+"), 128, "1 to 128 characters, no control characters"),
    "email": Rule(
        re.compile(rf"{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}"),
        254,
        "an address like name@example.com",
    ),
    "language": Rule(
        re.compile(r"[a-z]{2}"), 2, "a two-letter ISO 639-1 code in lower case, like 'ro'"
    ),
}


def validated(field: str, value: str) -> str:
    """Return ``value`` unchanged if it follows ``field``'s rule; raise
    InvalidFieldError otherwise. Control characters (newlines included) are
    refused in every field."""
    rule = RULES[field]
    if (
        not isinstance(value, str)
        or len(value) > rule.max_length
        or _has_control_character(value)
        or rule.pattern.fullmatch(value) is None
    ):
        raise InvalidFieldError(field, rule.meaning)
    return value


def _has_control_character(value: str) -> bool:
    # Unicode category C*: controls, format (bidi overrides), unassigned...
    return any(unicodedata.category(char).startswith("C") for char in value)
