"""The Asterisk config the call flows rely on: allowlists as endpoint ACLs,
DIDs as inbound extensions (asterisk_conf.render).

Invariant 7: only a parsed network reaches an ACL line, only digits a DID
extension."""

from __future__ import annotations

import crypt
import re

import pytest

from asterisk_conf.render import AsteriskConfig, AsteriskDirs, ConfigValueError, EndpointConf, render_config
from provisioning.credentials import DEFAULT_REALM, md5_cred

# any digest credential: these tests render config, no phone registers
MD5_CRED = md5_cred("alice", DEFAULT_REALM, "a-password-for-tests")
REALM = DEFAULT_REALM


def config(endpoints=(), dids=()) -> AsteriskConfig:
    return AsteriskConfig(
        system_name="cp1", dirs=AsteriskDirs.under("/srv/clickphone/unit"), ari_username="clickphone",
        ari_password_crypt=crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_SHA512)), ari_app="clickphone",
        http_port=8088, sip_port=5060, rtp_start=10000, rtp_end=10199, endpoints=endpoints, dids=dids,
        agi_secret="unit-agi-secret",
    )


def endpoint_section(pjsip: str, name: str) -> str:
    return re.search(rf"\[{name}\]\ntype = endpoint\n(.*?)(?:\n\[|\Z)", pjsip, re.S).group(1)


def test_an_allowlist_denies_everything_then_permits_its_networks_in_order():
    ep = EndpointConf("alice", MD5_CRED, REALM, "Alice", "1000", "acct1",
                      permit=("10.1.2.0/24", "2001:db8::/32"))
    section = endpoint_section(render_config(config((ep,)))["pjsip.conf"], "alice")
    acl = [line for line in section.splitlines() if line.startswith(("deny", "permit"))]
    assert acl == ["deny = 0.0.0.0/0.0.0.0", "deny = ::/0", "permit = 10.1.2.0/24", "permit = 2001:db8::/32"]


def test_no_allowlist_means_no_acl():
    ep = EndpointConf("bob", MD5_CRED, REALM, "Bob", "1001", "acct2")
    assert "deny" not in endpoint_section(render_config(config((ep,)))["pjsip.conf"], "bob")


def test_a_host_address_is_written_as_a_network():
    ep = EndpointConf("carol", MD5_CRED, REALM, "Carol", "1002", "acct3", permit=("192.0.2.7",))
    assert "permit = 192.0.2.7/32" in render_config(config((ep,)))["pjsip.conf"]


@pytest.mark.parametrize("hostile", ["10.0.0.0/8\ndeny=1.2.3.4", "10.0.0.0/8;x", "any", "0.0.0.0/0,evil", ""])
def test_anything_but_a_network_in_an_allowlist_is_refused(hostile):
    ep = EndpointConf("dave", MD5_CRED, REALM, "Dave", "1003", "acct4", permit=(hostile,))
    with pytest.raises(ConfigValueError):
        render_config(config((ep,)))


def test_each_did_enters_the_app_with_its_number_with_or_without_plus():
    dialplan = render_config(config(dids=("40312345678",)))["extensions.conf"]
    assert "exten => 40312345678,1,Set(CDR(cp_dialled)=40312345678)" in dialplan
    assert "Stasis(clickphone,inbound,40312345678)" in dialplan
    assert "exten => +40312345678,1,Goto(40312345678,1)" in dialplan
    assert "Stasis(clickphone,inbound)" in dialplan  # any other number: the app refuses it


@pytest.mark.parametrize("hostile", ["4031,1,System(id)", "40312345678\n[evil]", "${SHELL(id)}"])
def test_a_hostile_did_is_refused(hostile):
    with pytest.raises(ConfigValueError):
        render_config(config(dids=(hostile,)))
