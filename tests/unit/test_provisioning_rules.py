"""Provisioning's field rules and plain records, without a database.

The rules are the first line of invariant 7: no subscriber-controlled string
can carry dialplan/config syntax or header-breaking characters inward.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.credentials import DEFAULT_REALM, md5_cred
from provisioning.errors import InvalidFieldError
from provisioning.records import Endpoint
from provisioning.services import new_password
from provisioning.validation import RULES, validated

ACCEPTED = {
    "username": ["demo1000", "ana.popescu", "ana_desk-2", "A1"],
    "password": ["correct-horse-battery", new_password(), "x" * 128],
    "caller_id_number": ["1000", "+40212345678", "0" * 20],
    "display_name": ["Ana Popescu", "Ștefan Țurcanu", "O'Brien & Co", "x" * 64],
    "name": ["Ana Popescu", "Întreprinderea Șoimul SRL"],
    "email": ["ana@example.com", "ana.popescu+voip@mail.example.ro"],
    "language": ["ro", "en"],
}

REFUSED = {
    "username": ["", ".hidden", "ana popescu", "ana;x", "ana]\n[evil", "a" * 65, "ană"],
    "password": ["short", "has space in it", "semi;colon-rest", 'quo"te-password', "x" * 129],
    "caller_id_number": ["", "10a0", "++40", "1000,1", "0" * 21],
    "display_name": ["", 'Ana" <sip:evil>', "Ana <1000>", "Ana;evil", "back\\slash", "x" * 65],
    "name": ["", "x" * 129],
    "email": [
        "ana",
        "ana@localhost",
        "ana@example.com\r\nBcc: x@example.com",
        "<ana@example.com>",
        "a b@example.com",
    ],
    "language": ["", "RO", "ron", "r1"],
}


@pytest.mark.parametrize(
    ("field", "value"), [(field, value) for field, values in ACCEPTED.items() for value in values]
)
def test_valid_values_are_accepted_unchanged(field: str, value: str) -> None:
    assert validated(field, value) == value


@pytest.mark.parametrize(
    ("field", "value"), [(field, value) for field, values in REFUSED.items() for value in values]
)
def test_invalid_values_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        validated(field, value)

    assert refused.value.field == field


@given(
    field=st.sampled_from(sorted(RULES)),
    before=st.text(max_size=5),
    control=st.characters(categories=["Cc", "Cf"]),
    after=st.text(max_size=5),
)
def test_control_characters_are_refused_in_every_field(
    field: str, before: str, control: str, after: str
) -> None:
    """Newlines and other controls would split config lines and headers."""
    with pytest.raises(InvalidFieldError):
        validated(field, before + control + after)


def test_a_refusal_never_repeats_the_refused_value() -> None:
    """The value may be a password; errors end up in logs."""
    with pytest.raises(InvalidFieldError) as refused:
        validated("password", "my secret;password")

    assert "my secret" not in str(refused.value)


def test_generated_passwords_carry_144_random_bits() -> None:
    """24 URL-safe characters, 6 bits each, different every time."""
    passwords = {new_password() for _ in range(100)}

    assert len(passwords) == 100
    assert {len(password) for password in passwords} == {24}


def test_an_endpoint_never_shows_its_password_or_credential_in_its_repr() -> None:
    credential = md5_cred("ana", DEFAULT_REALM, "correct-horse-battery")
    endpoint = Endpoint("ana", credential, DEFAULT_REALM, "Ana", "1001", subscriber_id=1,
                        password="correct-horse-battery")

    assert "correct-horse-battery" not in repr(endpoint) and credential not in repr(endpoint)
