"""Personal API tokens (issue 13, item 3), on SQLite and PostgreSQL: shown
once, stored hashed, revocable with immediate effect, last use recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from access import tokens, users
from access.errors import InvalidInput, TokenRejected, TooManyTokens, UnknownToken
from tests.integration.access.support import PASSWORD, T0, cheap_hasher


@pytest.fixture
async def ana(engine):
    return await users.create_user(engine, username="ana", password=PASSWORD, role="account_admin",
                                   account_id=12, hasher=cheap_hasher())


async def test_a_token_speaks_for_its_user_and_records_its_last_use(engine, ana):
    """A new token is ``cpt_`` + 43 URL-safe characters (32 random bytes);
    it authenticates as its user with their role and account, and its use is noted."""
    issued = await tokens.issue_token(engine, username="ana", name="pbx script", now=T0)
    assert issued.token.startswith("cpt_") and len(issued.token) == 47

    principal = await tokens.authenticate(engine, issued.token, now=T0 + timedelta(hours=1))

    assert (principal.username, principal.role, principal.account_id) == ("ana", "account_admin", 12)
    [listed] = await tokens.list_tokens(engine, "ana")
    assert listed.last_used_at == T0 + timedelta(hours=1) and listed.name == "pbx script"


async def test_a_revoked_token_fails_at_once(engine, ana):
    """Revoking a token stops it with the very next request; its twin keeps working."""
    issued = await tokens.issue_token(engine, username="ana", name="old")
    other = await tokens.issue_token(engine, username="ana", name="new")
    await tokens.authenticate(engine, issued.token)

    await tokens.revoke_token(engine, issued.info.id)

    with pytest.raises(TokenRejected):
        await tokens.authenticate(engine, issued.token)
    assert (await tokens.authenticate(engine, other.token)).token_id == other.info.id


async def test_a_disabled_users_tokens_fail(engine, ana):
    """Disabling a user stops every token they hold."""
    issued = await tokens.issue_token(engine, username="ana", name="pbx")
    await users.disable_user(engine, "ana")
    with pytest.raises(TokenRejected):
        await tokens.authenticate(engine, issued.token)


@pytest.mark.parametrize("presented", ["", "cpt_", "cpt_" + "A" * 43, "Bearer x", "cpt_" + "x" * 200])
async def test_a_malformed_or_unknown_token_is_rejected(engine, ana, presented):
    """Anything but a live token gets one answer, whatever its shape or length."""
    await tokens.issue_token(engine, username="ana", name="pbx")
    with pytest.raises(TokenRejected):
        await tokens.authenticate(engine, presented)


async def test_revoking_twice_keeps_the_first_time_and_an_unknown_id_is_refused(engine, ana):
    """A revocation is dated once; an id that names no token is refused naming the field."""
    issued = await tokens.issue_token(engine, username="ana", name="pbx")
    _, first = await tokens.revoke_token(engine, issued.info.id, now=T0)
    _, second = await tokens.revoke_token(engine, issued.info.id, now=T0 + timedelta(days=1))
    assert first.revoked_at == second.revoked_at == T0
    with pytest.raises(UnknownToken) as unknown:
        await tokens.revoke_token(engine, 999)
    assert unknown.value.field == "id"


@pytest.mark.parametrize("name", ["", "n" * 65, "tab\there"])
async def test_a_token_name_is_bounded(engine, ana, name):
    """A token's name is 1–64 printable characters."""
    with pytest.raises(InvalidInput) as refused:
        await tokens.issue_token(engine, username="ana", name=name)
    assert refused.value.field == "name"


async def test_a_user_holds_a_bounded_number_of_live_tokens(engine, ana):
    """Past MAX_LIVE_TOKENS_PER_USER live tokens a new one is refused; revoking one makes room."""
    issued = [await tokens.issue_token(engine, username="ana", name=f"t{n}")
              for n in range(tokens.MAX_LIVE_TOKENS_PER_USER)]
    with pytest.raises(TooManyTokens):
        await tokens.issue_token(engine, username="ana", name="one more")
    await tokens.revoke_token(engine, issued[0].info.id)
    await tokens.issue_token(engine, username="ana", name="one more")
