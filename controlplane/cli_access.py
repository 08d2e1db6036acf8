"""``clickphone admin user|token ...`` and ``clickphone audit list``: admin
users, their personal API tokens and the audit log, on the database the
settings name (the access package's services).

Every change is recorded in the audit log (actor ``cli``, source ``cli``)
in the same transaction as the change. A generated password and a new
token are printed once, on stdout, as JSON; neither can be read back.
A refusal prints ``Error: <reason>`` with exit status 1; a malformed value
exits with status 2 naming its option (Click's conventions).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from access import audit, tokens, users
from access.errors import AccessError, InvalidInput
from access.roles import ACCOUNT_ADMIN, ROLE_NAMES
from billing import ledger
from billing.errors import UnknownAccountError

from .cli_support import run_on_database
from .settings import Settings

T = TypeVar("T")

MAX_ID = 2**31 - 1


def _run(work: Callable[[AsyncEngine, Settings], Awaitable[T]]) -> T:
    """Run ``work`` on the migrated database; access's refusals become Click errors."""
    try:
        return run_on_database(work)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from exc
    except AccessError as exc:
        raise click.ClickException(str(exc)) from exc


def _audited(change: Callable[[AsyncConnection], Awaitable[tuple[T, dict[str, Any] | None]]]) -> T:
    """Run ``change(conn)`` and record the audit entry it returns (actor and
    source ``cli``) in the same transaction; None records nothing (nothing changed)."""

    async def work(engine: AsyncEngine, _settings: Settings) -> T:
        async with engine.begin() as conn:
            result, entry = await change(conn)
            if entry is not None:
                await audit.record(conn, audit.CLI_ACTOR, **entry)
        return result

    return _run(work)


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _user_json(user: users.User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role, "account_id": user.account_id,
            "created_at": _time(user.created_at), "disabled_at": _time(user.disabled_at)}


def _token_json(info: tokens.TokenInfo) -> dict[str, Any]:
    return {"id": info.id, "user": info.username, "name": info.name, "created_at": _time(info.created_at),
            "last_used_at": _time(info.last_used_at), "revoked_at": _time(info.revoked_at)}


def _entry_json(entry: audit.AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": _time(entry.at), "actor": entry.actor, "role": entry.role,
            "source": entry.source, "action": entry.action, "resource": entry.resource,
            "resource_id": entry.resource_id, "changes": entry.changes, "outcome": entry.outcome}


# -- users ---------------------------------------------------------------------
@click.group("user")
def user_group() -> None:
    """Admin users (of the HTTP API and the console) and their roles."""


@user_group.command("create")
@click.option("--username", required=True, help="3–64 of a-z, 0-9, '.', '_', '-'")
@click.option("--role", required=True, type=click.Choice(ROLE_NAMES))
@click.option("--account", "account_id", type=click.IntRange(1, MAX_ID),
              help=f"the account id of an {ACCOUNT_ADMIN} (required for that role only)")
@click.option("--password-stdin", is_flag=True,
              help="read the password (12–256 characters) from the first line of stdin instead of generating one")
def user_create(username: str, role: str, account_id: int | None, password_stdin: bool) -> None:
    """Create a user; a generated password is printed once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    shown = password is None
    password = password if password is not None else users.generated_password()

    async def change(conn: AsyncConnection) -> tuple[users.User, dict[str, Any]]:
        if account_id is not None:
            try:
                await ledger.get_account(conn, account_id)
            except UnknownAccountError as exc:
                raise InvalidInput(f"account: no account {account_id}", field="account") from exc
        user = await users.create_user(conn, username=username, password=password, role=role,
                                       account_id=account_id)
        return user, {"action": "create", "resource": "user", "resource_id": user.username,
                      "changes": audit.changed(None, {"role": role, "account_id": account_id})}

    user = _audited(change)
    _echo({"user": _user_json(user), **({"password": password} if shown else {})})


@user_group.command("list")
def user_list() -> None:
    """Every user with its role (never a password)."""
    _echo({"users": [_user_json(user) for user in _run(lambda engine, _s: users.list_users(engine))]})


@user_group.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable USERNAME: its logins and tokens stop working at once."""

    async def change(conn: AsyncConnection) -> tuple[users.User, dict[str, Any] | None]:
        before, after = await users.disable_user(conn, username)
        return after, None if before == after else {
            "action": "disable", "resource": "user", "resource_id": username,
            "changes": audit.changed({"disabled_at": None}, {"disabled_at": _time(after.disabled_at)})}

    _echo({"user": _user_json(_audited(change))})


# -- tokens --------------------------------------------------------------------
@click.group("token")
def token_group() -> None:
    """Personal API tokens: shown once, stored hashed, revocable."""


@token_group.command("create")
@click.option("--user", "username", required=True)
@click.option("--name", required=True, help=f"what the token is for, 1–{tokens.MAX_NAME_CHARS} characters")
def token_create(username: str, name: str) -> None:
    """Issue a token to a user; it is printed once."""

    async def change(conn: AsyncConnection) -> tuple[tokens.IssuedToken, dict[str, Any]]:
        issued = await tokens.issue_token(conn, username=username, name=name)
        return issued, {"action": "create", "resource": "token", "resource_id": issued.info.id,
                        "changes": audit.changed(None, {"user": username, "name": name})}

    issued = _audited(change)
    _echo({"token": _token_json(issued.info), "value": issued.token})


@token_group.command("list")
@click.option("--user", "username", required=True)
def token_list(username: str) -> None:
    """A user's tokens, newest first (never their values)."""
    listed = _run(lambda engine, _s: tokens.list_tokens(engine, username))
    _echo({"tokens": [_token_json(info) for info in listed]})


@token_group.command("revoke")
@click.argument("token_id", type=click.IntRange(1, MAX_ID))
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID: it stops working at once."""

    async def change(conn: AsyncConnection) -> tuple[tokens.TokenInfo, dict[str, Any] | None]:
        before, after = await tokens.revoke_token(conn, token_id)
        return after, None if before == after else {
            "action": "revoke", "resource": "token", "resource_id": token_id,
            "changes": audit.changed({"revoked_at": None}, {"revoked_at": _time(after.revoked_at)})}

    _echo({"token": _token_json(_audited(change))})


# -- audit ---------------------------------------------------------------------
@click.group("audit")
def audit_group() -> None:
    """The audit log of changes."""


@audit_group.command("list")
@click.option("--resource", help="only entries about this resource (user, token, account...)")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="from this day on, UTC (YYYY-MM-DD)")
@click.option("--limit", type=click.IntRange(1, audit.MAX_PAGE), default=50, show_default=True)
@click.option("--before", "cursor", type=click.IntRange(1, MAX_ID),
              help="entries older than this id (the next_cursor of the previous page)")
def audit_list(resource: str | None, since: datetime | None, limit: int, cursor: int | None) -> None:
    """Audit entries, newest first."""
    filters = audit.AuditFilter(resource=resource,
                                since=since.replace(tzinfo=timezone.utc) if since is not None else None)
    page = _run(lambda engine, _s: audit.list_entries(engine, filters, cursor=cursor, limit=limit))
    _echo({"entries": [_entry_json(entry) for entry in page.entries], "next_cursor": page.next_cursor})


def register(main: click.Group, admin_group: click.Group) -> None:
    """Add ``admin user``, ``admin token`` and ``audit`` to the command line."""
    admin_group.add_command(user_group)
    admin_group.add_command(token_group)
    main.add_command(audit_group)
