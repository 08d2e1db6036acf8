"""The console's pages: the layout's context (the user, the nav their role
may open, the CSRF token, the words in their language) and the refusal
pages its middleware answers with.

Templates are Jinja2 with autoescape on for every template (a subscriber's
name is shown as text, never markup: invariant 7).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from billing.tariffs import CONTRACT_TZ
from billing.money import format_amount
from web.admin_input import AdminError

from . import i18n
from .context import CsrfRefused, Forbidden, LoginNeeded, PageNotFound, Viewer

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
LOGIN_PATH = "/console/login"
HOME_PATH = "/console/"

# (catalog key, path, permission): the nav shows what the role may open
_NAV = (
    ("nav.dashboard", "/console/", "calls.read"),
    ("nav.subscribers", "/console/subscribers", "subscribers.read"),
    # operations pages: numbers, calls, quarantined CDRs, the email outbox
    ("nav.dids", "/console/dids", "dids.read"),
    ("nav.calls", "/console/calls", "calls.read"),
    ("nav.quarantine", "/console/quarantine", "quarantine.read"),
    ("nav.outbox", "/console/outbox", "outbox.read"),
    # tariffs, invoices, audit log, users and one's own tokens and password
    ("nav.tariffs", "/console/tariffs", "tariffs.read"),
    ("nav.invoices", "/console/invoices", "invoices.read"),
    ("nav.audit", "/console/audit", "audit.read"),
    ("nav.users", "/console/users", "users.read"),
    ("nav.my_tokens", "/console/me/tokens", "self.read"),
    ("nav.password", "/console/me/password", "self.write"),
)


def setup_templates(app: web.Application) -> None:
    """Give ``app`` the console's Jinja2 environment (autoescape on everywhere)."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                               autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                               undefined=jinja2.StrictUndefined)
    # exact, as a person reads it: "12.50 EUR", every non-zero micro-euro kept
    env.filters["money"] = lambda micro: "" if micro is None else format_amount(micro)
    # the same amount as a form's field holds it: "12.50", no currency
    env.filters["money_input"] = lambda micro: "" if micro is None else format_amount(micro, "").strip()
    # times as the operator lives them: Europe/Bucharest, the contract's zone
    env.filters["when"] = lambda at: "" if at is None else at.astimezone(CONTRACT_TZ).strftime("%Y-%m-%d %H:%M")


def nav_for(who: Optional[Viewer]) -> list[tuple[str, str]]:
    """The nav entries (catalog key, path) ``who`` may open."""
    if who is None:
        return []
    entries = [(key, path) for key, path, permission in _NAV if who.may(permission)]
    if who.own_account_id is not None and who.may("accounts.read"):
        entries.append(("nav.account", f"/console/accounts/{who.own_account_id}"))
    return entries


def render(request: web.Request, template: str, context: Mapping[str, Any], *, who: Optional[Viewer] = None,
           status: int = 200) -> web.Response:
    """The page ``template`` with ``context`` and the layout's own context."""
    language = i18n.language_of(request)
    page = {
        "lang": language,
        "t": lambda key, **values: i18n.translate(language, key, **values),
        "who": who,
        "nav": nav_for(who),
        "csrf": who.session.csrf if who is not None else "",
        "path": request.path,
        "languages": i18n.LANGUAGES,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, page, status=status)
    # pages hold account data: never cached; never framed by another site
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    return response


def refusal(request: web.Request, status: int, message_key: str, *, who: Optional[Viewer] = None,
            message: str | None = None) -> web.Response:
    """A refusal page: ``status`` with the message ``message_key`` (or ``message`` as it is)."""
    return render(request, "error.html", {"message_key": message_key, "message": message}, who=who, status=status)


def login_redirect(request: web.Request) -> web.Response:
    """303 to the login page, coming back to this page after."""
    target = request.path_qs if request.method == "GET" else HOME_PATH
    return see_other(f"{LOGIN_PATH}?next={quote(target[:500], safe='/')}")


def see_other(location: str) -> web.Response:
    """303 to ``location`` (after a POST: the browser GETs it)."""
    return web.Response(status=303, headers={"Location": location})


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path only (no open redirect)."""
    if not target or not target.startswith("/console/") or target.startswith("//") or "\\" in target:
        return HOME_PATH
    return target[:500]


@web.middleware
async def console_pages(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer the console's refusals as pages (not the API's JSON)."""
    try:
        return await handler(request)
    except LoginNeeded:
        return login_redirect(request)
    except Forbidden:
        return refusal(request, 403, "error.forbidden")
    except CsrfRefused:
        return refusal(request, 403, "error.csrf")
    except PageNotFound:
        return refusal(request, 404, "error.not_found")
    except AdminError as exc:
        return refusal(request, exc.status, "form.error", message=str(exc))
    except web.HTTPNotFound:
        return refusal(request, 404, "error.not_found")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("console: %s %s failed", request.method, request.path[:200])
        return refusal(request, 500, "error.title")
