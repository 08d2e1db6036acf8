"""The admin web console (issue 13, item 5), at /console/ in the admin app.

Server-rendered pages (aiohttp-jinja2, autoescaped), one stylesheet and
htmx vendored as one file (static/htmx.min.js, htmx.org 2.0.11 from npm,
its license kept at the top): no build step, no CDN.

A user logs in with their username and password (:mod:`access.users`), and
their session (:mod:`access.sessions`) is held in an HttpOnly, SameSite=Strict,
Secure cookie with Path=/console. Each page names its permission
(:mod:`access.roles`); an account admin sees the same console restricted to
its own account. Every form carries the session's CSRF token. Every change
is audited in its own transaction (:func:`web.audited.audited_change`).

======================================  ==================================  ====================
page                                    what                                permission
======================================  ==================================  ====================
``GET/POST /console/login``             the login form                      none
``POST /console/logout``                end the session                     a session
``GET /console/lang/{ro,en}``           pick the language                   none
``GET /console/``                       dashboard                           calls.read
``GET /console/subscribers``            search, cursor pages                subscribers.read
``GET/POST /console/subscribers/new``   create (SIP password shown once)    subscribers.write +
                                                                            accounts.write
``GET/POST /console/subscribers/{id}``  show; edit name, email, language    subscribers.read/write
``GET /console/accounts/{id}``          money, ledger pages, policy         accounts.read
``POST …/accounts/{id}/top-up``         credit the account                  accounts.top_up
``POST …/accounts/{id}/suspend``        suspend for a cause, end its calls  accounts.suspend
``POST …/accounts/{id}/reinstate``      make it active again                accounts.suspend
``POST …/accounts/{id}/end-calls``      end its live calls                  accounts.suspend
``POST …/accounts/{id}/allowlist``      the networks calls may come from    accounts.write
``POST …/accounts/{id}/limits``         daily and credit limits             accounts.write
``GET /console/dids``                   numbers by subscriber/account       dids.read
``POST /console/dids``                  assign a number to a subscriber     dids.write
``GET/POST …/dids/{number}/release``    confirm, then release               dids.write
``GET /console/calls``                  search calls (account, days, ...)   calls.read
``GET /console/calls.csv``              the same search as CSV, streamed    calls.read
``GET /console/quarantine``             quarantined CDR lines               quarantine.read
``POST …/quarantine[/{id}]/reprocess``  re-process one, or all waiting      quarantine.reprocess
``GET /console/outbox``                 pending and dead emails             outbox.read
``POST …/outbox/{id}/retry``            send a dead email again             outbox.retry
``GET/POST …/subscribers/{id}/terminate``  last day, confirm, terminate     subscribers.write
``POST …/endpoints/{id}/password``      new SIP password, shown once        endpoints.write
``POST …/endpoints/{id}/profile``       the dialplan profile                endpoints.write
``GET/POST /console/tariffs``           plans, versions; import a CSV       tariffs.read/write
``GET /console/tariffs/{plan}[/export]`` a plan's rates; its CSV             tariffs.read
``GET /console/invoices``               filtered, cursor pages              invoices.read
``GET /console/invoices/{n}[/document]`` one invoice, payments, penalty      invoices.read
``POST …/invoices/{n}/payments``        record a payment                    invoices.write
``GET /console/audit``                  the audit log, filtered, pages      audit.read
``GET/POST /console/users``             users; create (password shown once) users.read/write
``POST …/users/{name}/disable``         disable a user                      users.write
``GET/POST …/users/{name}/tokens``      a user's tokens; issue, revoke      users.read/write
``GET/POST /console/me/tokens``         my tokens; issue, revoke            self.read/write
``GET/POST /console/me/password``       change my password                  self.write
======================================  ==================================  ====================
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from aiohttp import web
from argon2 import PasswordHasher

from . import accounts, dashboard, login, subscribers
from . import calls, dids, outbox, quarantine, subscriber_ops
from . import access_pages, audit_page, invoices, tariffs
from .context import CONSOLE, ConsoleState
from .render import console_pages, setup_templates

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"


async def _to_console(request: web.Request) -> web.Response:
    return web.Response(status=303, headers={"Location": PREFIX + "/"})


def console_app(services: object, *, hasher: Optional[PasswordHasher] = None) -> web.Application:
    """The console as an app to mount at /console (``services``: the admin
    app's AdminServices; ``hasher``: what logins verify with, None: the default)."""
    app = web.Application(middlewares=[console_pages])
    app[CONSOLE] = ConsoleState(services, hasher)
    setup_templates(app)
    app.router.add_get("/", dashboard.dashboard)
    app.router.add_get("/login", login.login_page)
    app.router.add_post("/login", login.login)
    app.router.add_post("/logout", login.logout)
    app.router.add_get("/lang/{lang}", login.pick_language)
    app.router.add_get("/subscribers", subscribers.list_page)
    app.router.add_post("/subscribers", subscribers.create)
    app.router.add_get("/subscribers/new", subscribers.new_page)
    app.router.add_get("/subscribers/{id}", subscribers.detail_page)
    app.router.add_post("/subscribers/{id}", subscribers.edit)
    app.router.add_get("/accounts/{id}", accounts.account_page)
    for action, handler in (("top-up", accounts.top_up), ("suspend", accounts.suspend),
                            ("reinstate", accounts.reinstate), ("end-calls", accounts.end_calls),
                            ("allowlist", accounts.allowlist)):
        app.router.add_post(f"/accounts/{{id}}/{action}", handler)
    app.router.add_post("/accounts/{id}/calls/{call_ref}/hang-up", accounts.hang_up)
    _add_operations(app)
    tariffs.add_routes(app)
    invoices.add_routes(app)
    app.router.add_get("/audit", audit_page.audit_page)
    access_pages.add_routes(app)
    app.router.add_static("/static/", STATIC)
    return app


def _add_operations(app: web.Application) -> None:
    """The operations pages: DIDs, calls, quarantine, outbox, subscriber termination, endpoints, limits."""
    app.router.add_get("/dids", dids.list_page)
    app.router.add_post("/dids", dids.assign)
    app.router.add_get("/dids/{number}/release", dids.release_page)
    app.router.add_post("/dids/{number}/release", dids.release)
    app.router.add_get("/calls", calls.search_page)
    app.router.add_get("/calls.csv", calls.export_csv)
    app.router.add_get("/quarantine", quarantine.list_page)
    app.router.add_post("/quarantine/reprocess", quarantine.reprocess_all)
    app.router.add_post("/quarantine/{id}/reprocess", quarantine.reprocess_one)
    app.router.add_get("/outbox", outbox.list_page)
    app.router.add_post("/outbox/{id}/retry", outbox.retry)
    app.router.add_get("/subscribers/{id}/terminate", subscriber_ops.terminate_page)
    app.router.add_post("/subscribers/{id}/terminate", subscriber_ops.terminate_subscriber)
    app.router.add_post("/endpoints/{id}/password", subscriber_ops.reset_password)
    app.router.add_post("/endpoints/{id}/profile", subscriber_ops.change_profile)
    app.router.add_post("/accounts/{id}/limits", accounts.limits)


def add_console(app: web.Application, services: object, *, hasher: Optional[PasswordHasher] = None) -> None:
    """Mount the console at /console/ in ``app``; / and /console go to it."""
    app.router.add_get("/", _to_console)
    app.router.add_get(PREFIX, _to_console)
    app.add_subapp(PREFIX, console_app(services, hasher=hasher))
