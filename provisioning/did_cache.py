"""The one cache of our numbers (the DIDs) in a running control plane.

Admission classifies every dialled number against them (on-net calls) and
CDR ingestion every line: both read the DIDs from here, so one
provisioning change is one reload, seen by both.
"""

from __future__ import annotations

from provisioning.services import our_numbers
from sqlbase import Db


class OurNumbers:
    """Our DIDs (normalised E.164 digits), read once and kept until
    :meth:`forget` or :meth:`refresh`. ``number in cache`` answers from the
    last read without I/O (billing's ``OnNet`` container)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._numbers: frozenset[str] = frozenset()
        self._stale = True

    async def current(self) -> frozenset[str]:
        """Return our numbers, reading them first if never read or forgotten."""
        if self._stale:
            await self.refresh()
        return self._numbers

    async def refresh(self) -> frozenset[str]:
        """Read our numbers now (provisioning changed them) and return them."""
        self._numbers = await our_numbers(self._db)
        self._stale = False
        return self._numbers

    def forget(self) -> None:
        """Read them again on the next :meth:`current`; until then ``in``
        answers from the last read."""
        self._stale = True

    def __contains__(self, number: object) -> bool:
        return number in self._numbers
