"""How many calls admission refused, by day, account and reason: what the
console's dashboard shows as "calls refused by reason".

A refusal is counted by :func:`count_refusal` inside the refusing
decision's own transaction (one upsert on a row the same day's refusals
share), so the count commits exactly when the decision does. Refusals
decided without the database (``unavailable``: it could not be reached)
are not counted: there was nowhere to count them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from billing.subscriptions import contract_day
from sqlbase import Db, dialect_insert, reading

from .decisions import Decision
from .tables import NO_ACCOUNT, refusals_by_day


def count_refusal(conn: Connection, decision: Decision, now: datetime) -> None:
    """Add ``decision`` (a refusal) to its day's count, in ``conn``'s transaction."""
    assert decision.reason is not None, "only a refusal is counted"
    counted = dialect_insert(conn, refusals_by_day).values(
        day=contract_day(now), account_id=decision.account_id or NO_ACCOUNT, reason=decision.reason.code,
        refusals=1)
    conn.execute(counted.on_conflict_do_update(
        index_elements=[refusals_by_day.c.day, refusals_by_day.c.account_id, refusals_by_day.c.reason],
        set_={"refusals": refusals_by_day.c.refusals + 1}))


async def refusals_on(db: Db, day: date, *, account_id: int | None = None) -> dict[str, int]:
    """The calls refused on ``day`` (Europe/Bucharest) by reason code, most
    first; only account ``account_id``'s when given (an account admin's view)."""
    query = (select(refusals_by_day.c.reason, func.sum(refusals_by_day.c.refusals).label("refusals"))
             .where(refusals_by_day.c.day == day).group_by(refusals_by_day.c.reason))
    if account_id is not None:
        query = query.where(refusals_by_day.c.account_id == account_id)
    async with reading(db) as conn:
        rows = (await conn.execute(query)).all()
    return dict(sorted(((row.reason, int(row.refusals)) for row in rows), key=lambda item: (-item[1], item[0])))
