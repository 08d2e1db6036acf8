"""Logging in to the console in a real browser (issue 13, item 5)."""

from __future__ import annotations

from access.roles import OPERATOR

from .support import browser_login, new_user


async def test_an_operator_logs_in_and_sees_the_dashboard(engine, console, page) -> None:
    """A right username and password open the dashboard, the nav naming the user."""
    name = await new_user(engine, OPERATOR)
    await browser_login(page, console, name)
    await page.wait_for_url(f"{console}/console/")
    assert await page.get_by_test_id("user").inner_text() == f"{name} · {OPERATOR}"
    assert await page.locator("h1").inner_text() == "Dashboard"


async def test_a_wrong_password_shows_an_error_and_no_session(engine, console, page) -> None:
    """A wrong password answers "wrong username or password" and opens no session."""
    name = await new_user(engine, OPERATOR)
    await browser_login(page, console, name, "not the password")
    assert await page.get_by_test_id("login-error").inner_text() == "Wrong username or password."
    assert not [c for c in await page.context.cookies() if c["name"] == "cp_session"]
    await page.goto(f"{console}/console/")
    assert "/console/login" in page.url


async def test_chromium_keeps_the_secure_session_cookie_on_loopback_http(engine, console, page) -> None:
    """The session cookie is Secure, and Chromium still keeps and sends it
    over plain HTTP to 127.0.0.1 (why the flag is always set: web/console/context.py)."""
    name = await new_user(engine, OPERATOR)
    await browser_login(page, console, name)
    await page.wait_for_url(f"{console}/console/")
    [cookie] = [c for c in await page.context.cookies() if c["name"] == "cp_session"]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    await page.goto(f"{console}/console/")
    assert page.url == f"{console}/console/"
