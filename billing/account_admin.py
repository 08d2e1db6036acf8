"""An account as an admin changes it: its credit limit and daily limit,
and which accounts a subscriber holds (whose plans end with their contract).

Engine-or-connection, as :mod:`billing.ledger`: given the connection of an
audited change it joins that transaction. The bounds are the ones an
account is opened with (:func:`billing.ledger.open_account`)."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from billing.accounts import PREPAID
from billing.errors import InvalidAmountError
from billing.ledger import ACCOUNT_COLUMNS, MAX_LIMIT_MICRO, Account, account_from, locked_account, require_micro
from billing.money import format_micro
from billing.tables import accounts
from sqlbase import Db, transaction


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()
"""A limit left as it is (None is a value for the daily limit: no limit)."""


async def set_limits(db: Db, account_id: int, *, credit_limit_micro: int | _Unchanged = UNCHANGED,
                     daily_limit_micro: int | None | _Unchanged = UNCHANGED) -> tuple[Account, Account]:
    """Set the account's credit limit and/or daily limit (None: no daily
    limit; each from 0 to 100,000 EUR) and return the account before and
    after. A prepaid account has no credit limit. Raise
    :class:`UnknownAccountError` or :class:`InvalidAmountError` naming the field."""
    values: dict[str, int | None] = {}
    if not isinstance(credit_limit_micro, _Unchanged):
        require_micro("credit_limit_micro", credit_limit_micro, minimum=0, maximum=MAX_LIMIT_MICRO)
        values["credit_limit_micro"] = credit_limit_micro
    if not isinstance(daily_limit_micro, _Unchanged):
        if daily_limit_micro is not None:
            require_micro("daily_limit_micro", daily_limit_micro, minimum=0, maximum=MAX_LIMIT_MICRO)
        values["daily_limit_micro"] = daily_limit_micro
    async with transaction(db) as conn:
        before = await locked_account(conn, account_id)
        if before.kind == PREPAID and values.get("credit_limit_micro"):
            raise InvalidAmountError("a prepaid account has no credit limit", field="credit_limit")
        if not values:
            return before, before
        row = (await conn.execute(accounts.update().where(accounts.c.id == account_id).values(values)
                                  .returning(*ACCOUNT_COLUMNS))).one()
    return before, account_from(row)


def limits_view(account: Account) -> dict[str, str | None]:
    """An account's limits as an audit entry records them (decimal strings; None: no daily limit)."""
    daily = account.daily_limit_micro
    return {"credit_limit": format_micro(account.credit_limit_micro),
            "daily_limit": None if daily is None else format_micro(daily)}


async def accounts_of_subscriber(db: Db, subscriber_id: int) -> list[Account]:
    """Return the accounts opened for ``subscriber_id`` (theirs alone; a
    business account other subscribers' endpoints share is not), by id."""
    async with transaction(db) as conn:
        rows = await conn.execute(select(*ACCOUNT_COLUMNS).where(accounts.c.subscriber_id == subscriber_id)
                                  .order_by(accounts.c.id))
        return [account_from(row) for row in rows]
