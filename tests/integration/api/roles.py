"""Users of each role with a personal API token, for the /api/v1 tests:
``bearer(engine, role)`` makes one (an account admin bound to ``account_id``)
and returns the Authorization header that speaks for it."""

from __future__ import annotations

import itertools

from access import tokens, users
from access.roles import ACCOUNT_ADMIN
from tests.integration.access.support import PASSWORD, cheap_hasher

_serial = itertools.count(1)


async def bearer(engine, role: str, account_id: int | None = None) -> dict[str, str]:
    """A new user of ``role`` (``account_id`` for an account admin) and the header of a token of theirs."""
    name = f"{role.replace('_', '-')}-{next(_serial)}"
    await users.create_user(engine, username=name, password=PASSWORD, role=role,
                            account_id=account_id if role == ACCOUNT_ADMIN else None, hasher=cheap_hasher())
    issued = await tokens.issue_token(engine, username=name, name="tests")
    return {"Authorization": f"Bearer {issued.token}"}
