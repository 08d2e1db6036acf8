"""`clickphone run` starts again after the previous one was killed with
SIGKILL (issue 10 defect 7): the Asterisk testbed it finds belongs to a dead
control plane (its owner file names a process that is gone), so it is
stopped cleanly and started afresh instead of refusing with "already
running". A second `clickphone run` beside a live one is still refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from asterisk_conf.testbed import processes_in_root
from tests.fixtures.asterisk import mounts_under
from tests.fixtures.ports import free_port, free_rtp_range
from tests.integration.test_make_run import health

CLICKPHONE = str(Path(sys.executable).with_name("clickphone"))
HEALTH_DEADLINE_S = 90


def run_env(state_dir: Path, root: Path) -> dict[str, str]:
    rtp_start, rtp_end = free_rtp_range()
    return {
        **os.environ,
        "CLICKPHONE_STATE_DIR": str(state_dir), "CLICKPHONE_ASTERISK_ROOT": str(root),
        "CLICKPHONE_ADMIN_PORT": str(free_port()), "CLICKPHONE_AGI_PORT": str(free_port()),
        "CLICKPHONE_SMTP_CATCHER_PORT": str(free_port()), "CLICKPHONE_SIP_PORT": str(free_port()),
        "CLICKPHONE_ASTERISK_HTTP_PORT": str(free_port()),
        "CLICKPHONE_RTP_PORT_START": str(rtp_start), "CLICKPHONE_RTP_PORT_END": str(rtp_end),
    }


def start_run(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([CLICKPHONE, "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_healthy(run: subprocess.Popen, env: dict[str, str], log_path: Path) -> None:
    url = f"http://127.0.0.1:{env['CLICKPHONE_ADMIN_PORT']}/health"
    deadline = time.monotonic() + HEALTH_DEADLINE_S
    while time.monotonic() < deadline and run.poll() is None:
        answer = health(url)
        if answer and answer[0] == 200 and answer[1]["asterisk"]["connected"]:
            return
        time.sleep(0.5)
    raise AssertionError(f"clickphone run not healthy:\n{log_path.read_text()[-3000:]}")


def stop(run: subprocess.Popen) -> None:
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()


def test_run_starts_again_after_the_previous_run_was_killed(private_root, tmp_path):
    env = run_env(tmp_path / "state", private_root)
    log_path = tmp_path / "run.log"
    first = start_run(env, log_path)
    second = third = None
    try:
        wait_healthy(first, env, log_path)
        orphan = set(processes_in_root(private_root))
        assert orphan, "the testbed Asterisk should be running"
        first.kill()  # SIGKILL: no cleanup; Asterisk and the mounts stay
        first.wait()
        assert set(processes_in_root(private_root)) == orphan

        second = start_run(env, log_path)
        wait_healthy(second, env, log_path)
        assert orphan.isdisjoint(processes_in_root(private_root)), "the orphan Asterisk should be replaced"

        # the new owner is alive: a third start is refused, the second runs on
        third = start_run({**env, "CLICKPHONE_ADMIN_PORT": str(free_port()),
                           "CLICKPHONE_SMTP_CATCHER_PORT": str(free_port())}, log_path)
        assert third.wait(timeout=60) != 0
        assert "already running by the live process" in log_path.read_text()
        assert second.poll() is None
    finally:
        for run in (first, second, third):
            if run is not None:
                stop(run)
    assert processes_in_root(private_root) == []
    assert mounts_under(private_root) == []
