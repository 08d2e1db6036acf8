"""One audited change: the change and its audit entry in one transaction
(issue 13, item 4), for every HTTP surface — the versioned API, the /admin
routes and the console.

The handler passes :attr:`Change.conn` to the owners' services (they take
an engine or a connection and join the latter's transaction), sets what
the entry says, and on leaving the block the entry is written and both
commit together; an exception rolls both back, so a refused or failed
change leaves no entry. A change that turns out to change nothing (disabling
a disabled user) calls :meth:`Change.unchanged`: the block ends there, rolled
back, with no entry and no error. After the commit the outbox is woken: an
email the change queued goes now rather than at the dispatcher's next poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, Optional

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from access import audit
from notify.notifier import Notifier


class Unchanged(Exception):
    """Ends a change block that changed nothing (see :meth:`Change.unchanged`)."""


@dataclass
class Change:
    """One audited change in progress: its connection, and what its audit
    entry will say — set :attr:`resource_id` once a created resource has
    one, and call :meth:`fields` with the resource's views before and after."""

    conn: AsyncConnection
    resource_id: Optional[str | int] = None
    changes: Optional[dict[str, dict[str, Any]]] = None

    def fields(self, before: Optional[Mapping[str, Any]], after: Optional[Mapping[str, Any]]) -> None:
        """Record the changed fields between two views (JSON scalars; money
        as decimal strings; never a secret: :func:`access.audit.record` refuses one)."""
        self.changes = audit.changed(audit_view(before), audit_view(after))

    def unchanged(self) -> NoReturn:
        """Leave the block now: nothing changed, so nothing is committed nor audited."""
        raise Unchanged()


def audit_view(view: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """``view`` with the values an audit entry holds: JSON scalars as they
    are, a list as its items joined by ", " (cut past the longest value kept), a nested object left out."""
    if view is None:
        return None
    flat: dict[str, Any] = {}
    for field, value in view.items():
        if isinstance(value, (list, tuple)):
            joined = ", ".join(str(item) for item in value)
            # a long list (1,000 blocked prefixes) is cut to what an entry's value holds
            flat[field] = joined if len(joined) <= audit.MAX_VALUE_CHARS else (
                f"{joined[:audit.MAX_VALUE_CHARS - 40]} … ({len(value)} in all)")
        elif value is None or isinstance(value, (bool, int, str)):
            flat[field] = value
    return flat


@asynccontextmanager
async def audited_change(engine: AsyncEngine, actor: audit.Actor, notifier: Optional[Notifier], *,
                         action: str, resource: str, resource_id: Optional[str | int] = None
                         ) -> AsyncIterator[Change]:
    """A transaction for one change by ``actor`` and its one audit entry
    (``action`` on ``resource`` ``resource_id``), committed together."""
    try:
        async with engine.begin() as conn:
            change = Change(conn, resource_id)
            yield change
            await audit.record(conn, actor, action=action, resource=resource, resource_id=change.resource_id,
                               changes=change.changes)
    except Unchanged:
        return  # rolled back on the way out: no entry, and the caller carries on
    if notifier is not None:
        notifier.wake()
