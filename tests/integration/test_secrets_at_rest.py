"""Secrets at rest (issue 10, defect 8): what the control plane's start
leaves on disk is readable by its owner only, the SQLite file holds no SIP
password, and the demo password is shown once, when the demo is created."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner

from controlplane.cli import _banner, main
from controlplane.runtime import ControlPlane, open_state
from controlplane.settings import load_settings
from provisioning.credentials import md5_cred


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_bytes(state_dir: Path) -> bytes:
    """The SQLite file and its companions, as anyone who can read them sees them."""
    return b"".join(path.read_bytes() for path in sorted(state_dir.glob("clickphone.sqlite3*")))


async def test_the_start_makes_the_state_folder_and_database_owner_only(tmp_path):
    """State folder 0700 (an existing 0755 one tightened), the SQLite file
    and its -wal/-shm 0600, secrets.toml 0600 — whatever the umask."""
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(state_dir)})

    engine, _demo = await open_state(settings)
    try:
        database = state_dir / "clickphone.sqlite3"
        companions = [state_dir / "clickphone.sqlite3-wal", state_dir / "clickphone.sqlite3-shm"]
        assert all(path.exists() for path in companions)  # WAL mode, engine open
        assert mode(state_dir) == 0o700
        assert {path.name: mode(path) for path in (database, *companions, state_dir / "secrets.toml")} == {
            "clickphone.sqlite3": 0o600, "clickphone.sqlite3-wal": 0o600, "clickphone.sqlite3-shm": 0o600,
            "secrets.toml": 0o600,
        }
    finally:
        await engine.dispose()


async def test_files_an_older_version_left_readable_are_tightened_at_the_start(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    for name in ("clickphone.sqlite3", "secrets.toml"):
        (state_dir / name).touch()
        (state_dir / name).chmod(0o644)
    state_dir.chmod(0o755)

    engine, _demo = await open_state(load_settings({"CLICKPHONE_STATE_DIR": str(state_dir)}))
    await engine.dispose()

    assert mode(state_dir) == 0o700
    assert mode(state_dir / "clickphone.sqlite3") == mode(state_dir / "secrets.toml") == 0o600


async def test_the_demo_password_is_shown_on_the_first_start_only_and_never_stored(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path / "state")})

    engine, first = await open_state(settings)
    await engine.dispose()
    engine, again = await open_state(settings)
    try:
        stored = database_bytes(settings.state_dir)
    finally:
        await engine.dispose()

    assert first.password is not None and again.password is None
    assert again.md5_cred == md5_cred(again.username, settings.sip_realm, first.password)
    assert first.password.encode() not in stored
    assert f"password={first.password}" in _banner(ControlPlane(settings, demo_endpoint=first))
    later = _banner(ControlPlane(settings, demo_endpoint=again))
    assert "demo1000" in later and "password=" not in later and first.password not in later


def test_a_command_that_creates_the_demo_prints_its_password_that_once(tmp_path):
    """`clickphone asterisk render` (docker-compose runs it before `run`)
    may be the command that creates the demo: it is the one to show it."""
    env = {"CLICKPHONE_STATE_DIR": str(tmp_path / "state")}
    runner = CliRunner()  # Click 8.2: result.stderr apart, result.output both

    first = runner.invoke(main, ["asterisk", "render", "--out", str(tmp_path / "etc1")], env=env)
    again = runner.invoke(main, ["asterisk", "render", "--out", str(tmp_path / "etc2")], env=env)

    assert first.exit_code == 0 and again.exit_code == 0, (first.output, again.output)
    assert "demo phone created: user=demo1000 password=" in first.stderr
    assert "password=" not in again.output
    password = first.stderr.split("password=")[1].split()[0]
    rendered = (tmp_path / "etc1" / "pjsip.conf").read_text()
    assert password not in rendered and "password_digest = MD5:" in rendered
    assert {mode(path) for path in (tmp_path / "etc1").iterdir()} == {0o600}
