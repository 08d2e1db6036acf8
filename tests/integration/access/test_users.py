"""Admin users and logins (issue 13, item 3), on SQLite and PostgreSQL:
argon2id hashes, the same path for unknown users, lockout per username and
per source address, rehash on login, and bounds naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from access import users
from access.errors import InvalidInput, LockedOut, LoginRefused, UnknownUser, UserExists
from access.lockout import FIRST_LOCK, THRESHOLD
from tests.integration.access.support import PASSWORD, T0, SpyingHasher, cheap_hasher


async def create(engine, username="ana", role="operator", **options):
    return await users.create_user(engine, username=username, password=PASSWORD, role=role,
                                   hasher=cheap_hasher(), **options)


async def login(engine, username="ana", password=PASSWORD, *, source="192.0.2.1", now=T0, hasher=None):
    return await users.verify_login(engine, username, password, source=source, now=now,
                                    hasher=hasher or cheap_hasher())


async def fail(engine, times, **options):
    for _ in range(times):
        with pytest.raises(LoginRefused):
            await login(engine, password="wrong password", **options)


async def test_the_right_password_logs_the_user_in(engine):
    """A named user logs in with their own password and gets their role back."""
    await create(engine)
    user = await login(engine)
    assert (user.username, user.role) == ("ana", "operator")


async def test_a_wrong_password_an_unknown_and_a_disabled_user_get_one_answer(engine):
    """A login tells nothing about which usernames exist or are disabled: one refusal for all."""
    await create(engine)
    await create(engine, "bob")
    await users.disable_user(engine, "bob")
    refusals = []
    for username, password in (("ana", "not her password"), ("nobody", PASSWORD), ("bob", PASSWORD)):
        with pytest.raises(LoginRefused) as refused:
            await login(engine, username, password, source=f"192.0.2.{len(refusals) + 10}")
        refusals.append(str(refused.value))
    assert len(set(refusals)) == 1


async def test_an_unknown_user_is_verified_against_a_dummy_hash(engine):
    """Constant-time behaviour: an unknown username costs one argon2 verify,
    like a known one, against a hash with the same parameters."""
    spy = SpyingHasher()
    with pytest.raises(LoginRefused):
        await login(engine, "nobody", hasher=spy)
    [checked] = spy.verified
    assert checked == users.dummy_hash_for(spy) and checked.startswith("$argon2id$")


async def test_five_failures_lock_the_username_until_the_lock_ends(engine):
    """After 5 failures in a row for one username (from any sources) even the
    right password is refused until the lock ends; then it logs in."""
    await create(engine)
    for n in range(THRESHOLD):
        await fail(engine, 1, source=f"198.51.100.{n}")
    with pytest.raises(LockedOut) as locked:
        await login(engine, source="203.0.113.9", now=T0 + timedelta(seconds=1))
    assert locked.value.until == T0 + FIRST_LOCK
    assert (await login(engine, source="203.0.113.9", now=T0 + FIRST_LOCK + timedelta(seconds=1))).username == "ana"


async def test_five_failures_from_one_source_lock_that_source_for_every_username(engine):
    """A source address guessing across usernames is locked out too; other sources are not."""
    await create(engine)
    for n in range(THRESHOLD):
        with pytest.raises(LoginRefused):
            await login(engine, f"guess{n}", source="198.51.100.7")
    with pytest.raises(LockedOut):
        await login(engine, source="198.51.100.7")
    assert (await login(engine, source="192.0.2.55")).username == "ana"


async def test_the_lock_grows_with_each_failure_after_it(engine):
    """A failure once a lock ended locks again, for twice as long."""
    await create(engine)
    await fail(engine, THRESHOLD)
    after_first = T0 + FIRST_LOCK
    await fail(engine, 1, now=after_first)
    with pytest.raises(LockedOut) as locked:
        await login(engine, now=after_first + timedelta(seconds=1))
    assert locked.value.until == after_first + 2 * FIRST_LOCK


async def test_a_success_resets_the_count(engine):
    """Four failures, a success, four failures: never locked (failures must be in a row)."""
    await create(engine)
    await fail(engine, THRESHOLD - 1)
    await login(engine)
    await fail(engine, THRESHOLD - 1)
    assert (await login(engine)).username == "ana"


async def test_a_login_rehashes_a_password_hashed_with_older_parameters(engine):
    """When argon2's parameters change, the next successful login stores a new hash."""
    await users.create_user(engine, username="ana", password=PASSWORD, role="operator",
                            hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    await login(engine, hasher=stronger)
    spy = SpyingHasher(time_cost=2, memory_cost=16)
    await login(engine, hasher=spy)
    assert "t=2" in spy.verified[0] and "m=16" in spy.verified[0]


async def test_a_disabled_user_cannot_log_in_and_a_second_disable_keeps_the_first_time(engine):
    """Disabling stops logins at once; the time it happened stays the first one."""
    await create(engine)
    _, disabled = await users.disable_user(engine, "ana", now=T0)
    before, again = await users.disable_user(engine, "ana", now=T0 + timedelta(days=1))
    assert disabled.disabled_at == again.disabled_at == T0 and before == again
    with pytest.raises(LoginRefused):
        await login(engine)


async def test_a_username_is_taken_once(engine):
    """Two users cannot share a username."""
    await create(engine)
    with pytest.raises(UserExists) as refused:
        await create(engine, role="auditor")
    assert refused.value.field == "username"


async def test_set_password_replaces_the_old_one(engine):
    """After a new password, the old one no longer logs in."""
    await create(engine)
    await users.set_password(engine, "ana", "a brand new passphrase", hasher=cheap_hasher())
    with pytest.raises(LoginRefused):
        await login(engine)
    assert (await login(engine, password="a brand new passphrase", source="192.0.2.2")).username == "ana"


async def test_get_and_list(engine):
    """Users are listed by username; an unknown one is refused naming the field."""
    await create(engine, "zed")
    await create(engine, "amy", role="account_admin", account_id=3)
    assert [(u.username, u.account_id) for u in await users.list_users(engine)] == [("amy", 3), ("zed", None)]
    with pytest.raises(UnknownUser) as unknown:
        await users.get_user(engine, "nobody")
    assert unknown.value.field == "username"


@pytest.mark.parametrize(("options", "field"), [
    ({"username": "Ana"}, "username"),
    ({"username": "ab"}, "username"),
    ({"username": "a" * 65}, "username"),
    ({"username": "ana;drop"}, "username"),
    ({"password": "short"}, "password"),
    ({"password": "x" * 257}, "password"),
    ({"role": "root"}, "role"),
    ({"role": "account_admin"}, "account"),
    ({"role": "operator", "account_id": 4}, "account"),
    ({"role": "account_admin", "account_id": 0}, "account"),
])
async def test_bad_input_is_refused_naming_the_field(engine, options, field):
    """Bounds on every string from outside: usernames 3–64 of [a-z0-9._-],
    passwords 12–256 characters, a known role, an account only for an account admin."""
    values = {"username": "ana", "password": PASSWORD, "role": "operator", **options}
    with pytest.raises(InvalidInput) as refused:
        await users.create_user(engine, hasher=cheap_hasher(), **values)
    assert refused.value.field == field


@pytest.mark.parametrize(("username", "password", "source", "field"), [
    ("x" * 65, PASSWORD, "192.0.2.1", "username"),
    ("ana", "p" * 257, "192.0.2.1", "password"),
    ("ana", PASSWORD, "s" * 65, "source"),
    ("ana", PASSWORD, "", "source"),
])
async def test_a_login_with_out_of_bounds_input_is_refused_naming_the_field(engine, username, password, source, field):
    """A login's username, password and source address are bounded before any work is done."""
    with pytest.raises(InvalidInput) as refused:
        await users.verify_login(engine, username, password, source=source, hasher=cheap_hasher())
    assert refused.value.field == field
