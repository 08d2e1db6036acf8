"""The rendered config in a real Asterisk: hostile subscriber values load as
inert data and change neither the dialplan nor the set of SIP objects.

Invariant 7."""

from __future__ import annotations

import re
import socket
import subprocess

from asterisk_conf.render import display_name
from tests.fixtures.asterisk import PhoneEndpoint, extra_testbed, phone_endpoint

HOSTILE = 'Eve" <666>;x,y\n[evil]\ntype=endpoint\nexten => _X.,1,System(id) ${SHELL(id)}'


def endpoints(name: str) -> tuple[PhoneEndpoint, ...]:
    return (
        phone_endpoint("alice", "pw-alice-1", name, "1000", "sub1"),
        phone_endpoint("bob", "pw-bob-2", "Bob", "1001", "sub2"),
    )


def dialplan_extensions(testbed) -> list[str]:
    out = testbed.cli("dialplan show")
    return sorted(re.findall(r"^\s+'([^']+)' =>", out, flags=re.M))


def pjsip_endpoints(testbed) -> list[str]:
    out = testbed.cli("pjsip show endpoints")
    return sorted(re.findall(r"^ Endpoint:  ([A-Za-z0-9_.-]+)/", out, flags=re.M))


def test_hostile_display_name_leaves_dialplan_and_endpoints_unchanged(tmp_path):
    with extra_testbed(tmp_path / "benign", endpoints("Alice"), "benign") as benign:
        expected_dialplan = dialplan_extensions(benign)
        expected_endpoints = pjsip_endpoints(benign)
    with extra_testbed(tmp_path / "hostile", endpoints(HOSTILE), "hostile") as hostile:
        assert dialplan_extensions(hostile) == expected_dialplan
        assert pjsip_endpoints(hostile) == expected_endpoints == ["alice", "bob"]
        assert "evil" not in hostile.cli("pjsip show endpoints").lower()
        shown = hostile.cli("pjsip show endpoint alice")
        callerid = re.search(r"^ callerid\s+:\s+(.*)$", shown, flags=re.M).group(1)
        assert callerid.strip() == f'"{display_name(HOSTILE)}" <1000>'
        assert display_name(HOSTILE).startswith("Eve 666xy evil typeendpoint exten")


def test_the_testbed_resolves_its_own_host_name_without_dns(asterisk):
    """A started testbed's root names this machine in /etc/hosts, and
    Asterisk inside it resolves that name locally: no DNS lookup (whose
    timeout, on a silent resolver, held INVITEs past a DID's ring time)."""
    name = socket.gethostname()
    hosts = (asterisk.testbed.root / "etc/hosts").read_text().split()
    assert name in hosts and "localhost" in hosts
    resolved = subprocess.run(
        ["chroot", str(asterisk.testbed.root), "getent", "ahostsv4", name],
        capture_output=True, text=True, timeout=10,
    )
    assert resolved.returncode == 0 and resolved.stdout.startswith("127.0.0.1"), resolved
