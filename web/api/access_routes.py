"""/api/v1's users, personal tokens and audit log (issue 13, items 3 and 4).

Managing users and anyone's tokens needs ``users.read`` / ``users.write``
(operators). Every role holds ``self.read`` and ``self.write``: a caller
sees itself (``/me``) and lists, issues and revokes its **own** tokens,
never another user's (another's token id under /me answers 404, as an
unknown one). The bootstrap admin token is no user and has no tokens.

Each change is audited in its own transaction (:meth:`ApiCall.change`):
the fields changed, never a password or a token's value, which are
answered once, in the creation's response, and kept only hashed. A
change that changes nothing (disabling a disabled user, revoking a
revoked token) answers the resource as it is and leaves no entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Optional

from access import audit, tokens, users
from access.errors import InvalidInput, TooManyTokens, UnknownToken, UnknownUser, UserExists
from billing import ledger
from billing.errors import UnknownAccountError

from .errors import ApiError
from .registry import ApiCall, RouteTable, cursor_for, id_from_cursor
from .access_schemas import (
    AuditEntryOut,
    AuditPage,
    AuditQuery,
    CreatedUser,
    IssuedTokenOut,
    MeOut,
    NewToken,
    NewUser,
    TokenList,
    TokenOut,
    UserList,
    UserOut,
)
from .security import BOOTSTRAP_ACTOR

routes = RouteTable()


@contextmanager
def access_refusals() -> Iterator[None]:
    """Answer access's refusals: 400 naming the field, 404 unknown, 409 taken or too many."""
    try:
        yield
    except InvalidInput as exc:
        raise ApiError(400, str(exc), exc.field) from None
    except (UnknownUser, UnknownToken) as exc:
        raise ApiError(404, str(exc)) from None
    except (UserExists, TooManyTokens) as exc:
        raise ApiError(409, str(exc), exc.field) from None


def _time(value: Optional[datetime]) -> Optional[str]:
    return None if value is None else value.isoformat()


def _user_out(user: users.User) -> UserOut:
    return UserOut(id=user.id, username=user.username, role=user.role, account_id=user.account_id,
                   created_at=user.created_at, disabled_at=user.disabled_at)


def _token_out(info: tokens.TokenInfo) -> TokenOut:
    return TokenOut(id=info.id, user=info.username, name=info.name, created_at=info.created_at,
                    last_used_at=info.last_used_at, revoked_at=info.revoked_at)


def _username(call: ApiCall) -> str:
    return call.request.match_info["username"]


def _own_username(call: ApiCall) -> str:
    """The caller's username; 409 for the bootstrap credential, which is no user."""
    if call.who.credential == "admin_token":
        raise ApiError(409, f"the admin token ({BOOTSTRAP_ACTOR}) is no user and has no tokens: "
                            "create an operator with POST /users and give it a token")
    return call.who.name


async def _tokens_of(call: ApiCall, username: str) -> TokenList:
    with access_refusals():
        listed = await tokens.list_tokens(call.engine, username)
    return TokenList(items=[_token_out(info) for info in listed])


async def _issue(call: ApiCall, username: str) -> IssuedTokenOut:
    body: NewToken = call.body
    with access_refusals():
        async with call.change("create", "token") as change:
            issued = await tokens.issue_token(change.conn, username=username, name=body.name)
            change.resource_id = issued.info.id
            change.fields(None, {"user": username, "name": body.name})
    return IssuedTokenOut(token=_token_out(issued.info), value=issued.token)


async def _revoke(call: ApiCall, token_id: int) -> TokenOut:
    with access_refusals():
        async with call.change("revoke", "token", token_id) as change:
            before, after = await tokens.revoke_token(change.conn, token_id)
            if before == after:  # revoked already: nothing changes, nothing to audit
                change.unchanged()
            change.fields({"revoked_at": None}, {"revoked_at": _time(after.revoked_at)})
    return _token_out(after)


# -- users ---------------------------------------------------------------------------


@routes.route("GET", "/users", summary="Every admin user with its role (never a password)",
              permission="users.read", response=UserList)
async def list_users(call: ApiCall) -> UserList:
    """Every user by username (at most 1,000)."""
    return UserList(items=[_user_out(user) for user in await users.list_users(call.engine)])


@routes.route("POST", "/users", summary="Create a user; a generated password is answered once",
              permission="users.write", body=NewUser, response=CreatedUser, status=201)
async def create_user(call: ApiCall) -> CreatedUser:
    """Create a user of a role (an account admin with its account)."""
    body: NewUser = call.body
    password = body.password if body.password is not None else users.generated_password()
    with access_refusals():
        async with call.change("create", "user", body.username) as change:
            if body.account is not None:
                try:
                    await ledger.get_account(change.conn, body.account)
                except UnknownAccountError:
                    raise ApiError(400, f"account: no account {body.account}", "account") from None
            user = await users.create_user(change.conn, username=body.username, password=password,
                                           role=body.role, account_id=body.account)
            change.fields(None, {"role": user.role, "account_id": user.account_id})
    return CreatedUser(user=_user_out(user), password=None if body.password is not None else password)


@routes.route("POST", "/users/{username}/disable", summary="Disable a user: its tokens stop at once",
              permission="users.write", response=UserOut)
async def disable_user(call: ApiCall) -> UserOut:
    """Disable the user (not oneself: 409, so the last operator cannot lock everyone out by mistake)."""
    username = _username(call)
    if username == call.who.name:
        raise ApiError(409, "you may not disable yourself")
    with access_refusals():
        async with call.change("disable", "user", username) as change:
            before, after = await users.disable_user(change.conn, username)
            if before == after:  # disabled already
                change.unchanged()
            change.fields({"disabled_at": None}, {"disabled_at": _time(after.disabled_at)})
    return _user_out(after)


@routes.route("GET", "/users/{username}/tokens", summary="A user's tokens, newest first (never their values)",
              permission="users.read", response=TokenList)
async def list_user_tokens(call: ApiCall) -> TokenList:
    """Every token of the user, revoked ones included."""
    return await _tokens_of(call, _username(call))


@routes.route("POST", "/users/{username}/tokens", summary="Issue a token to a user; its value is answered once",
              permission="users.write", body=NewToken, response=IssuedTokenOut, status=201)
async def issue_user_token(call: ApiCall) -> IssuedTokenOut:
    """A new personal token of the user (at most 20 live each)."""
    return await _issue(call, _username(call))


@routes.route("DELETE", "/tokens/{id}", summary="Revoke any token: it stops with the next request",
              permission="users.write", response=TokenOut)
async def revoke_any_token(call: ApiCall) -> TokenOut:
    """Revoke the token ``id`` whoever holds it."""
    return await _revoke(call, call.path_id())


# -- the caller itself ---------------------------------------------------------------


@routes.route("GET", "/me", summary="Who the credential speaks for: name, role, account",
              permission="self.read", response=MeOut)
async def get_me(call: ApiCall) -> MeOut:
    """The caller as authenticated."""
    who = call.who
    return MeOut(name=who.name, role=who.role, account_id=who.own_account_id, credential=who.credential)


@routes.route("GET", "/me/tokens", summary="The caller's own tokens, newest first",
              permission="self.read", response=TokenList)
async def list_my_tokens(call: ApiCall) -> TokenList:
    """Every token of the caller's user."""
    return await _tokens_of(call, _own_username(call))


@routes.route("POST", "/me/tokens", summary="Issue the caller a new token (to rotate one); answered once",
              permission="self.write", body=NewToken, response=IssuedTokenOut, status=201)
async def issue_my_token(call: ApiCall) -> IssuedTokenOut:
    """A new personal token of the caller's user."""
    return await _issue(call, _own_username(call))


@routes.route("DELETE", "/me/tokens/{id}", summary="Revoke one of the caller's own tokens",
              permission="self.write", response=TokenOut)
async def revoke_my_token(call: ApiCall) -> TokenOut:
    """Revoke the caller's token ``id``; another user's token is 404, as an unknown one."""
    token_id = call.path_id()
    username = _own_username(call)
    with access_refusals():
        own = {info.id: info for info in await tokens.list_tokens(call.engine, username)}
    if token_id not in own:
        raise ApiError(404, f"no token {token_id} of yours")
    return await _revoke(call, token_id)


# -- the audit log -------------------------------------------------------------------


@routes.route("GET", "/audit", summary="The audit log, newest first, filtered",
              permission="audit.read", query=AuditQuery, response=AuditPage)
async def list_audit(call: ApiCall) -> AuditPage:
    """Entries by resource, resource id, actor and time ``[since, until)``."""
    query: AuditQuery = call.query
    cursor = None if query.cursor is None else id_from_cursor(query.cursor)
    if cursor == 0:
        raise ApiError(400, "cursor: not a cursor this API gave (pass next_cursor as it came)", "cursor")
    filters = audit.AuditFilter(resource=query.resource, resource_id=query.resource_id, actor=query.actor,
                                since=query.since, until=query.until)
    with access_refusals():
        page = await audit.list_entries(call.engine, filters, cursor, query.limit)
    return AuditPage(
        items=[AuditEntryOut(id=e.id, at=e.at, actor=e.actor, role=e.role, source=e.source, action=e.action,
                             resource=e.resource, resource_id=e.resource_id, changes=e.changes,
                             outcome=e.outcome) for e in page.entries],
        next_cursor=None if page.next_cursor is None else cursor_for(page.next_cursor),
    )
