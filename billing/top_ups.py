"""Top-ups as an admin makes them: a payer's reference and an idempotency
key checked, the account credited in the caller's transaction, and whether
this was a new credit or a replay told apart (only a new one is news to
the subscriber).

The ledger's own rules (0 < amount <= 100,000 EUR, a balance of at most
1,000,000 EUR) are :func:`billing.ledger.top_up`'s.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.errors import BillingError

MAX_REFERENCE_LENGTH = 200
# no ':' so a client's key can never take a key billing makes ("rerate:...")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")


class InvalidTopUpError(BillingError, ValueError):
    """A top-up's reference or idempotency key breaks its rule; ``field`` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def checked_reference(reference: str) -> str:
    """Return a top-up's reference: free text (any language) of at most
    200 characters, without control characters (CR, LF...), which would
    break the email's lines; raise InvalidTopUpError."""
    if not isinstance(reference, str) or len(reference) > MAX_REFERENCE_LENGTH or any(
        unicodedata.category(char).startswith("C") for char in reference
    ):
        raise InvalidTopUpError(
            "reference", f"must be text of at most {MAX_REFERENCE_LENGTH} characters without control "
            "characters (line breaks, tabs)")
    return reference


def checked_idempotency_key(key: str | None) -> str | None:
    """Return the idempotency key (None: none): 1 to 128 letters, digits,
    '.', '_' or '-'; raise InvalidTopUpError."""
    if key is not None and not (isinstance(key, str) and _IDEMPOTENCY_KEY.fullmatch(key)):
        raise InvalidTopUpError("idempotency_key", "must be 1 to 128 letters, digits, '.', '_' or '-'")
    return key


@dataclass(frozen=True)
class TopUpCredit:
    """A top-up's entry and the balance after it; ``replayed`` when the
    idempotency key named an earlier entry (nothing was added)."""

    entry: ledger.LedgerEntry
    balance_micro: int
    replayed: bool


async def credit_top_up(
    conn: AsyncConnection,
    account_id: int,
    amount_micro: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> TopUpCredit:
    """Credit the account with ``amount_micro`` in the caller's transaction
    (so what the caller queues about it commits with it) and return the
    entry with the balance. With an ``idempotency_key`` already used for the
    same top-up, the first entry is returned and ``replayed`` is set.
    Raises InvalidTopUpError, and the ledger's errors."""
    checked_reference(reference)
    checked_idempotency_key(idempotency_key)
    replayed = idempotency_key is not None and (
        await ledger.entry_with_idempotency_key(conn, idempotency_key) is not None)
    entry = await ledger.top_up(conn, account_id, amount_micro, reference=reference,
                                idempotency_key=idempotency_key, now=now)
    return TopUpCredit(entry, await ledger.balance_micro(conn, account_id), replayed)
