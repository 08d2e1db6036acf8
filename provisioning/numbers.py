"""Our numbers as a person writes them: which numbers may be a DID, and
giving one to a subscriber.

Reading and classifying a number is billing's numbering plan; provisioning
may not import billing, so the plan is given (anything with ``normalise``
and ``classify``, as ``billing.numbering.NumberingPlan`` has).
"""

from __future__ import annotations

from typing import Protocol

from provisioning import services
from provisioning.errors import InvalidFieldError
from provisioning.records import Did
from sqlbase import Db

DID_CLASSES = frozenset({"ro_fixed", "ro_mobile", "toll_free", "shared_cost"})
"""Number classes (the numbering plan's names) a DID may be: Romanian
geographic, mobile, freephone (0800) or shared-cost (0801). A premium-rate,
short, emergency or foreign number is never ours to give."""


class Classified(Protocol):
    number_class: str


class NumberPlan(Protocol):
    """Reads and classifies numbers (billing's numbering plan)."""

    def normalise(self, dialled: str) -> str:
        """The number's E.164 digits; ValueError when it is not a number."""

    def classify(self, dialled: str) -> Classified:
        """The number's class."""


def did_number(number: object, plan: NumberPlan) -> str:
    """Return ``number`` (``+40 31 234 5678``, ``0312345678``...) as the
    E.164 digits a DID is stored as; raise InvalidFieldError (``number``)
    when it is not a number or not a class a DID may be."""
    if not isinstance(number, str):
        raise InvalidFieldError("number", "a phone number like +40 31 234 5678")
    try:
        normalised = plan.normalise(number)
    except ValueError as exc:
        raise InvalidFieldError("number", f"a phone number like +40 31 234 5678 ({exc})") from exc
    number_class = plan.classify(normalised).number_class
    if number_class not in DID_CLASSES:
        raise InvalidFieldError(
            "number", "a Romanian geographic, mobile, freephone (0800) or shared-cost (0801) number, "
            f"not a {number_class.replace('_', ' ')} one")
    return normalised


async def add_did_as_written(
    db: Db, *, number: str, subscriber_id: int, plan: NumberPlan, ring_seconds: int = 25,
    voicemail_enabled: bool = True,
) -> Did:
    """Give the subscriber one of our numbers, written in any form a person
    would (see :func:`did_number`), and return the DID.

    Admission caches the DIDs (on-net calls): the running control plane's
    ``provisioning_changed`` forgets them after this."""
    return await services.add_did(db, number=did_number(number, plan), subscriber_id=subscriber_id,
                                  ring_seconds=ring_seconds, voicemail_enabled=voicemail_enabled)
