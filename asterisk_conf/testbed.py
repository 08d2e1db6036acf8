"""The local Asterisk testbed: Debian's asterisk package (Asterisk 22) in a
Debian sid root built by mmdebstrap, started as root with the rendered
config on loopback ports.

Facts this module is built on (measured on our machines):

- ``mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"'
  --include=asterisk,asterisk-modules sid DIR`` builds the root in ~20 s; the
  mirror's sid Release file is past its Valid-Until date, hence the option.
- /dev is bind-mounted and proc mounted inside the root.
- Asterisk is started as root **without** ``-U``: with ``-U root`` it drops
  capabilities and cannot read its 0640 configs.
- ARI answers ~12 s after start.

Several instances may share one root; each has its own folder
``/srv/clickphone/<instance>`` inside it (config, run, log, spool, db). The
mounts are made by the first instance to start and removed when the last
Asterisk process inside the root has gone.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import shutil
import socket
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .render import AsteriskConfig, AsteriskDirs, render_config, write_config

_log = logging.getLogger(__name__)

SUITE = "sid"
PACKAGES = ("asterisk", "asterisk-modules")
BUILD_TIMEOUT_S = 900
STOP_TIMEOUT_S = 15


class TestbedError(RuntimeError):
    """The testbed cannot be built, started or stopped; the message says how
    to fix it."""

    __test__ = False  # not a pytest test class


def instance_base(instance: str) -> str:
    """Return the instance's folder as Asterisk sees it inside the root."""
    return f"/srv/clickphone/{instance}"


def instance_dirs(instance: str) -> AsteriskDirs:
    return AsteriskDirs.under(instance_base(instance))


def _require_root_user() -> None:
    if os.geteuid() != 0:
        raise TestbedError(
            "the Asterisk testbed needs root (chroot and mounts): run as root, "
            "or set CLICKPHONE_ASTERISK_MODE=external with CLICKPHONE_ARI_URL"
        )


def ensure_root(root: Path, log=print) -> None:
    """Build the Debian sid root with Asterisk at ``root`` unless it is
    already there. Built into a temporary folder, then renamed, so an
    interrupted build never leaves a half root in place."""
    if (root / "usr/sbin/asterisk").exists():
        return
    _require_root_user()
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise TestbedError(
            "mmdebstrap is not installed: apt-get install mmdebstrap "
            "(`make test` and `make run` install it through scripts/install-system-deps.sh)"
        )
    tmp = root.with_name(root.name + ".building")
    if tmp.exists():
        shutil.rmtree(tmp)
    root.parent.mkdir(parents=True, exist_ok=True)
    log(f"building the Asterisk root at {root} (Debian {SUITE}, about 20 s)")
    command = [
        mmdebstrap, "--variant=apt", "--quiet",
        "--aptopt=Acquire::Check-Valid-Until \"false\"",
        f"--include={','.join(PACKAGES)}", SUITE, str(tmp),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TestbedError(f"mmdebstrap failed ({done.returncode}): {done.stderr[-2000:]}")
    tmp.rename(root)


def _ensure_hosts(root: Path) -> None:
    """Give the root an /etc/hosts naming this machine. Without one,
    Asterisk resolves its own host name over DNS while setting up calls;
    a resolver that does not answer then holds an INVITE for glibc's 5 s
    timeout — longer than a DID's ring time."""
    hosts = root / "etc/hosts"
    name = socket.gethostname()
    wanted = f"127.0.0.1\tlocalhost {name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    try:
        if hosts.read_text() == wanted:
            return
    except OSError:
        pass
    hosts.write_text(wanted)


def _mountpoints() -> set[str]:
    with open("/proc/self/mountinfo") as fh:
        return {line.split()[4] for line in fh}


def processes_in_root(root: Path) -> list[int]:
    """Return the pids of processes whose root directory is ``root``."""
    target = os.path.realpath(root)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/root") == target:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


@contextmanager
def _root_lock(root: Path) -> Iterator[None]:
    lock_path = root.with_name(root.name + ".lock")
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def mount_root(root: Path) -> None:
    """Bind /dev and mount proc inside the root (idempotent)."""
    mounted = _mountpoints()
    dev, proc = os.path.realpath(root / "dev"), os.path.realpath(root / "proc")
    if dev not in mounted:
        subprocess.run(["mount", "--bind", "/dev", dev], check=True)
    if proc not in mounted:
        subprocess.run(["mount", "-t", "proc", "proc", proc], check=True)


def unmount_root(root: Path) -> None:
    """Remove the root's mounts if they are there."""
    mounted = _mountpoints()
    for sub in ("proc", "dev"):
        path = os.path.realpath(root / sub)
        if path in mounted:
            subprocess.run(["umount", "--lazy", path], check=True)


@dataclass
class Testbed:
    """One Asterisk instance inside the shared root.

    ``config`` must use ``instance_dirs(instance)``; ``ari_password`` is the
    clear password whose crypt hash is in the config.
    """

    __test__ = False

    root: Path
    instance: str
    config: AsteriskConfig
    ari_password: str
    dialplan_template: str | None = None

    # -- paths ---------------------------------------------------------------
    @property
    def host_base(self) -> Path:
        return self.root / instance_base(self.instance).lstrip("/")

    @property
    def pid_file(self) -> Path:
        return self.host_base / "testbed.pid"

    @property
    def owner_file(self) -> Path:
        """``<pid> <start time>`` of the process that started this Asterisk
        and stops it (the control plane); absent for a detached one."""
        return self.host_base / "owner.pid"

    @property
    def log_file(self) -> Path:
        return self.host_base / "log" / "console.log"

    @property
    def cdr_dir(self) -> Path:
        return self.host_base / "log" / "cdr-custom"

    @property
    def cdr_csv_dir(self) -> Path:
        return self.host_base / "log" / "cdr-csv"

    @property
    def ari_url(self) -> str:
        return f"http://{self.config.http_bind_address}:{self.config.http_port}"

    # -- lifecycle -----------------------------------------------------------
    def write_config(self) -> None:
        """Render the config set into the instance's etc folder."""
        files = render_config(self.config, self.dialplan_template)
        write_config(files, self.root / self.config.dirs.etc.lstrip("/"))

    def start(self, timeout: float = 60.0, *, owned: bool = True) -> None:
        """Build the root if needed, mount, start Asterisk and wait for ARI.

        ``owned``: this process owns the Asterisk (records itself in
        ``owner_file``); a later start that finds the Asterisk running while
        its owner is dead (``kill -9`` of ``clickphone run``) stops that
        orphan cleanly and starts afresh. A running Asterisk whose owner is
        alive, or that has none (``clickphone asterisk up``), is refused."""
        _require_root_user()
        ensure_root(self.root)
        if self.pid() is not None or self.instance_processes():
            owner = self.owner_file_process()
            if owner is None or _process_identity(owner[0]) == owner:
                held = f" by the live process {owner[0]}" if owner else " detached (`clickphone asterisk up`)"
                raise TestbedError(f"testbed {self.instance} is already running{held}; "
                                   "stop it with `clickphone asterisk down`")
            _log.warning("stopping the Asterisk testbed %s left by a dead process (pid %d)", self.instance, owner[0])
            self.stop()
        for sub in ("etc", "run", "log", "spool", "spool/recording", "lib", "lib/keys", "cache", "log/cdr-custom", "log/cdr-csv"):
            (self.host_base / sub).mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.owner_file.unlink(missing_ok=True)
        if owned:  # before Asterisk exists: a kill from here on leaves an owner to check
            identity = _process_identity(os.getpid())
            self.owner_file.write_text(f"{identity[0]} {identity[1]}\n" if identity else "")
        _ensure_hosts(self.root)
        with _root_lock(self.root):
            mount_root(self.root)
            with open(self.log_file, "ab") as log:
                process = subprocess.Popen(
                    [
                        "chroot", str(self.root), "/usr/sbin/asterisk", "-f", "-n",
                        "-C", f"{self.config.dirs.etc}/asterisk.conf",
                    ],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C on our terminal is ours to handle
                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TZ": "UTC", "HOME": "/root"},
                )
            # Keep the lock until the process is inside the root: an instance
            # stopping meanwhile would otherwise see no process there and
            # unmount /dev and /proc under this one.
            _wait_inside_root(process.pid, self.root)
        self.pid_file.write_text(str(process.pid))
        try:
            self.wait_ready(timeout)
        except TestbedError:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once ARI answers a ping; raise TestbedError after
        ``timeout`` seconds or if Asterisk exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise TestbedError(f"Asterisk exited during start; see {self.log_file}")
            if self.ari_ping():
                return
            time.sleep(0.25)
        raise TestbedError(f"ARI did not answer within {timeout:.0f} s; see {self.log_file}")

    def ari_ping(self) -> bool:
        """Return True if ARI answers an authenticated ping."""
        request = urllib.request.Request(f"{self.ari_url}/ari/asterisk/ping")
        token = base64.b64encode(
            f"{self.config.ari_username}:{self.ari_password}".encode()
        ).decode()
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def pid(self) -> int | None:
        """Return the running Asterisk's pid, or None."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _is_testbed_process(pid, self.root) else None

    def owner_file_process(self) -> tuple[int, int] | None:
        """Return the (pid, start time) ``owner_file`` names, or None."""
        try:
            pid, started = self.owner_file.read_text().split()
            return int(pid), int(started)
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop this instance's Asterisk (TERM, then KILL) and unmount the
        root when no other instance runs in it."""
        pids = set(self.instance_processes())
        pid = self.pid()
        if pid is not None:
            pids.add(pid)
        for each in pids:
            _terminate(each)
        self.pid_file.unlink(missing_ok=True)
        self.owner_file.unlink(missing_ok=True)
        release_root_if_idle(self.root)

    def instance_processes(self) -> list[int]:
        """Return the pids of Asterisk processes running this instance's
        config — also those a lost pid file no longer names."""
        marker = f"{self.config.dirs.etc}/asterisk.conf".encode()
        found = []
        for pid in processes_in_root(self.root):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if marker in fh.read().split(b"\0"):
                        found.append(pid)
            except OSError:
                continue
        return found

    def remove_instance_folder(self) -> None:
        """Delete the instance's folder (config, logs, CDRs); only when stopped."""
        if self.pid() is None and not self.instance_processes():
            shutil.rmtree(self.host_base, ignore_errors=True)

    def cli(self, command: str, timeout: float = 20.0) -> str:
        """Run an Asterisk CLI command through the remote console."""
        done = subprocess.run(
            [
                "chroot", str(self.root), "/usr/sbin/asterisk",
                "-C", f"{self.config.dirs.etc}/asterisk.conf", "-rx", command,
            ],
            capture_output=True, text=True, timeout=timeout,
        )
        if done.returncode != 0:
            raise TestbedError(f"asterisk -rx {command!r} failed: {done.stderr or done.stdout}")
        return done.stdout

    def reload(self, config: AsteriskConfig | None = None) -> None:
        """Re-render the config (optionally a new one) and reload Asterisk's
        modules that read it, without a restart."""
        if config is not None:
            self.config = config
        self.write_config()
        for command in ("module reload res_pjsip.so", "dialplan reload", "module reload cdr_custom.so"):
            self.cli(command)


def _terminate(pid: int) -> None:
    """TERM the process (and its group, which it leads), KILL after a while."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        _signal(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        try:  # not a group leader (found by scanning, not started by us)
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_inside_root(pid: int, root: Path, timeout: float = 5.0) -> None:
    target = os.path.realpath(root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        try:
            if os.readlink(f"/proc/{pid}/root") == target:
                return
        except OSError:
            return
        time.sleep(0.01)


def _is_testbed_process(pid: int, root: Path) -> bool:
    # Right after Popen the process may still be `chroot`, not yet inside.
    try:
        if os.readlink(f"/proc/{pid}/root") == os.path.realpath(root):
            return True
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().split(b"\0")[0].endswith(b"chroot")
    except OSError:
        return False


def _process_identity(pid: int) -> tuple[int, int] | None:
    """Return (pid, start time in clock ticks since boot) of a live process,
    or None: the start time tells a reused pid from the original."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else (pid, int(fields[19]))


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def release_root_if_idle(root: Path) -> None:
    """Unmount the root's /dev and /proc if no process runs inside it."""
    with _root_lock(root):
        if not processes_in_root(root):
            unmount_root(root)


@contextmanager
def hard_linked_copy(root: Path, name: str) -> Iterator[Path]:
    """Yield a hard-linked copy of the built ``root`` beside it, named
    ``name`` (hard links need one filesystem), without what is mounted or
    per-instance there: a root of its own for a test or benchmark that
    checks its own mounts and processes, in seconds instead of a rebuild.
    Everything started inside it is stopped and the copy removed after."""
    copy = root.with_name(name)
    copy.mkdir()
    try:
        for entry in root.iterdir():
            if entry.name in ("dev", "proc", "srv"):
                (copy / entry.name).mkdir()
            else:
                subprocess.run(["cp", "-al", str(entry), str(copy / entry.name)], check=True)
        yield copy
    finally:
        stop_everything_in(copy)
        subprocess.run(["rm", "-rf", "--one-file-system", str(copy)], check=True)
        copy.with_name(copy.name + ".lock").unlink(missing_ok=True)


def stop_everything_in(root: Path) -> int:
    """Kill every process inside the root and unmount it — the cleanup for a
    run that died without stopping its testbed. Returns how many were
    killed."""
    pids = processes_in_root(root)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while processes_in_root(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    release_root_if_idle(root)
    return len(pids)
