"""The audit log (issue 13, item 4): who changed what, when, from where,
with the changed fields before and after — never a secret.

:func:`record` writes in the caller's transaction: it takes a connection,
not an engine, so the entry commits with the change it describes and a
rolled-back change leaves no entry. Changes are ``{"field": {"before": x,
"after": y}}`` with JSON scalar values; a field whose name says it holds a
secret (see SECRET_FIELD_WORDS) is refused with SecretInAudit rather than
redacted, so a caller passing one finds out in its tests instead of
silently logging around it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sqlbase import Db, reading, utc_now

from . import inputs
from .errors import InvalidInput, SecretInAudit
from .roles import ROLE_NAMES
from .tables import ACTION_LENGTH, OUTCOME_LENGTH, RESOURCE_ID_LENGTH, RESOURCE_LENGTH, audit_log

CLI = "cli"
SYSTEM = "system"
OK = "ok"
REFUSED = "refused"
MAX_PAGE = 200
MAX_FIELDS = 50
MAX_CHANGES_CHARS = 16_000
MAX_VALUE_CHARS = 1_000
# a field named with any of these words (whole, between underscores or dots)
# holds a secret and never enters the log: "md5_cred" does, "credit_limit" does not
SECRET_FIELD_WORDS = ("password", "passwords", "secret", "secrets", "token", "tokens", "hash", "cred", "creds",
                      "credential", "credentials", "key", "pin")
_WORDS = re.compile(r"[_.]")
_NAME = re.compile(r"[a-z][a-z0-9_.]{0,63}")


@dataclass(frozen=True)
class Actor:
    """Who acts: a username with its role, or ``cli`` / ``system`` (no role);
    ``source`` is the client's address, or ``cli``."""

    name: str
    source: str
    role: str | None = None


CLI_ACTOR = Actor(name=CLI, source=CLI)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    id: int
    at: datetime
    actor: str
    role: str | None
    source: str
    action: str
    resource: str
    resource_id: str | None
    changes: dict[str, dict[str, Any]] | None
    outcome: str


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list: every given criterion must hold."""

    resource: str | None = None
    resource_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the cursor of the next (older) page, if any."""

    entries: list[AuditEntry]
    next_cursor: int | None


def changed(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The changes between two views of a resource: each field whose value
    differs, with its before and after (None for a created or deleted side)."""
    before, after = before or {}, after or {}
    return {field: {"before": before.get(field), "after": after.get(field)}
            for field in sorted(set(before) | set(after)) if before.get(field) != after.get(field)}


def _name(value: str, field: str, length: int) -> str:
    if not isinstance(value, str) or len(value) > length or not _NAME.fullmatch(value):
        raise InvalidInput(f"{field}: 1 to {length} of a-z, 0-9, '_', '.', starting with a letter", field=field)
    return value


def _checked_changes(changes: Mapping[str, Any] | None) -> str | None:
    if changes is None:
        return None
    if not isinstance(changes, Mapping) or len(changes) > MAX_FIELDS:
        raise InvalidInput(f"changes: a mapping of at most {MAX_FIELDS} fields", field="changes")
    for field, change in changes.items():
        _name(field, "changes", 64)
        if any(word in SECRET_FIELD_WORDS for word in _WORDS.split(field)):
            raise SecretInAudit(f"changes: {field!r} is a secret and is never audited", field=field)
        if not isinstance(change, Mapping) or set(change) != {"before", "after"}:
            raise InvalidInput(f"changes: {field!r} needs exactly 'before' and 'after'", field="changes")
        for value in change.values():
            if not (value is None or isinstance(value, (bool, int, str))) or (
                    isinstance(value, str) and len(value) > MAX_VALUE_CHARS):
                raise InvalidInput(
                    f"changes: {field!r} values are null, booleans, integers or strings of at most "
                    f"{MAX_VALUE_CHARS} characters (money as a decimal string)", field="changes")
    text = json.dumps(changes, sort_keys=True, ensure_ascii=False)
    if len(text) > MAX_CHANGES_CHARS:
        raise InvalidInput(f"changes: at most {MAX_CHANGES_CHARS} characters of JSON", field="changes")
    return text


async def record(conn: AsyncConnection, actor: Actor, *, action: str, resource: str,
                 resource_id: str | int | None = None, changes: Mapping[str, Any] | None = None,
                 outcome: str = OK, now: datetime | None = None) -> int:
    """Record one change in the caller's transaction (``conn``: an engine
    is refused, its entry would commit apart from the change); return the
    entry's id."""
    if not isinstance(conn, AsyncConnection):
        raise TypeError("audit.record takes the connection of the change's own transaction")
    if actor.name not in (CLI, SYSTEM):
        inputs.username(actor.name, "actor")
    if actor.role is not None and actor.role not in ROLE_NAMES:
        raise InvalidInput(f"role: one of {', '.join(ROLE_NAMES)}", field="role")
    inputs.source(actor.source)
    _name(action, "action", ACTION_LENGTH)
    _name(resource, "resource", RESOURCE_LENGTH)
    _name(outcome, "outcome", OUTCOME_LENGTH)
    if resource_id is not None:
        resource_id = str(resource_id)
        if not 1 <= len(resource_id) <= RESOURCE_ID_LENGTH or not resource_id.isprintable():
            raise InvalidInput(f"resource_id: 1 to {RESOURCE_ID_LENGTH} printable characters", field="resource_id")
    return await conn.scalar(insert(audit_log).values(
        at=now or utc_now(), actor=actor.name, role=actor.role, source=actor.source, action=action,
        resource=resource, resource_id=resource_id, changes=_checked_changes(changes), outcome=outcome,
    ).returning(audit_log.c.id))


async def list_entries(db: Db, filters: AuditFilter = AuditFilter(), cursor: int | None = None,
                       limit: int = 50) -> AuditPage:
    """Entries matching ``filters``, newest first, ``limit`` (1–200) at a time;
    ``cursor`` is the previous page's ``next_cursor``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}", field="limit")
    if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 1):
        raise InvalidInput("cursor: a positive integer from a previous page", field="cursor")
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit + 1)
    if filters.resource is not None:
        query = query.where(audit_log.c.resource == _name(filters.resource, "resource", RESOURCE_LENGTH))
    if filters.resource_id is not None:
        query = query.where(audit_log.c.resource_id == filters.resource_id[:RESOURCE_ID_LENGTH])
    if filters.actor is not None:
        query = query.where(audit_log.c.actor == filters.actor[:64])
    if filters.since is not None:
        query = query.where(audit_log.c.at >= filters.since)
    if filters.until is not None:
        query = query.where(audit_log.c.at < filters.until)
    if cursor is not None:
        query = query.where(audit_log.c.id < cursor)
    async with reading(db) as conn:
        rows = (await conn.execute(query)).all()
    entries = [_entry(row) for row in rows[:limit]]
    return AuditPage(entries=entries, next_cursor=entries[-1].id if len(rows) > limit else None)


def _entry(row) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor=row.actor, role=row.role, source=row.source, action=row.action,
                      resource=row.resource, resource_id=row.resource_id,
                      changes=json.loads(row.changes) if row.changes is not None else None, outcome=row.outcome)
