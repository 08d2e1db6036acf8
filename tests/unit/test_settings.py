"""Settings: environment over TOML file over defaults; generated secrets;
every setting documented in the README."""

from __future__ import annotations

import re
import stat

import pytest

from controlplane.settings import REPO_ROOT, SettingsError, load_settings, setting_docs


def test_defaults_use_embedded_sqlite_in_the_state_folder(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/clickphone.sqlite3"
    assert settings.effective_asterisk_root == tmp_path / "asterisk-root"


def test_environment_overrides_the_toml_file(tmp_path):
    config = tmp_path / "clickphone.toml"
    config.write_text('sip_port = 5070\nadmin_port = 9000\n')
    settings = load_settings({
        "CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_CONFIG": str(config),
        "CLICKPHONE_SIP_PORT": "5080",
    })
    assert settings.sip_port == 5080
    assert settings.admin_port == 9000


def test_unknown_setting_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="CLICKPHONE_SIP_PROT"):
        load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_SIP_PROT": "1"})


def test_unknown_key_in_toml_is_refused_with_the_file_name(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="c.toml"):
        load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_CONFIG": str(config)})


def test_non_numeric_port_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="sip_port"):
        load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_SIP_PORT": "fifty"})


def test_external_mode_needs_an_ari_url(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_ASTERISK_MODE": "external"})
    with pytest.raises(SettingsError, match="CLICKPHONE_ARI_URL"):
        settings.effective_ari_url


def test_ari_password_is_generated_once_and_kept_private(tmp_path):
    first = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    second = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    assert len(first.ari_password) >= 24
    assert first.ari_password == second.ari_password
    mode = stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode)
    assert mode == 0o600


def test_ari_password_from_the_environment_is_not_written_to_disk(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_ARI_PASSWORD": "given",
                              "CLICKPHONE_ADMIN_TOKEN": "given-token",
                              "CLICKPHONE_AGI_SECRET": "given-agi-secret-16"})
    assert settings.ari_password == "given"
    assert not (tmp_path / "secrets.toml").exists()


def test_state_folder_is_git_ignored():
    assert "/.state/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("name", sorted(setting_docs()))
def test_every_setting_is_documented_in_the_readme_with_its_default(name):
    readme = (REPO_ROOT / "README.md").read_text()
    row = re.search(rf"^\| `CLICKPHONE_{name.upper()}` \| ([^|]+) \|", readme, flags=re.M)
    assert row, f"CLICKPHONE_{name.upper()} is not in the README's settings table"
    default = setting_docs()[name][1]
    shown = row.group(1).strip()
    if default in ("", None):
        assert shown == "empty"
    elif name == "state_dir":
        assert shown == "`./.state`"
    else:
        assert shown == f"`{default}`"
