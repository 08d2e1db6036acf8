"""SIP passwords at rest (issue 10, defect 8): the database and pjsip.conf
keep only HA1 = MD5(user:realm:password), and a real phone still registers
with its password — and only with it — against the real Asterisk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from controlplane import migrate
from controlplane.asterisk_sync import sync_testbed
from controlplane.db import create_engine
from provisioning import services as provisioning
from provisioning.credentials import md5_cred
from tests.fixtures.asterisk import phone_endpoint
from tests.fixtures.sip_phone import SipPhoneError

from .support import add_subscriber

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(60)]


def pjsip_conf(call_asterisk) -> str:
    testbed = call_asterisk.testbed
    return (testbed.root / testbed.config.dirs.etc.lstrip("/") / "pjsip.conf").read_text()


def bytes_of_sqlite(engine) -> bytes:
    path = Path(engine.url.database)
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


async def test_a_phone_registers_with_its_password_though_only_its_digest_is_kept(call_asterisk, db, sip_phone):
    subscriber = await add_subscriber(db)
    endpoint = subscriber.endpoint
    await sync_testbed(db, call_asterisk.testbed)

    rendered = pjsip_conf(call_asterisk)
    assert endpoint.password not in rendered
    assert f"password_digest = MD5:{md5_cred(endpoint.username, 'clickphone', endpoint.password)}" in rendered
    assert endpoint.password.encode() not in bytes_of_sqlite(db)
    phone = await sip_phone(endpoint, registrar_port=call_asterisk.sip_port)
    assert (await phone.register())["code"] == 200


async def test_a_phone_with_a_wrong_password_is_refused(call_asterisk, db, sip_phone):
    subscriber = await add_subscriber(db)
    await sync_testbed(db, call_asterisk.testbed)
    wrong = replace(subscriber.endpoint, password=subscriber.endpoint.password[:-1] + "X")

    phone = await sip_phone(wrong, registrar_port=call_asterisk.sip_port)
    with pytest.raises(SipPhoneError, match="registration refused"):
        await phone.register()


async def test_each_endpoint_is_challenged_in_the_realm_its_digest_was_made_in(call_asterisk, db, sip_phone):
    """A realm change (setting sip_realm) applies to endpoints created
    afterwards; those made before keep theirs and still register."""
    subscriber = await add_subscriber(db)
    created = await provisioning.add_endpoint(
        db, subscriber_id=subscriber.id, username=f"{subscriber.endpoint.username}r", caller_id_number="2199",
        account_code=subscriber.account_code, realm="sip.example.net",
    )
    await sync_testbed(db, call_asterisk.testbed)

    assert "realm = sip.example.net" in pjsip_conf(call_asterisk)
    for endpoint in (subscriber.endpoint, phone_endpoint(
            created.username, created.password, created.display_name, created.caller_id_number,
            subscriber.account_code, realm="sip.example.net")):
        phone = await sip_phone(endpoint, registrar_port=call_asterisk.sip_port)
        assert (await phone.register())["code"] == 200


async def test_an_endpoint_from_before_the_migration_registers_with_its_old_password(
    call_asterisk, tmp_path, sip_phone
):
    """Migration 0008 turns stored passwords into digests: phones keep the
    passwords they have; the password leaves the database file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    password = "old-password-0007-kept"
    await migrate.upgrade(url, "0007")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO subscribers (id, name, email) VALUES (1, 'Ana', 'ana@example.com')"))
            await conn.execute(text(
                "INSERT INTO sip_endpoints (subscriber_id, username, password, display_name, caller_id_number)"
                " VALUES (1, 'old0007', :password, 'Ana', '2100')"), {"password": password})
    finally:
        await engine.dispose()

    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        [endpoint] = await provisioning.list_endpoints(engine)
        await sync_testbed(engine, call_asterisk.testbed)
        assert password.encode() not in bytes_of_sqlite(engine)
    finally:
        await engine.dispose()

    assert (endpoint.realm, endpoint.md5_cred) == ("clickphone", md5_cred("old0007", "clickphone", password))
    phone = await sip_phone(phone_endpoint("old0007", password, "Ana", "2100", "sub1"),
                            registrar_port=call_asterisk.sip_port)
    assert (await phone.register())["code"] == 200
