"""Repairs an operator makes from the API and the console alike: re-process
quarantined CDR lines (billing.reprocessing) and send a dead email again
(notify.outbox). Each runs on the connection of the caller's audited
change and gives the audit entry's fields; refusals are AdminErrors.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from billing import reprocessing
from notify import outbox
from notify.messages import OutboxEntry
from web.admin_input import ConflictError, NotFoundError

Fields = dict[str, Any]


async def reprocess(conn: AsyncConnection, line_id: int | None, *,
                    on_net: frozenset[str]) -> tuple[list[reprocessing.Reprocessed], Fields, Fields]:
    """Charge the quarantined line ``line_id`` (None: every one waiting) as
    ingestion would, exactly once (invariant 4); a line that still fails
    stays quarantined. Its results and the audit fields; NotFoundError for an unknown line."""
    if line_id is None:
        results = await reprocessing.reprocess_all_quarantined(conn, on_net=on_net)
    else:
        try:
            results = [await reprocessing.reprocess_quarantined(conn, line_id, on_net=on_net)]
        except reprocessing.UnknownQuarantineEntryError as exc:
            raise NotFoundError(str(exc)) from None
    return results, {"resolved": 0}, {"resolved": sum(1 for r in results if r.resolved)}


async def retry_dead_email(conn: AsyncConnection, email_id: int) -> tuple[OutboxEntry, Fields, Fields]:
    """Make the dead email ``email_id`` pending again, due now, with a fresh
    count of attempts: the entry after and the audit fields. NotFoundError
    for an unknown email, ConflictError for one that is not dead."""
    before = await outbox.outbox_entry(conn, email_id)
    if before is None:
        raise NotFoundError(f"no email {email_id} in the outbox")
    if before.state != outbox.DEAD or not await outbox.requeue_dead(conn, email_id):
        raise ConflictError(f"email {email_id} is {before.state}, not dead: only a dead email is sent again")
    after = await outbox.outbox_entry(conn, email_id) or before  # requeued in this transaction
    return after, {"state": before.state, "attempts": before.attempts}, {"state": after.state,
                                                                         "attempts": after.attempts}
