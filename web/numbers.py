"""Assigning and releasing our numbers (DIDs), for the API and the console
alike: the owner's functions on the caller's audited change, and the
fields its audit entry records. Refusals are the owner's errors
(:func:`web.admin_input.refusals` turns them into AdminErrors)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.numbering import default_numbering_plan
from provisioning import lifecycle
from provisioning.numbers import add_did_as_written
from provisioning.records import Did

MAX_DID_DIGITS = 15  # E.164


def did_view(did: Did) -> dict[str, Any]:
    """A DID as an audit entry records it."""
    return {"number": did.number, "subscriber_id": did.subscriber_id, "ring_seconds": did.ring_seconds,
            "voicemail_enabled": did.voicemail_enabled}


async def assign_did(conn: AsyncConnection, *, number: str, subscriber_id: int, ring_seconds: int = 25,
                     voicemail_enabled: bool = True) -> Did:
    """Give the subscriber the number as a person writes it (stored as E.164 digits)."""
    return await add_did_as_written(conn, number=number, subscriber_id=subscriber_id, plan=default_numbering_plan(),
                                    ring_seconds=ring_seconds, voicemail_enabled=voicemail_enabled)


async def release_did(conn: AsyncConnection, number: str) -> Did:
    """Take the number (E.164 digits) from its subscriber; what it was."""
    return await lifecycle.release_did(conn, number)
