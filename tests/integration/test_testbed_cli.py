"""`clickphone asterisk up|status|down`: the testbed Asterisk outlives the
`up` command, answers ARI, and `down` leaves no process or mount."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from asterisk_conf.testbed import processes_in_root
from tests.fixtures.asterisk import mounts_under
from tests.fixtures.ports import free_port, free_rtp_range

CLICKPHONE = [sys.executable, "-m", "controlplane.cli"]


def clickphone(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLICKPHONE, *args], env=env, capture_output=True, text=True, timeout=120)


def test_up_status_down_leaves_nothing_behind(private_root, tmp_path):
    rtp_start, rtp_end = free_rtp_range()
    env = {
        **os.environ,
        "CLICKPHONE_STATE_DIR": str(tmp_path / "state"),
        "CLICKPHONE_ASTERISK_ROOT": str(private_root),
        "CLICKPHONE_SIP_PORT": str(free_port()),
        "CLICKPHONE_ASTERISK_HTTP_PORT": str(free_port()),
        "CLICKPHONE_RTP_PORT_START": str(rtp_start),
        "CLICKPHONE_RTP_PORT_END": str(rtp_end),
    }
    try:
        up = clickphone(env, "asterisk", "up")
        assert up.returncode == 0, up.stderr
        assert "Asterisk is up" in up.stdout
        status = clickphone(env, "asterisk", "status")
        assert status.returncode == 0
        report = json.loads(status.stdout)
        assert report["running"] and report["ari_answers"]
        assert report["pid"] in processes_in_root(private_root)
    finally:
        down = clickphone(env, "asterisk", "down")
    assert down.returncode == 0, down.stderr
    assert processes_in_root(private_root) == []
    assert mounts_under(private_root) == []
    after = clickphone(env, "asterisk", "status")
    assert after.returncode == 3
    assert json.loads(after.stdout)["running"] is False


def test_killed_run_is_cleaned_up_by_down(private_root, tmp_path):
    """A run that died without stopping its Asterisk (SIGKILL) leaves a
    process and mounts; `down` removes both."""
    env = {
        **os.environ,
        "CLICKPHONE_STATE_DIR": str(tmp_path / "state"),
        "CLICKPHONE_ASTERISK_ROOT": str(private_root),
        "CLICKPHONE_SIP_PORT": str(free_port()),
        "CLICKPHONE_ASTERISK_HTTP_PORT": str(free_port()),
    }
    assert clickphone(env, "asterisk", "up").returncode == 0
    pid_files = list(private_root.glob("srv/clickphone/*/testbed.pid"))
    for pid_file in pid_files:  # forget the pid, as a crashed run would
        pid_file.unlink()
    assert processes_in_root(private_root)
    down = clickphone(env, "asterisk", "down")
    assert down.returncode == 0, down.stderr
    assert processes_in_root(private_root) == []
    assert mounts_under(private_root) == []
