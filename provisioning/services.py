"""Subscribers and their SIP endpoints: create, list, and the demo account.

Every function takes either an ``AsyncEngine`` or an ``AsyncConnection``:

- given an engine, it runs in its own transaction and commits it;
- given a connection, it joins that connection's transaction and the caller
  commits or rolls back (several calls then form one unit of work).

Refusals raise the errors of ``provisioning.errors``; a refused call leaves
the caller's transaction usable.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from sqlalchemy import Row, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from provisioning.credentials import DEFAULT_REALM, md5_cred
from provisioning.errors import (
    InvalidFieldError,
    NumberTakenError,
    UnknownEndpointError,
    UnknownSubscriberError,
    UsernameTakenError,
)
from provisioning.records import Did, Endpoint, Subscriber
from provisioning.tables import dids, sip_endpoints, subscribers
from sqlbase import Db, dialect_insert, transaction, utc_now
from provisioning.validation import validated

DEMO_USERNAME = "demo1000"
DEMO_CALLER_ID_NUMBER = "1000"
DEMO_DISPLAY_NAME = "Demo 1000"
DEMO_ACCOUNT_CODE = "demo1000"
DEMO_SUBSCRIBER_NAME = "Demo subscriber"
DEMO_SUBSCRIBER_EMAIL = "demo@example.com"

# 18 random bytes: 144 bits, 24 URL-safe characters
PASSWORD_BYTES = 18

# sip_endpoints columns that make an Endpoint, by the same names (the
# password is never stored)
_ENDPOINT_COLUMNS = tuple(field.name for field in dataclasses.fields(Endpoint) if field.name != "password")
_DID_COLUMNS = tuple(dids.c[field.name] for field in dataclasses.fields(Did))

def new_password() -> str:
    """Return a fresh random SIP password from ``secrets``."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


async def create_subscriber(db: Db, *, name: str, email: str, language: str = "ro") -> Subscriber:
    """Create a subscriber and return it."""
    values = {
        "name": validated("name", name),
        "email": validated("email", email),
        "language": validated("language", language),
        "created_at": utc_now(),
    }
    async with transaction(db) as conn:
        row = (
            await conn.execute(insert(subscribers).values(values).returning(*subscribers.c))
        ).one()
    return _subscriber(row)


async def find_subscriber(db: Db, subscriber_id: int) -> Subscriber | None:
    """Return the subscriber ``subscriber_id``, or None."""
    async with transaction(db) as conn:
        row = (await conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id))).first()
    return None if row is None else _subscriber(row)


MAX_SEARCH_CHARS = 64
"""The longest text :func:`list_subscribers` searches for."""
MAX_PAGE_ROWS = 1000
"""The most subscribers :func:`list_subscribers` returns at once."""


async def list_subscribers(
    db: Db, *, search: str = "", after_id: int = 0, limit: int = 50, account_code: str | None = None
) -> list[Subscriber]:
    """Return up to ``limit`` subscribers with an id above ``after_id``, by id.

    With ``account_code``, only those with an endpoint billed to that account
    (what an account's own admin may see).

    With ``search`` (at most :data:`MAX_SEARCH_CHARS` characters, case
    folded), only those whose name or email, or one of whose endpoints'
    username or account code, contains it. Keyset pagination: pass the last
    id returned as ``after_id`` for the next page.
    """
    if len(search) > MAX_SEARCH_CHARS:
        raise InvalidFieldError("search", f"at most {MAX_SEARCH_CHARS} characters")
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise InvalidFieldError("limit", f"from 1 to {MAX_PAGE_ROWS}")
    query = select(subscribers).where(subscribers.c.id > after_id).order_by(subscribers.c.id).limit(limit)
    if account_code is not None:
        query = query.where(exists().where(sip_endpoints.c.subscriber_id == subscribers.c.id,
                                           sip_endpoints.c.account_code == account_code))
    if search:
        # LIKE's wildcards in the text are literal: escaped with '\\'
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        on_endpoint = exists().where(
            sip_endpoints.c.subscriber_id == subscribers.c.id,
            or_(sip_endpoints.c.username.ilike(pattern, escape="\\"),
                sip_endpoints.c.account_code.ilike(pattern, escape="\\")),
        )
        query = query.where(or_(subscribers.c.name.ilike(pattern, escape="\\"),
                                subscribers.c.email.ilike(pattern, escape="\\"), on_endpoint))
    async with transaction(db) as conn:
        return [_subscriber(row) for row in await conn.execute(query)]


async def add_endpoint(
    db: Db,
    *,
    subscriber_id: int,
    username: str,
    caller_id_number: str,
    display_name: str | None = None,
    password: str | None = None,
    account_code: str | None = None,
    realm: str = DEFAULT_REALM,
) -> Endpoint:
    """Give a subscriber a SIP endpoint and return it, with its password in
    ``password`` (the only time it is available: only its digest
    credential in ``realm`` is stored).

    Without a password, a strong random one is generated (``new_password``);
    without a display name, the username is shown. Raises UsernameTakenError
    if the username exists, UnknownSubscriberError if the subscriber does not.
    """
    username = validated("username", username)
    password = new_password() if password is None else validated("password", password)
    realm = validated("realm", realm)
    endpoint = Endpoint(
        username=username,
        md5_cred=md5_cred(username, realm, password),
        realm=realm,
        display_name=validated("display_name", username if display_name is None else display_name),
        caller_id_number=validated("caller_id_number", caller_id_number),
        subscriber_id=subscriber_id,
        account_code=None if account_code is None else validated("account_code", account_code),
        password=password,
    )
    async with transaction(db) as conn:
        if not await conn.scalar(select(exists().where(subscribers.c.id == subscriber_id))):
            raise UnknownSubscriberError(subscriber_id)
        # DO NOTHING rather than catching IntegrityError: PostgreSQL would
        # abort the caller's whole transaction on a unique violation.
        statement = (
            dialect_insert(conn, sip_endpoints)
            .values(**_endpoint_values(endpoint), created_at=utc_now())
            .on_conflict_do_nothing(index_elements=[sip_endpoints.c.username])
            .returning(sip_endpoints.c.id)
        )
        inserted = (await conn.execute(statement)).first()
        if inserted is None:
            raise UsernameTakenError(username)
    return dataclasses.replace(endpoint, id=inserted.id)


async def list_endpoints(db: Db) -> list[Endpoint]:
    """Return every SIP endpoint, disabled ones too, ordered by username."""
    async with transaction(db) as conn:
        rows = await conn.execute(_endpoint_query().order_by(sip_endpoints.c.username))
        return [_endpoint(row) for row in rows]


async def registrable_endpoints(db: Db) -> list[Endpoint]:
    """Return the SIP endpoints that may register (not disabled), ordered
    by username: what Asterisk's configuration holds."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            _endpoint_query().where(sip_endpoints.c.disabled_at.is_(None)).order_by(sip_endpoints.c.username))
        return [_endpoint(row) for row in rows]


async def find_endpoint(db: Db, username: str) -> Endpoint | None:
    """Return the SIP endpoint with this username, or None."""
    async with transaction(db) as conn:
        row = (
            await conn.execute(_endpoint_query().where(sip_endpoints.c.username == username))
        ).first()
    return None if row is None else _endpoint(row)


async def reset_password(
    db: Db, username: str, *, password: str | None = None, realm: str = DEFAULT_REALM
) -> Endpoint:
    """Give the endpoint a new password (generated unless given), hashed in
    ``realm``, and return it with that password set (shown once). The way
    back for a lost password, and to move an endpoint to a new realm.
    Raises UnknownEndpointError if no endpoint has this username."""
    password = new_password() if password is None else validated("password", password)
    realm = validated("realm", realm)
    async with transaction(db) as conn:
        changed = await conn.execute(
            update(sip_endpoints)
            .where(sip_endpoints.c.username == username)
            .values(md5_cred=md5_cred(username, realm, password), realm=realm)
            .returning(*(sip_endpoints.c[name] for name in _ENDPOINT_COLUMNS))
        )
        row = changed.first()
    if row is None:
        raise UnknownEndpointError(username)
    return dataclasses.replace(_endpoint(row), password=password)


async def endpoints_of_subscriber(db: Db, subscriber_id: int) -> list[Endpoint]:
    """Return the subscriber's endpoints, ordered by username."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            _endpoint_query()
            .where(sip_endpoints.c.subscriber_id == subscriber_id)
            .order_by(sip_endpoints.c.username)
        )
        return [_endpoint(row) for row in rows]


async def add_did(
    db: Db, *, number: str, subscriber_id: int, ring_seconds: int = 25, voicemail_enabled: bool = True
) -> Did:
    """Give a subscriber one of our numbers (normalised E.164 digits) and return it."""
    did = Did(validated("did", number), subscriber_id, ring_seconds, voicemail_enabled)
    if not 5 <= ring_seconds <= 120:
        raise InvalidFieldError("ring_seconds", "a whole number of seconds from 5 to 120")
    async with transaction(db) as conn:
        if not await conn.scalar(select(exists().where(subscribers.c.id == subscriber_id))):
            raise UnknownSubscriberError(subscriber_id)
        statement = (
            dialect_insert(conn, dids)
            .values(**dataclasses.asdict(did), created_at=utc_now())
            .on_conflict_do_nothing(index_elements=[dids.c.number])
            .returning(dids.c.number)
        )
        if (await conn.execute(statement)).first() is None:
            raise NumberTakenError(number)
    return did


async def find_did(db: Db, number: str) -> Did | None:
    """Return the DID ``number`` (E.164 digits), or None when it is not ours."""
    async with transaction(db) as conn:
        row = (await conn.execute(select(*_DID_COLUMNS).where(dids.c.number == number))).first()
    return None if row is None else Did(**row._mapping)


async def list_dids(db: Db) -> list[Did]:
    """Return every DID, ordered by number."""
    async with transaction(db) as conn:
        rows = await conn.execute(select(*_DID_COLUMNS).order_by(dids.c.number))
        return [Did(**row._mapping) for row in rows]


async def our_numbers(db: Db) -> frozenset[str]:
    """Return our numbers: every DID, normalised E.164 digits — the on-net
    numbers billing's classification takes. The one source of them for
    admission, CDR ingestion (the control plane's tailer and ``clickphone
    cdr ingest``) and ``clickphone rate``."""
    async with transaction(db) as conn:
        return frozenset((await conn.scalars(select(dids.c.number))).all())


async def ensure_demo_subscriber(engine: AsyncEngine, realm: str = DEFAULT_REALM) -> Endpoint:
    """Return the demo endpoint ``demo1000`` (caller ID 1000), creating it and
    its subscriber the first time. Safe to call on every start, and from
    several processes at once: concurrent first calls create one subscriber.

    Its ``password`` is set only on the call that created it (to be shown
    once); every later call returns it without."""
    existing = await find_endpoint(engine, DEMO_USERNAME)
    if existing is not None:
        return existing
    try:
        async with engine.begin() as conn:
            subscriber = await create_subscriber(
                conn, name=DEMO_SUBSCRIBER_NAME, email=DEMO_SUBSCRIBER_EMAIL
            )
            return await add_endpoint(
                conn,
                subscriber_id=subscriber.id,
                username=DEMO_USERNAME,
                caller_id_number=DEMO_CALLER_ID_NUMBER,
                display_name=DEMO_DISPLAY_NAME,
                account_code=DEMO_ACCOUNT_CODE,
                realm=realm,
            )
    except UsernameTakenError:
        pass  # another process won the race; its subscriber is the demo one
    created = await find_endpoint(engine, DEMO_USERNAME)
    assert created is not None, "the demo endpoint vanished right after a conflict"
    return created


def _endpoint_query() -> Any:
    return select(*(sip_endpoints.c[name] for name in _ENDPOINT_COLUMNS))


def _endpoint_values(endpoint: Endpoint) -> dict[str, Any]:
    return {name: getattr(endpoint, name) for name in _ENDPOINT_COLUMNS if name != "id"}  # the database's id


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(**row._mapping)


def _subscriber(row: Row[Any]) -> Subscriber:
    return Subscriber(**row._mapping)
