"""A subscriber's contract over time: changing their details, terminating
them (the contract's last day recorded, their SIP endpoints disabled), and
their DIDs paged and released (engine-or-connection, as
:mod:`provisioning.services`)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from sqlalchemy import delete, exists, select, update

from provisioning.errors import (
    InvalidFieldError,
    SubscriberTerminatedError,
    UnknownDidError,
    UnknownSubscriberError,
)
from provisioning.records import Did, Subscriber
from provisioning.services import MAX_PAGE_ROWS
from provisioning.tables import dids, sip_endpoints, subscribers
from provisioning.validation import validated
from sqlbase import Db, transaction, utc_now

_DID_COLUMNS = tuple(dids.c[f.name] for f in dataclasses.fields(Did))


async def _locked_subscriber(conn, subscriber_id: int) -> Subscriber:
    # FOR UPDATE: two terminations of one subscriber cannot both pass the check
    row = (await conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)
                              .with_for_update())).first()
    if row is None:
        raise UnknownSubscriberError(subscriber_id)
    return Subscriber(**row._mapping)


async def update_subscriber(db: Db, subscriber_id: int, *, name: str | None = None, email: str | None = None,
                            language: str | None = None) -> tuple[Subscriber, Subscriber]:
    """Change the fields given (None: unchanged); return the subscriber
    before and after. Raise UnknownSubscriberError or InvalidFieldError."""
    values = {key: validated(key, value) for key, value in
              (("name", name), ("email", email), ("language", language)) if value is not None}
    async with transaction(db) as conn:
        before = await _locked_subscriber(conn, subscriber_id)
        if not values:
            return before, before
        row = (await conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id)
                                  .values(values).returning(*subscribers.c))).one()
    return before, Subscriber(**row._mapping)


async def terminate_subscriber(db: Db, subscriber_id: int, *, last_day: date,
                               now: datetime | None = None) -> Subscriber:
    """Record ``last_day`` as the subscriber's contract end and disable
    their SIP endpoints (they leave Asterisk's configuration at its next
    sync); return the subscriber. Raise UnknownSubscriberError, or
    SubscriberTerminatedError when their contract has ended already."""
    if not isinstance(last_day, date) or isinstance(last_day, datetime):
        raise InvalidFieldError("last_day", "a day, YYYY-MM-DD")
    now = now or utc_now()
    async with transaction(db) as conn:
        current = await _locked_subscriber(conn, subscriber_id)
        if current.terminated_at is not None:
            raise SubscriberTerminatedError(subscriber_id)
        row = (await conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id)
                                  .values(contract_ended_on=last_day, terminated_at=now)
                                  .returning(*subscribers.c))).one()
        await conn.execute(update(sip_endpoints).where(sip_endpoints.c.subscriber_id == subscriber_id,
                                                       sip_endpoints.c.disabled_at.is_(None))
                           .values(disabled_at=now))
    return Subscriber(**row._mapping)


async def page_dids(db: Db, *, subscriber_id: int | None = None, account_code: str | None = None,
                    after_number: str = "", limit: int = 50) -> list[Did]:
    """Return up to ``limit`` DIDs numbered after ``after_number``, by number;
    only the subscriber's, and/or those of subscribers with an endpoint
    billed to ``account_code``, when given."""
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise InvalidFieldError("limit", f"from 1 to {MAX_PAGE_ROWS}")
    query = select(*_DID_COLUMNS).where(dids.c.number > after_number).order_by(dids.c.number).limit(limit)
    if subscriber_id is not None:
        query = query.where(dids.c.subscriber_id == subscriber_id)
    if account_code is not None:
        query = query.where(exists().where(sip_endpoints.c.subscriber_id == dids.c.subscriber_id,
                                           sip_endpoints.c.account_code == account_code))
    async with transaction(db) as conn:
        return [Did(**row._mapping) for row in await conn.execute(query)]


async def release_did(db: Db, number: str) -> Did:
    """Take the DID ``number`` (E.164 digits) from its subscriber and return
    what it was; raise UnknownDidError. Admission's cache of our numbers
    forgets it at the running control plane's ``provisioning_changed``."""
    async with transaction(db) as conn:
        row = (await conn.execute(delete(dids).where(dids.c.number == number).returning(*_DID_COLUMNS))).first()
    if row is None:
        raise UnknownDidError(number)
    return Did(**row._mapping)
