"""docker-compose.yml cannot run here (no Docker engine): it is parsed and
checked against the settings it feeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from controlplane.settings import REPO_ROOT, Settings, load_settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ENV = SERVICES["controlplane"]["environment"]
DEFAULTS = Settings()


def published(service: str) -> list[str]:
    return [str(p) for p in SERVICES[service].get("ports", [])]


def test_services_are_asterisk_controlplane_postgres_and_staging_smtp():
    assert {"asterisk", "controlplane", "postgres", "smtp"} <= set(SERVICES)
    assert SERVICES["smtp"]["profiles"] == ["staging"]


def test_every_clickphone_variable_is_a_real_setting():
    names = {f.name for f in dataclasses.fields(Settings)}
    for key in ENV:
        assert key.startswith("CLICKPHONE_")
        assert key.removeprefix("CLICKPHONE_").lower() in names, key


def test_environment_loads_as_settings(tmp_path):
    env = {k: str(v) for k, v in ENV.items() if "${" not in str(v)}
    env["CLICKPHONE_STATE_DIR"] = str(tmp_path)
    env["CLICKPHONE_ARI_PASSWORD"] = "from-the-environment"
    settings = load_settings(env)
    assert settings.asterisk_mode == "external"
    assert settings.effective_ari_url == "http://asterisk:8088"


def test_ari_url_points_at_the_asterisk_service_and_its_http_port():
    assert ENV["CLICKPHONE_ARI_URL"] == f"http://asterisk:{ENV['CLICKPHONE_ASTERISK_HTTP_PORT']}"


def test_database_url_points_at_the_postgres_service():
    url = ENV["CLICKPHONE_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url


def test_sip_and_rtp_ports_are_published_as_configured():
    ports = published("asterisk")
    sip = ENV["CLICKPHONE_SIP_PORT"]
    assert f"{sip}:{sip}/udp" in ports and f"{sip}:{sip}/tcp" in ports
    rtp = f"{ENV['CLICKPHONE_RTP_PORT_START']}-{ENV['CLICKPHONE_RTP_PORT_END']}"
    assert f"{rtp}:{rtp}/udp" in ports


@pytest.mark.parametrize("name", ["sip_port", "rtp_port_start", "rtp_port_end", "admin_port",
                                  "asterisk_http_port", "agi_port"])
def test_compose_uses_the_default_ports(name):
    assert int(ENV[f"CLICKPHONE_{name.upper()}"]) == getattr(DEFAULTS, name)


def test_admin_api_is_published_on_loopback_only():
    assert published("controlplane") == [f"127.0.0.1:{ENV['CLICKPHONE_ADMIN_PORT']}:{ENV['CLICKPHONE_ADMIN_PORT']}"]


def test_no_secret_is_written_in_the_file():
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    for secret_var in ("CLICKPHONE_ARI_PASSWORD", "CLICKPHONE_DB_PASSWORD"):
        assert f"${{{secret_var}:?" in text


def test_dockerfiles_exist_for_built_services():
    for service in SERVICES.values():
        if "build" in service:
            assert (REPO_ROOT / service["build"]["dockerfile"]).is_file()


def test_the_control_plane_writes_provisioning_into_the_config_folder_asterisk_reads():
    """Subscribers added at run time reach the Asterisk container: the
    control plane's ``asterisk_config_dir`` is the volume Asterisk's
    /etc/asterisk is mounted from."""
    services = COMPOSE["services"]
    config_dir = services["controlplane"]["environment"]["CLICKPHONE_ASTERISK_CONFIG_DIR"]
    writes = {v.split(":")[0] for v in services["controlplane"]["volumes"] if v.split(":")[1] == config_dir
              and not v.endswith(":ro")}
    reads = {v.split(":")[0] for v in services["asterisk"]["volumes"] if v.split(":")[1] == "/etc/asterisk"}
    assert writes and writes == reads
