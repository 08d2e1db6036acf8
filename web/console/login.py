"""The console's login, logout and language pick.

A login is checked by :func:`access.users.verify_login` (argon2id, the
lockout per username and per source address) and opens a session
(:mod:`access.sessions`); a refusal says "wrong username or password"
whatever was wrong, or "locked, try after …" with the time. The login form
has no session yet to hold a CSRF token: it is refused when the browser
says it comes from another origin (``Origin``), and the SameSite=Strict
cookie is never sent with another site's request anyway.
"""

from __future__ import annotations

from aiohttp import web

from access import sessions, users
from access.errors import InvalidInput, LockedOut, LoginRefused

from . import i18n
from .context import (
    SESSION_COOKIE,
    clear_session_cookie,
    current_viewer,
    posted_form,
    services,
    set_session_cookie,
    source,
    state,
)
from .render import HOME_PATH, LOGIN_PATH, render, safe_next, see_other

MAX_LOGIN_FIELD_CHARS = 1024  # access.inputs bounds them exactly; this only caps what is read


async def login_page(request: web.Request) -> web.Response:
    """GET /console/login: the form (or home, when already logged in)."""
    if await current_viewer(request) is not None:
        return see_other(HOME_PATH)
    return render(request, "login.html", {"error": None, "username": "",
                                          "next": safe_next(request.query.get("next"))})


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


async def login(request: web.Request) -> web.Response:
    """POST /console/login: open a session and go on, or show why not."""
    if not _same_origin(request):
        return render(request, "login.html", {"error": i18n.translate(i18n.language_of(request), "error.csrf"),
                                              "username": "", "next": HOME_PATH}, status=403)
    form = await request.post()
    username = str(form.get("username", ""))[:MAX_LOGIN_FIELD_CHARS]
    password = str(form.get("password", ""))[:MAX_LOGIN_FIELD_CHARS]
    target = safe_next(str(form.get("next", "")))
    language = i18n.language_of(request)
    engine = services(request).engine
    try:
        user = await users.verify_login(engine, username, password, source=source(request),
                                        **({"hasher": state(request).hasher} if state(request).hasher else {}))
    except LockedOut as exc:
        error, status = i18n.translate(language, "login.locked", until=exc.until.strftime("%H:%M:%S UTC")), 429
    except (LoginRefused, InvalidInput):
        error, status = i18n.translate(language, "login.wrong"), 401
    else:
        opened = await sessions.open_session(engine, user.id)
        response = see_other(target)
        set_session_cookie(response, opened.cookie)
        return response
    return render(request, "login.html", {"error": error, "username": username[:64], "next": target},
                  status=status)


async def logout(request: web.Request) -> web.Response:
    """POST /console/logout (with the CSRF token): end the session."""
    who = await current_viewer(request)
    if who is not None:
        await posted_form(request, who)
        await sessions.end_session(services(request).engine, request.cookies.get(SESSION_COOKIE))
    response = see_other(LOGIN_PATH)
    clear_session_cookie(response)
    return response


async def pick_language(request: web.Request) -> web.Response:
    """GET /console/lang/{lang}?next=…: remember the user's language and go back."""
    language = request.match_info["lang"]
    if language not in i18n.LANGUAGES:
        raise web.HTTPNotFound()
    response = see_other(safe_next(request.query.get("next")))
    response.set_cookie(i18n.LANGUAGE_COOKIE, language, path="/console", samesite="Strict", secure=True,
                        max_age=365 * 24 * 3600)
    return response
