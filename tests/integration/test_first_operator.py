"""The first console login (issue 13): the start that finds no operator
user creates ``operator`` with a generated password, keeps it in
secrets.toml (0600) and shows it that once; later starts point at the file."""

from __future__ import annotations

import stat
import tomllib

from controlplane.cli import _banner
from controlplane.first_operator import ensure_first_operator
from controlplane.runtime import ControlPlane, open_state
from controlplane.settings import load_settings
from access import audit, users


async def start(settings):
    """The start path's database steps, as ControlPlane._start_parts runs them."""
    engine, _demo = await open_state(settings)
    return engine, await ensure_first_operator(engine, settings.state_dir)


async def test_the_first_start_creates_the_operator_shows_its_password_once_and_keeps_it(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path / "state")})
    engine, first = await start(settings)
    await engine.dispose()
    engine, again = await start(settings)
    try:
        secrets_file = settings.state_dir / "secrets.toml"
        kept = tomllib.loads(secrets_file.read_text())["operator_password"]
        user = await users.verify_login(engine, "operator", kept, source="127.0.0.1")
        entries = await audit.list_entries(engine)
    finally:
        await engine.dispose()

    assert first.password == kept and again.password is None
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert (user.username, user.role) == ("operator", "operator")
    assert [(e.actor, e.action, e.resource, e.resource_id) for e in entries.entries] == [
        ("system", "create", "user", "operator")]
    shown = _banner(ControlPlane(settings, first_login=first, admin_url="http://127.0.0.1:8088"))
    assert "http://127.0.0.1:8088/console/" in shown and f"user=operator password={kept}" in shown
    later = _banner(ControlPlane(settings, first_login=again, admin_url="http://127.0.0.1:8088"))
    assert "http://127.0.0.1:8088/console/" in later and kept not in later
    assert f"operator_password in {secrets_file}" in later


async def test_no_operator_is_created_when_one_exists(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path / "state")})
    engine, _demo = await open_state(settings)
    try:
        await users.create_user(engine, username="alice", password="a long enough password", role="operator")
        login = await ensure_first_operator(engine, settings.state_dir)
        names = [user.username for user in await users.list_users(engine)]
    finally:
        await engine.dispose()

    assert login is None and names == ["alice"]
    assert "operator_password" not in (settings.state_dir / "secrets.toml").read_text()
