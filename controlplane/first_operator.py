"""The first console login: on a start with no operator user, the user
``operator`` (role operator) is created with a generated password, kept in
<state_dir>/secrets.toml (0600) next to the other generated secrets, and
shown on that start's banner. Later starts only point at secrets.toml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sqlalchemy.ext.asyncio import AsyncEngine

from access import audit, users
from access.errors import UserExists

from .settings import SECRETS_FILE, read_secrets, store_secrets

FIRST_OPERATOR = "operator"
SECRET_NAME = "operator_password"
SYSTEM_ACTOR = audit.Actor(name=audit.SYSTEM, source=audit.SYSTEM)


@dataclass(frozen=True)
class FirstLogin:
    """The console's first login: ``password`` only on the start that created it."""

    username: str
    password: Optional[str]
    secrets_file: Path


async def ensure_first_operator(engine: AsyncEngine, state_dir: Path) -> Optional[FirstLogin]:
    """Create ``operator`` when no operator user exists (audited, actor
    ``system``); return its login with the password when created here, with
    None when it was created before, or None when another operator exists."""
    secrets_file = state_dir / SECRETS_FILE
    operators = [user.username for user in await users.list_users(engine) if user.role == "operator"]
    if operators:
        ours = FIRST_OPERATOR in operators and SECRET_NAME in read_secrets(state_dir)
        return FirstLogin(FIRST_OPERATOR, None, secrets_file) if ours else None
    stored = read_secrets(state_dir)
    if SECRET_NAME not in stored:
        # written before the user exists: a crash in between never loses the password
        stored[SECRET_NAME] = users.generated_password()
        store_secrets(state_dir, stored)
    try:
        async with engine.begin() as conn:
            await users.create_user(conn, username=FIRST_OPERATOR, password=stored[SECRET_NAME], role="operator")
            await audit.record(conn, SYSTEM_ACTOR, action="create", resource="user", resource_id=FIRST_OPERATOR,
                               changes=audit.changed(None, {"role": "operator", "account_id": None}))
    except UserExists:  # another process's start made it first, or a non-operator "operator"
        return None
    return FirstLogin(FIRST_OPERATOR, stored[SECRET_NAME], secrets_file)
