"""SIP endpoints by id: pages of them, one of them, and changing one's
display name, caller ID or dialplan profile (engine-or-connection, as
:mod:`provisioning.services`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select, update

from provisioning.errors import InvalidFieldError, UnknownEndpointError
from provisioning.records import Endpoint
from provisioning.services import MAX_PAGE_ROWS
from provisioning.tables import sip_endpoints
from provisioning.validation import validated
from sqlbase import Db, transaction

DIALPLAN_PROFILES = ("standard",)
"""The dialplan profiles an endpoint may be on. Only ``standard`` for now:
the dialplan templates add the others (and render them)."""

_COLUMNS = tuple(sip_endpoints.c[f.name] for f in dataclasses.fields(Endpoint) if f.name != "password")


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(**row._mapping)


async def find_endpoint_by_id(db: Db, endpoint_id: int) -> Endpoint | None:
    """Return the endpoint ``endpoint_id``, or None."""
    async with transaction(db) as conn:
        row = (await conn.execute(select(*_COLUMNS).where(sip_endpoints.c.id == endpoint_id))).first()
    return None if row is None else _endpoint(row)


async def get_endpoint(db: Db, endpoint_id: int) -> Endpoint:
    """Return the endpoint ``endpoint_id``; raise UnknownEndpointError."""
    endpoint = await find_endpoint_by_id(db, endpoint_id)
    if endpoint is None:
        raise UnknownEndpointError(f"#{endpoint_id}")
    return endpoint


async def page_endpoints(db: Db, *, subscriber_id: int | None = None, account_code: str | None = None,
                         after_id: int = 0, limit: int = 50) -> list[Endpoint]:
    """Return up to ``limit`` endpoints with an id above ``after_id``, by id;
    only the subscriber's and/or those billed to ``account_code`` when given."""
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise InvalidFieldError("limit", f"from 1 to {MAX_PAGE_ROWS}")
    query = select(*_COLUMNS).where(sip_endpoints.c.id > after_id).order_by(sip_endpoints.c.id).limit(limit)
    if subscriber_id is not None:
        query = query.where(sip_endpoints.c.subscriber_id == subscriber_id)
    if account_code is not None:
        query = query.where(sip_endpoints.c.account_code == account_code)
    async with transaction(db) as conn:
        return [_endpoint(row) for row in await conn.execute(query)]


def checked_profile(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`DIALPLAN_PROFILES`; InvalidFieldError otherwise."""
    if profile not in DIALPLAN_PROFILES:
        raise InvalidFieldError("profile", f"one of {', '.join(DIALPLAN_PROFILES)}")
    return profile


async def update_endpoint(db: Db, endpoint_id: int, *, profile: str | None = None,
                          display_name: str | None = None, caller_id_number: str | None = None
                          ) -> tuple[Endpoint, Endpoint]:
    """Change the fields given (None: unchanged) and return the endpoint
    before and after; raise UnknownEndpointError or InvalidFieldError."""
    values: dict[str, str] = {}
    if profile is not None:
        values["profile"] = checked_profile(profile)
    if display_name is not None:
        values["display_name"] = validated("display_name", display_name)
    if caller_id_number is not None:
        values["caller_id_number"] = validated("caller_id_number", caller_id_number)
    async with transaction(db) as conn:
        before = await get_endpoint(conn, endpoint_id)
        if not values:
            return before, before
        row = (await conn.execute(update(sip_endpoints).where(sip_endpoints.c.id == endpoint_id)
                                  .values(values).returning(*_COLUMNS))).one()
    return before, _endpoint(row)
