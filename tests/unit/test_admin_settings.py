"""The admin API's bearer token: a secret like the ARI password — never a
default, generated once into <state_dir>/secrets.toml, kept private, and
never written there when given."""

from __future__ import annotations

import stat
import tomllib

from controlplane.settings import load_settings


def test_admin_token_is_generated_once_and_kept_private(tmp_path):
    first = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    second = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    assert len(first.admin_token) >= 24 and first.admin_token == second.admin_token
    assert first.admin_token != first.ari_password
    assert stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode) == 0o600


def test_a_given_admin_token_is_used_and_not_written(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_ADMIN_TOKEN": "given-token"})
    assert settings.admin_token == "given-token"
    assert "admin_token" not in tomllib.loads((tmp_path / "secrets.toml").read_text())


def test_an_existing_secrets_file_gains_the_admin_token_and_keeps_the_ari_password(tmp_path):
    (tmp_path / "secrets.toml").write_text('ari_password = "kept-from-before"\n')
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    stored = tomllib.loads((tmp_path / "secrets.toml").read_text())
    assert settings.ari_password == stored["ari_password"] == "kept-from-before"
    assert settings.admin_token == stored["admin_token"]
    assert stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode) == 0o600
