"""Emails the running control plane raises about an account on its own
(not at an admin's request): the daily spend limit reached.

Accounts are billing's and subscribers provisioning's; who is told is
:func:`controlplane.recipients.account_contact`, in the Notifier's one
language rule.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.accounts import LEDGER_CURRENCY
from billing.money import from_micro
from notify.events import DailySpendLimitReached
from notify.notifier import Notifier, recipient_for
from sqlbase import utc_now

from .recipients import account_contact


async def emit_daily_limit_alert(
    engine: AsyncEngine, account_id: int, notifier: Notifier, *, now: datetime | None = None
) -> int | None:
    """Queue the ``DailySpendLimitReached`` email for the account through
    ``notifier`` (woken after the commit) and return its outbox id; the same
    id for every call on the same day in the operator's zone (one email a
    day: notify's dedup key). None when the account has no daily limit or
    no subscriber to tell.

    "Spent" counts today's charged usage and what live calls hold.
    """
    now = now or utc_now()
    async with engine.begin() as conn:
        account = await ledger.get_account(conn, account_id)
        if account.daily_limit_micro is None:
            return None
        contact = await account_contact(conn, account)
        if contact is None:
            return None
        spent = await ledger.spent_today_micro(conn, account_id, now) + await ledger.reserved_micro(
            conn, account_id, now)
        event = DailySpendLimitReached(to=recipient_for(contact), spent=from_micro(spent),
                                       limit=from_micro(account.daily_limit_micro), currency=LEDGER_CURRENCY, at=now)
        outbox_id = await notifier.notify(conn, event)
    notifier.wake()
    return outbox_id
