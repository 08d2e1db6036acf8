"""The Asterisk config `clickphone run` renders from its settings
(controlplane.asterisk_setup): issue 10 defect 6 — the dialplan's FastAGI
URLs follow the FastAGI settings and carry the shared secret."""

from __future__ import annotations

import re

from asterisk_conf.render import render_config
from controlplane import asterisk_setup
from controlplane.settings import load_settings


def agi_urls(settings) -> set[str]:
    dialplans = [render_config(asterisk_setup.testbed_for(settings, []).config)["extensions.conf"],
                 render_config(asterisk_setup.external_asterisk_config(settings))["extensions.conf"]]
    return {url for text in dialplans for url in re.findall(r"AGI\((agi://[^,)]+)", text)}


def test_dialplan_agi_urls_follow_the_agi_port_setting_and_carry_the_secret(tmp_path):
    """Defect 6: with CLICKPHONE_AGI_PORT=4673, both the testbed `clickphone
    run` starts and `clickphone asterisk render` point the dialplan at 4673."""
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_AGI_PORT": "4673"})
    assert agi_urls(settings) == {
        f"agi://127.0.0.1:4673/admit?secret={settings.agi_secret}",
        f"agi://127.0.0.1:4673/hangup?secret={settings.agi_secret}",
    }


def test_a_wildcard_listen_address_is_not_put_into_the_dialplan(tmp_path):
    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_AGI_HOST": "0.0.0.0"})
    assert {url.split("/")[2] for url in agi_urls(settings)} == {"127.0.0.1:4573"}
    moved = settings.replace(agi_dialplan_host="controlplane")
    assert {url.split("/")[2] for url in agi_urls(moved)} == {"controlplane:4573"}


def test_the_agi_secret_is_generated_once_into_the_state_folder(tmp_path):
    first = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    again = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)})
    assert len(first.agi_secret) >= 16 and again.agi_secret == first.agi_secret
    assert f'agi_secret = "{first.agi_secret}"' in (tmp_path / "secrets.toml").read_text()
