"""The console's users and personal tokens (issue 13, item 5): operators
list users, create one (a generated password shown once, or the one
given), disable one, and list, issue and revoke anyone's tokens; every
user has "my tokens" (issue, revoke their own) and "change my password"
(the current password required, checked as a login is: failures count
toward the lockout).

The owner functions are :mod:`access.users` and :mod:`access.tokens`, the
ones /api/v1 and the CLI call. Each change is one audited change naming
what changed, never a password or a token's value (shown once, kept only
hashed); a change that changes nothing (disabling a disabled user,
revoking a revoked token) leaves no entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from aiohttp import web

from access import inputs as access_inputs
from access import sessions, tokens, users
from access.errors import (InvalidInput, LockedOut, LoginRefused, TooManyTokens, UnknownToken,
                           UnknownUser, UserExists)
from access.roles import ROLE_NAMES
from billing import ledger
from web.admin_input import AdminError, ConflictError, InvalidInputError, NotFoundError, refusals
from web.audited import audited_change

from .context import PageNotFound, Viewer, posted_form, services, state, viewer
from .render import render, see_other
from .subscribers import page_id, path_id

PAGE_SIZE = 50
MAX_NAME_CHARS = 64


@contextmanager
def access_refusals() -> Iterator[None]:
    """access's refusals as the console's: 400 naming the field, 404 unknown, 409 taken or too many."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInputError(exc.field or "input", str(exc)) from None
    except (UnknownUser, UnknownToken) as exc:
        raise NotFoundError(str(exc)) from None
    except (UserExists, TooManyTokens) as exc:
        raise ConflictError(str(exc)) from None


def _username_in_path(request: web.Request) -> str:
    name = request.match_info["username"]
    if not name or len(name) > MAX_NAME_CHARS:
        raise PageNotFound()
    return name


def _time(value) -> Optional[str]:
    return None if value is None else value.isoformat()


# -- users ---------------------------------------------------------------------------


async def users_page(request: web.Request, *, error: str | None = None, form: dict | None = None,
                     status: int = 200) -> web.Response:
    """GET /console/users?after=: the users by username, a page at a time, and the creation form."""
    who = await viewer(request, "users.read")
    after = request.query.get("after", "")[:MAX_NAME_CHARS]
    listed = [user for user in await users.list_users(services(request).engine) if user.username > after]
    rows = listed[:PAGE_SIZE]
    return render(request, "users.html", {
        "rows": rows, "after": after, "next_after": rows[-1].username if len(listed) > PAGE_SIZE else None,
        "roles": ROLE_NAMES, "may_write": who.may("users.write"), "error": error, "form": form or {},
    }, who=who, status=status)


async def create_user(request: web.Request) -> web.Response:
    """POST /console/users: create a user (audited); the generated password shown once."""
    who = await viewer(request, "users.write")
    form = await posted_form(request, who)
    wanted = {field: form.get(field, "").strip()[:200] for field in ("username", "role", "account")}
    given = form.get("password", "")[:1000]
    password = given or users.generated_password()
    svc = services(request)
    try:
        with refusals(), access_refusals():
            account_id = None
            if wanted["account"]:
                account_id = page_id(wanted["account"])
                if account_id is None:
                    raise InvalidInputError("account", "an account id (a whole number)")
            async with audited_change(svc.engine, who.actor, svc.notifier, action="create", resource="user",
                                      resource_id=wanted["username"][:MAX_NAME_CHARS] or None) as change:
                if account_id is not None:
                    await ledger.get_account(change.conn, account_id)
                user = await users.create_user(change.conn, username=wanted["username"], password=password,
                                               role=wanted["role"], account_id=account_id, hasher=state(request).hasher)
                change.fields(None, {"role": user.role, "account_id": user.account_id})
    except AdminError as exc:
        return await users_page(request, error=str(exc), form=wanted, status=exc.status)
    return render(request, "secret_once.html", {
        "title_key": "users.created", "subject": user.username, "secret": None if given else password,
        "note_key": "users.password_once", "back": "/console/users"}, who=who, status=201)


async def disable_user(request: web.Request) -> web.Response:
    """POST /console/users/{username}/disable: disable the user (not oneself), audited."""
    who = await viewer(request, "users.write")
    await posted_form(request, who)
    username = _username_in_path(request)
    if username == who.name:  # the last operator must not lock everyone out by mistake
        return await users_page(request, error="username: you may not disable yourself", status=409)
    svc = services(request)
    try:
        with access_refusals():
            async with audited_change(svc.engine, who.actor, svc.notifier, action="disable", resource="user",
                                      resource_id=username) as change:
                before, after = await users.disable_user(change.conn, username)
                if before == after:  # disabled already: nothing to audit
                    change.unchanged()
                change.fields({"disabled_at": None}, {"disabled_at": _time(after.disabled_at)})
    except AdminError as exc:
        return await users_page(request, error=str(exc), status=exc.status)
    return see_other("/console/users")


# -- tokens --------------------------------------------------------------------------


async def _tokens_page(request: web.Request, who: Viewer, username: str, *, mine: bool,
                       error: str | None = None, status: int = 200) -> web.Response:
    with refusals(), access_refusals():
        listed = await tokens.list_tokens(services(request).engine, username)
    base = "/console/me/tokens" if mine else f"/console/users/{username}/tokens"
    return render(request, "tokens.html", {
        "username": username, "rows": listed, "mine": mine, "base": base, "error": error,
        "may_write": who.may("self.write" if mine else "users.write"),
    }, who=who, status=status)


async def _issue(request: web.Request, who: Viewer, username: str, *, mine: bool) -> web.Response:
    form = await posted_form(request, who)
    name = form.get("name", "").strip()[:200]
    svc = services(request)
    try:
        with access_refusals():
            async with audited_change(svc.engine, who.actor, svc.notifier, action="create",
                                      resource="token") as change:
                issued = await tokens.issue_token(change.conn, username=username, name=name)
                change.resource_id = issued.info.id
                change.fields(None, {"user": username, "name": name})
    except AdminError as exc:
        return await _tokens_page(request, who, username, mine=mine, error=str(exc), status=exc.status)
    back = "/console/me/tokens" if mine else f"/console/users/{username}/tokens"
    return render(request, "secret_once.html", {
        "title_key": "tokens.issued", "subject": f"{username} · {issued.info.name}", "secret": issued.token,
        "note_key": "tokens.value_once", "back": back}, who=who, status=201)


async def _revoke(request: web.Request, who: Viewer, token_id: int) -> None:
    svc = services(request)
    with access_refusals():
        async with audited_change(svc.engine, who.actor, svc.notifier, action="revoke", resource="token",
                                  resource_id=token_id) as change:
            before, after = await tokens.revoke_token(change.conn, token_id)
            if before == after:  # revoked already
                change.unchanged()
            change.fields({"revoked_at": None}, {"revoked_at": _time(after.revoked_at)})


async def user_tokens_page(request: web.Request) -> web.Response:
    """GET /console/users/{username}/tokens: the user's tokens, newest first (never their values)."""
    who = await viewer(request, "users.read")
    return await _tokens_page(request, who, _username_in_path(request), mine=False)


async def issue_user_token(request: web.Request) -> web.Response:
    """POST /console/users/{username}/tokens: issue the user a token (audited), its value shown once."""
    who = await viewer(request, "users.write")
    return await _issue(request, who, _username_in_path(request), mine=False)


async def revoke_user_token(request: web.Request) -> web.Response:
    """POST /console/users/{username}/tokens/{id}/revoke: revoke the user's token (audited)."""
    who = await viewer(request, "users.write")
    await posted_form(request, who)
    username, token_id = _username_in_path(request), path_id(request)
    with access_refusals():
        if token_id not in {info.id for info in await tokens.list_tokens(services(request).engine, username)}:
            raise NotFoundError(f"no token {token_id} of {username}")
    await _revoke(request, who, token_id)
    return see_other(f"/console/users/{username}/tokens")


async def my_tokens_page(request: web.Request) -> web.Response:
    """GET /console/me/tokens: the user's own tokens."""
    who = await viewer(request, "self.read")
    return await _tokens_page(request, who, who.name, mine=True)


async def issue_my_token(request: web.Request) -> web.Response:
    """POST /console/me/tokens: issue oneself a token (audited), its value shown once."""
    who = await viewer(request, "self.write")
    return await _issue(request, who, who.name, mine=True)


async def revoke_my_token(request: web.Request) -> web.Response:
    """POST /console/me/tokens/{id}/revoke: revoke one's own token (another's: 404, as an unknown one)."""
    who = await viewer(request, "self.write")
    await posted_form(request, who)
    token_id = path_id(request)
    if token_id not in {info.id for info in await tokens.list_tokens(services(request).engine, who.name)}:
        raise PageNotFound()
    await _revoke(request, who, token_id)
    return see_other("/console/me/tokens")


# -- my password ---------------------------------------------------------------------


async def password_page(request: web.Request, *, error: str | None = None, status: int = 200,
                        saved: bool = False) -> web.Response:
    """GET /console/me/password: the form to change one's password."""
    who = await viewer(request, "self.write")
    return render(request, "password.html", {"error": error, "saved": saved or request.query.get("saved") == "1"},
                  who=who, status=status)


async def change_password(request: web.Request) -> web.Response:
    """POST /console/me/password: the current password, then the new one twice (audited, no secret in the entry)."""
    who = await viewer(request, "self.write")
    form = await posted_form(request, who)
    current, new, again = (form.get(field, "")[:1000] for field in ("current", "new", "again"))
    svc, hasher = services(request), state(request).hasher
    try:
        if new != again:
            raise InvalidInputError("again", "the new password, typed the same twice")
        with access_refusals():
            access_inputs.password(new, "new")  # checked before the current one: no login attempt spent on it
        try:
            await users.verify_login(svc.engine, who.name, current, source=who.source, hasher=hasher)
        except (LoginRefused, LockedOut, InvalidInput):
            raise InvalidInputError("current", "not your current password") from None
        with access_refusals():
            async with audited_change(svc.engine, who.actor, svc.notifier, action="change_password",
                                      resource="user", resource_id=who.name) as change:
                await users.set_password(change.conn, who.name, new, hasher=hasher)
                # a password changed because it leaked must not leave the thief's sessions open
                await sessions.end_sessions_of(change.conn, who.session.user_id, keep=who.session.id)
    except AdminError as exc:
        return await password_page(request, error=str(exc), status=exc.status)
    return see_other("/console/me/password?saved=1")


def add_routes(app: web.Application) -> None:
    """The users, tokens and my-password pages in the console's app."""
    app.router.add_get("/users", users_page)
    app.router.add_post("/users", create_user)
    app.router.add_post("/users/{username}/disable", disable_user)
    app.router.add_get("/users/{username}/tokens", user_tokens_page)
    app.router.add_post("/users/{username}/tokens", issue_user_token)
    app.router.add_post("/users/{username}/tokens/{id}/revoke", revoke_user_token)
    app.router.add_get("/me/tokens", my_tokens_page)
    app.router.add_post("/me/tokens", issue_my_token)
    app.router.add_post("/me/tokens/{id}/revoke", revoke_my_token)
    app.router.add_get("/me/password", password_page)
    app.router.add_post("/me/password", change_password)
