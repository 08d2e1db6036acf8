"""`make run` as a newcomer runs it: the whole system comes up on the
embedded default, /health reports Asterisk connected within 60 s, and
Ctrl-C (SIGINT to the terminal's process group) stops everything with no
process or mount left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from asterisk_conf.testbed import processes_in_root
from controlplane.settings import REPO_ROOT
from tests.fixtures.asterisk import mounts_under
from tests.fixtures.ports import free_port, free_rtp_range

HEALTH_DEADLINE_S = 60


def health(url: str) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def group_alive(pgid: int) -> list[int]:
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    alive.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return alive


def test_make_run_serves_health_and_stops_cleanly_on_ctrl_c(private_root, tmp_path):
    admin_port = free_port()
    rtp_start, rtp_end = free_rtp_range()
    env = {
        **os.environ,
        "CLICKPHONE_STATE_DIR": str(tmp_path / "state"),
        "CLICKPHONE_ASTERISK_ROOT": str(private_root),
        "CLICKPHONE_ADMIN_PORT": str(admin_port),
        "CLICKPHONE_AGI_PORT": str(free_port()),
        "CLICKPHONE_SMTP_CATCHER_PORT": str(free_port()),
        "CLICKPHONE_SIP_PORT": str(free_port()),
        "CLICKPHONE_ASTERISK_HTTP_PORT": str(free_port()),
        "CLICKPHONE_RTP_PORT_START": str(rtp_start),
        "CLICKPHONE_RTP_PORT_END": str(rtp_end),
    }
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "run"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + HEALTH_DEADLINE_S
        report = None
        while time.monotonic() < deadline and make.poll() is None:
            answer = health(f"http://127.0.0.1:{admin_port}/health")
            if answer and answer[0] == 200:
                report = answer[1]
                break
            time.sleep(0.5)
        output = log_path.read_text()
        assert report is not None, f"/health not ok within {HEALTH_DEADLINE_S} s:\n{output[-3000:]}"
        assert report["asterisk"]["connected"] is True
        assert report["database"]["connected"] is True
        assert "demo phone  user=demo1000 password=" in output
        assert f"read them in {tmp_path / 'state' / 'maildir'}" in output
        assert processes_in_root(private_root), "the testbed Asterisk should be running"
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 5
    while group_alive(make.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_alive(make.pid) == []
    assert processes_in_root(private_root) == []
    assert mounts_under(private_root) == []
    assert '"msg": "stopped"' in log_path.read_text()
