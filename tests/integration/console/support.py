"""Users and logins for the console tests."""

from __future__ import annotations

import itertools
import re

from access import users
from access.roles import ACCOUNT_ADMIN, OPERATOR
from tests.integration.access.support import PASSWORD, cheap_hasher

_serial = itertools.count(1)


async def new_user(engine, role: str, account_id: int | None = None) -> str:
    """A new user of ``role`` (bound to ``account_id`` when an account admin) with PASSWORD; their username."""
    name = f"{role.replace('_', '-')}-{next(_serial)}"
    await users.create_user(engine, username=name, password=PASSWORD, role=role,
                            account_id=account_id if role == ACCOUNT_ADMIN else None, hasher=cheap_hasher())
    return name


async def browser_login(page, base: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the console's form."""
    await page.goto(f"{base}/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def logged_in(engine, console: str, page, role: str = OPERATOR, account_id: int | None = None) -> str:
    """A new user of ``role`` logged in through the browser, on the dashboard; their username."""
    name = await new_user(engine, role, account_id)
    await browser_login(page, console, name)
    await page.wait_for_url(f"{console}/console/")
    return name


class Session:
    """A console login for the aiohttp client: its cookie header and CSRF token."""

    def __init__(self, cookie: str, csrf: str) -> None:
        self.cookie = cookie
        self.csrf = csrf

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"cp_session={self.cookie}"}


async def client_login(client, username: str, password: str = PASSWORD) -> Session:
    """Log in with the aiohttp client; the session's cookie and the CSRF token of its pages."""
    response = await client.post("/console/login", data={"username": username, "password": password},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    cookie = response.cookies["cp_session"].value
    home = await client.get("/console/", headers={"Cookie": f"cp_session={cookie}"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', await home.text()).group(1)
    return Session(cookie, csrf)
