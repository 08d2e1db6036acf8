"""Provisioning reaches the running Asterisk without a restart
(controlplane.asterisk_sync), and an account's allowlist is enforced by
Asterisk itself."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ari_app.client import AriClient
from controlplane.asterisk_setup import DEBIAN_DIRS
from controlplane.asterisk_sync import sync_external, sync_testbed
from provisioning import services as provisioning
from tests.fixtures.sip_phone import SipPhoneError

from .support import add_subscriber

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]


async def test_an_endpoint_added_to_the_database_registers_after_a_sync_without_a_restart(
    call_asterisk, db, sip_phone
):
    testbed = call_asterisk.testbed
    pid = testbed.pid()
    subscriber = await add_subscriber(db, balance=0)
    phone = await sip_phone(subscriber.endpoint, registrar_port=call_asterisk.sip_port)
    with pytest.raises(SipPhoneError, match="refused"):
        await phone.register()  # not in Asterisk yet

    report = await sync_testbed(db, testbed)

    assert "pjsip.conf" in report.changed and report.endpoints == 1
    assert (await phone.register())["code"] == 200
    assert testbed.pid() == pid
    shown = testbed.cli(f"pjsip show endpoint {subscriber.endpoint.username}")
    assert "accountcode" in shown and subscriber.account_code in shown


async def test_a_sync_with_nothing_new_changes_no_file(call_asterisk, db):
    await add_subscriber(db)
    await sync_testbed(db, call_asterisk.testbed)
    assert (await sync_testbed(db, call_asterisk.testbed)).changed == ()


async def test_asterisk_refuses_an_endpoint_outside_its_accounts_allowlist(call_asterisk, db, sip_phone):
    """The allowlist (10.1.2.0/24, 2001:db8::/32) does not contain the
    phone's 127.0.0.1: Asterisk's endpoint ACL refuses its REGISTER even
    with the right password (answered like a failed digest, so a scanner
    learns nothing); an allowlist holding 127.0.0.1 lets its phone in."""
    outside = await add_subscriber(db, allowed_networks=("10.1.2.0/24", "2001:db8::/32"))
    inside = await add_subscriber(db, allowed_networks=("127.0.0.0/8",))
    await sync_testbed(db, call_asterisk.testbed)

    refused = await sip_phone(outside.endpoint, registrar_port=call_asterisk.sip_port)
    with pytest.raises(SipPhoneError, match="registration refused"):
        await refused.register()
    log = call_asterisk.testbed.log_file.read_text().splitlines()
    assert any(f"sip:{outside.endpoint.username}@" in line and "Not match Endpoint ACL" in line for line in log)
    allowed = await sip_phone(inside.endpoint, registrar_port=call_asterisk.sip_port)
    assert (await allowed.register())["code"] == 200


async def test_a_new_did_enters_the_inbound_dialplan_with_its_number(call_asterisk, db):
    subscriber = await add_subscriber(db)
    await provisioning.add_did(db, number="40318880001", subscriber_id=subscriber.id)
    report = await sync_testbed(db, call_asterisk.testbed)
    assert report.dids == 1 and "extensions.conf" in report.changed
    shown = call_asterisk.testbed.cli("dialplan show 40318880001@from-carrier")
    assert "Stasis(clickphone-test,inbound,40318880001)" in shown


async def test_an_endpoint_whose_allowlist_cannot_be_read_is_left_out_rather_than_opened(db):
    """Fail closed: a stored allowlist that does not parse keeps its
    account's endpoints out of Asterisk (named in the report); the other
    endpoints are provisioned as usual."""
    from sqlalchemy import update

    from admission.tables import account_policies
    from controlplane.asterisk_sync import provisioned

    good = await add_subscriber(db, allowed_networks=("192.0.2.0/24",))
    bad = await add_subscriber(db)
    async with db.begin() as conn:
        await conn.execute(update(account_policies).where(account_policies.c.account_id == bad.account_id)
                           .values(allowed_networks="10.0.0.0/8 not-a-network"))
    data = await provisioned(db)
    assert [(e.username, e.permit) for e in data.endpoints] == [(good.endpoint.username, ("192.0.2.0/24",))]
    (left_out,) = data.left_out
    assert left_out.startswith(bad.endpoint.username) and "not-a-network" in left_out


async def test_an_external_asterisk_gets_a_new_endpoint_through_its_shared_config_folder_and_ari(
    call_asterisk, db, sip_phone
):
    """With an external Asterisk (setting ``asterisk_config_dir``) only the
    files the database drives are rewritten in the shared folder, and
    reloaded over ARI: the new endpoint registers without a restart, and
    the operator's other files (asterisk.conf, rendered here for Debian's
    paths) are not touched."""
    testbed = call_asterisk.testbed
    etc_dir = testbed.root / testbed.config.dirs.etc.lstrip("/")
    asterisk_conf_before = (etc_dir / "asterisk.conf").read_text()
    pid = testbed.pid()
    subscriber = await add_subscriber(db, balance=0)
    client = AriClient(call_asterisk.ari_url, call_asterisk.ari_username, call_asterisk.ari_password,
                       call_asterisk.settings.ari_app)
    try:
        report = await sync_external(db, replace(testbed.config, dirs=DEBIAN_DIRS), etc_dir, client)
    finally:
        await client.close()

    assert set(report.changed) <= {"pjsip.conf", "extensions.conf"} and "pjsip.conf" in report.changed
    assert (etc_dir / "asterisk.conf").read_text() == asterisk_conf_before
    phone = await sip_phone(subscriber.endpoint, registrar_port=call_asterisk.sip_port)
    assert (await phone.register())["code"] == 200
    assert testbed.pid() == pid
