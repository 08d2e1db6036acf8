"""/api/v1's email outbox: the emails waiting or given up on, and sending
a dead one again (notify owns the outbox: :mod:`notify.outbox`)."""

from __future__ import annotations

from notify import outbox
from notify.messages import OutboxEntry
from web import maintenance

from .outbox_schemas import OutboxEntryOut, OutboxPage, OutboxQuery
from .registry import ApiCall, RouteTable, id_from_cursor, next_cursor

routes = RouteTable()


def _out(entry: OutboxEntry) -> OutboxEntryOut:
    return OutboxEntryOut(id=entry.id, kind=entry.kind, recipient=entry.recipient, account_id=entry.account_id,
                          state=entry.state, attempts=entry.attempts, next_attempt_at=entry.next_attempt_at,
                          last_error=entry.last_error, created_at=entry.created_at, sent_at=entry.sent_at)


@routes.route("GET", "/outbox", summary="Emails pending or given up on (dead), oldest first, with their last error",
              permission="outbox.read", query=OutboxQuery, response=OutboxPage)
async def list_outbox(call: ApiCall) -> OutboxPage:
    """The emails in ``state``: kind, recipient, attempts, the last error."""
    query: OutboxQuery = call.query
    after = 0 if query.cursor is None else id_from_cursor(query.cursor)
    found = await outbox.entries_in_state(call.engine, query.state, after_id=after, limit=query.limit)
    return OutboxPage(items=[_out(e) for e in found], next_cursor=next_cursor(found, query.limit))


@routes.route("POST", "/outbox/{id}/retry", summary="Send a dead email again (409 if it is not dead)",
              permission="outbox.retry", response=OutboxEntryOut)
async def retry_outbox_email(call: ApiCall) -> OutboxEntryOut:
    """The email back to pending, due now, with a fresh count of attempts."""
    email_id = call.path_id()
    async with call.change("retry", "outbox", email_id) as change:
        after, before, now = await maintenance.retry_dead_email(change.conn, email_id)
        change.fields(before, now)
    return _out(after)
