"""Who is using the console, and may they: the session cookie, the role's
permission for each route, the account an account admin is bound to, and
the CSRF check of every form (issue 13, item 5).

Every console handler starts with :func:`viewer` (the page's permission)
and, for a POST, :func:`posted_form` (the CSRF token, then the fields).
A refusal is an exception the console's middleware (:mod:`web.console.render`)
turns into a page: no session → the login page; a role without the
permission, another account's page or a bad CSRF token → 403.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other
site's page sends it), Path=/console, and Secure: Chromium keeps and sends
a Secure cookie over plain HTTP to a loopback address (127.0.0.1 is a
"potentially trustworthy" origin), which tests/integration/console checks,
so the flag is set always, and the console works only over HTTPS or on
the machine itself. The session id is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aiohttp import web
from argon2 import PasswordHasher

from access import sessions
from access.audit import Actor
from access.roles import ACCOUNT_ADMIN, holds, sees_account

SESSION_COOKIE = "cp_session"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_FIELDS = 50


@dataclass(frozen=True)
class ConsoleState:
    """What the console works with: the admin app's services (engine,
    notifier, end_calls, health...) and the password hasher logins verify
    with (None: access's default)."""

    services: object  # web.app.AdminServices (not imported: web.app imports this package)
    hasher: Optional[PasswordHasher] = None


CONSOLE = web.AppKey("console", ConsoleState)


class LoginNeeded(Exception):
    """No live session: the login page, then back here."""


class Forbidden(Exception):
    """The role lacks the page's permission, or the resource is another account's."""


class CsrfRefused(Exception):
    """A POST without its session's CSRF token, or with a wrong one."""


class PageNotFound(Exception):
    """What the page is about does not exist."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a request, with their session."""

    session: sessions.Session
    source: str

    @property
    def name(self) -> str:
        """The username."""
        return self.session.username

    @property
    def role(self) -> str:
        """The user's role (access.roles)."""
        return self.session.role

    @property
    def own_account_id(self) -> Optional[int]:
        """The one account an account admin may see; None for staff (every account)."""
        return self.session.account_id if self.role == ACCOUNT_ADMIN else None

    @property
    def actor(self) -> Actor:
        """The user as the audit log names them."""
        return Actor(name=self.name, source=self.source, role=self.role)

    def may(self, permission: str) -> bool:
        """True if the role holds ``permission`` (on its own account, for an account admin)."""
        return holds(self.role, permission)

    def check_account(self, account_id: Optional[int]) -> None:
        """Raise Forbidden unless the user may see account ``account_id``."""
        if not sees_account(self.role, self.session.account_id, account_id):
            raise Forbidden()


def state(request: web.Request) -> ConsoleState:
    """The console's state, from the console's app."""
    return request.config_dict[CONSOLE]


def services(request: web.Request):  # -> web.app.AdminServices
    """The admin app's services the console works with."""
    return state(request).services


def source(request: web.Request) -> str:
    """The client's address, as the audit log and the lockout name it."""
    return (request.remote or "unknown")[:64]


async def current_viewer(request: web.Request) -> Optional[Viewer]:
    """The logged-in user of ``request``, or None."""
    session = await sessions.current_session(services(request).engine, request.cookies.get(SESSION_COOKIE))
    return None if session is None else Viewer(session, source(request))


async def viewer(request: web.Request, permission: str) -> Viewer:
    """The logged-in user of ``request`` if their role holds ``permission``;
    LoginNeeded without a live session, Forbidden without the permission."""
    who = await current_viewer(request)
    if who is None:
        raise LoginNeeded()
    if not who.may(permission):
        raise Forbidden()
    return who


async def posted_form(request: web.Request, who: Viewer) -> dict[str, str]:
    """The fields of a POST's form after its CSRF token (the ``csrf`` field
    or the X-CSRF-Token header htmx sends) is checked: CsrfRefused otherwise.
    Only the first value of a field counts; at most MAX_FORM_FIELDS fields."""
    form = await request.post()
    presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not sessions.csrf_matches(who.session, presented if isinstance(presented, str) else None):
        raise CsrfRefused()
    fields: dict[str, str] = {}
    for key, value in form.items():
        if len(fields) >= MAX_FORM_FIELDS:
            break
        if key != CSRF_FIELD and isinstance(value, str) and key not in fields:
            fields[key] = value
    return fields


def set_session_cookie(response: web.StreamResponse, cookie: str) -> None:
    """Give the browser its session cookie (see the module docstring for the flags)."""
    response.set_cookie(SESSION_COOKIE, cookie, path=COOKIE_PATH, httponly=True, secure=True, samesite="Strict",
                        max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()))


def clear_session_cookie(response: web.StreamResponse) -> None:
    """Tell the browser to forget its session cookie."""
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="Strict")
