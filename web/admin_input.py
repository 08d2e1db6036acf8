"""What the admin operations accept from outside — the CLI's arguments and
the HTTP API's JSON — and how they refuse it: once, for both.

Every refusal is one :class:`AdminError` subclass, whose ``status`` the
HTTP API answers with and whose message names what was wrong:

=========================  ======  ===========================================
:class:`InvalidInputError`   400   a field breaks its rule (``field`` says which)
:class:`NotFoundError`       404   no such account or subscriber
:class:`ConflictError`       409   username, number or account code taken
=========================  ======  ===========================================

The bounds (every list, string and number from outside has one):

=========================  =================================================
ids                        ASCII digits, 1 to 2^31 - 1; any other id is an
                           unknown one (404)
amounts                    ASCII digits with at most 6 decimals
                           (:func:`amount_micro`); a top-up is more than 0
                           and at most 100,000 EUR, a credit or daily limit
                           at most 100,000 EUR, and a top-up may not bring
                           the balance above 1,000,000 EUR (billing.ledger)
``reference``              at most 200 characters, no control characters
                           (CR, LF, tabs...)
``idempotency_key``        1 to 128 letters, digits, '.', '_' or '-'
``allowed_networks``       at most 100 addresses or CIDRs
``blocked_prefixes``       at most 1,000 prefixes of 1 to 15 digits
``language``               a language our emails are written in (ro, en)
``tariff``                 a stored tariff plan (``clickphone tariffs``)
DID ``number``             a Romanian geographic, mobile, freephone (0800)
                           or shared-cost (0801) number: never premium-rate,
                           short, emergency or foreign
=========================  =================================================
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable

from admission.policy import Network
from billing import ledger
from billing.money import MoneyError, format_amount, micro_from_text
from billing.numbering import RO_FIXED, RO_MOBILE, SHARED_COST, TOLL_FREE

MAX_CONCURRENT_CALLS = 1000
MAX_ID = 2**31 - 1
"""The highest id a row can have: ids are INTEGER columns, 32-bit on PostgreSQL."""
MAX_TOP_UP_MICRO = ledger.MAX_OPERATION_MICRO
MAX_LIMIT_MICRO = ledger.MAX_LIMIT_MICRO
MAX_REFERENCE_LENGTH = 200
MAX_ALLOWED_NETWORKS = 100  # each becomes a line of pjsip.conf
MAX_BLOCKED_PREFIXES = 1000
DID_CLASSES = frozenset({RO_FIXED, RO_MOBILE, TOLL_FREE, SHARED_COST})
"""Number classes a DID may be: a premium-rate or short number is never ours to give."""

# [0-9], not \d: "١" is a digit to \d
_ID = re.compile(r"[0-9]{1,19}")
_PREFIX = re.compile(r"[0-9]{1,15}")
# no ':' so a client's key can never take a key billing makes ("rerate:...")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")



# -- refusals ---------------------------------------------------------------------


class AdminError(Exception):
    """An admin request refused; ``status`` is the HTTP answer."""

    status = 400


class InvalidInputError(AdminError, ValueError):
    """A field's value breaks its rule."""

    status = 400

    def __init__(self, field: str, message: str) -> None:
        if message.startswith(f"{field} "):  # "amount must be..." → "amount: must be..."
            message = message[len(field) + 1:]
        super().__init__(message if message.startswith(f"{field}:") else f"{field}: {message}")
        self.field = field


class NotFoundError(AdminError, LookupError):
    """No account or subscriber has this id."""

    status = 404


class ConflictError(AdminError):
    """The username, number or account code is taken."""

    status = 409


# -- what comes from outside -------------------------------------------------------


def shown(value: object, length: int = 40) -> str:
    """Return ``repr(value)`` cut to ``length`` characters, for a message
    that names a bad value without echoing megabytes of it."""
    text = repr(value)
    return text if len(text) <= length else f"{text[:length - 1]}…"


def id_from_text(text: str, what: str = "account") -> int:
    """Return the id written in ``text`` (ASCII digits); an id no row can
    have (other characters, 0, past 2^31 - 1) raises NotFoundError, as an
    id no row has would."""
    if not _ID.fullmatch(text):
        raise NotFoundError(f"no {what} {shown(text)}: ids are whole numbers from 1 to {MAX_ID}")
    return require_id(int(text), what)


def require_id(value: int, what: str = "account") -> int:
    """Return ``value`` if a row can have it as id; raise NotFoundError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotFoundError(f"no {what} {shown(value)}: ids are whole numbers from 1 to {MAX_ID}")
    return value


def amount_micro(field: str, text: str, *, minimum_micro: int = 0, maximum_micro: int) -> int:
    """Return the euros written in ``text`` (``"10.50"``, ASCII digits, at
    most 6 decimals) in micro-euros, from ``minimum_micro`` to
    ``maximum_micro``; raise InvalidInputError naming ``field``, in euros."""
    try:
        micro = micro_from_text(text)
    except MoneyError as exc:
        raise InvalidInputError(field, f"{exc}; write euros like 10.50") from exc
    if not minimum_micro <= micro <= maximum_micro:
        least = "more than 0 EUR" if minimum_micro == 1 else f"at least {format_amount(minimum_micro)}"
        raise InvalidInputError(
            field, f"must be {least} and at most {format_amount(maximum_micro)}, not {format_amount(micro)}")
    return micro


def checked_reference(reference: str) -> str:
    """Return a top-up's reference: free text (any language) of at most
    200 characters, without control characters (CR, LF...), which would
    break the email's lines; raise InvalidInputError."""
    if not isinstance(reference, str) or len(reference) > MAX_REFERENCE_LENGTH or any(
        unicodedata.category(char).startswith("C") for char in reference
    ):
        raise InvalidInputError(
            "reference", f"must be text of at most {MAX_REFERENCE_LENGTH} characters without control "
            "characters (line breaks, tabs)")
    return reference


def checked_idempotency_key(key: str | None) -> str | None:
    """Return the idempotency key (None: none); raise InvalidInputError."""
    if key is not None and not (isinstance(key, str) and _IDEMPOTENCY_KEY.fullmatch(key)):
        raise InvalidInputError("idempotency_key", "must be 1 to 128 letters, digits, '.', '_' or '-'")
    return key


def _bounded_items(field: str, value: Iterable[str] | str, maximum: int) -> list[object]:
    """The entries of a list, or of one string separated by commas or
    spaces; at most ``maximum`` of them (InvalidInputError naming ``field``)."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    if len(items) > maximum:
        raise InvalidInputError(field, f"at most {maximum} entries, not {len(items)}")
    return items


def parse_allowed_networks(value: Iterable[str] | str) -> tuple[Network, ...]:
    """Return the networks of addresses and CIDRs (a list, or one string
    separated by commas or spaces; at most 100, duplicates dropped); raise
    InvalidInputError naming the bad entry."""
    networks: dict[Network, None] = {}  # a dict: ordered, and O(1) to find a duplicate
    for item in _bounded_items("allowed_networks", value, MAX_ALLOWED_NETWORKS):
        if not isinstance(item, str):
            raise InvalidInputError("allowed_networks", f"not an address or CIDR: {shown(item)}")
        try:
            network = ipaddress.ip_network(item.strip(), strict=True)
        except ValueError as exc:
            raise InvalidInputError(
                "allowed_networks", f"{shown(item)} is not a valid address or CIDR ({shown(str(exc), 80)})"
            ) from exc
        networks[network] = None
    return tuple(networks)


def parse_blocked_prefixes(value: Iterable[str] | str) -> tuple[str, ...]:
    """Return prefixes of normalised numbers (1 to 15 digits, e.g. ``4021``;
    at most 1,000, duplicates dropped); raise InvalidInputError naming the
    bad entry."""
    prefixes: dict[str, None] = {}
    for item in _bounded_items("blocked_prefixes", value, MAX_BLOCKED_PREFIXES):
        if not isinstance(item, str) or not _PREFIX.fullmatch(item):
            raise InvalidInputError(
                "blocked_prefixes", f"{shown(item)} is not a prefix of E.164 digits (like 4021 or 40900)")
        prefixes[item] = None
    return tuple(prefixes)


def checked_flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(field, f"must be true or false, not {shown(value)}")
    return value


def checked_call_limit(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_CONCURRENT_CALLS:
        raise InvalidInputError("max_concurrent_calls",
                                f"must be a whole number from 0 to {MAX_CONCURRENT_CALLS}, not {shown(value)}")
    return value
