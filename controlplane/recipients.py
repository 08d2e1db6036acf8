"""The recipient directory the Notifier is given: accounts are billing's,
subscribers provisioning's, and only the composition may read both."""

from __future__ import annotations

import logging

from billing import ledger
from notify.notifier import Contact
from provisioning import services as provisioning
from sqlbase import Db

log = logging.getLogger(__name__)


async def account_contact(db: Db, account: ledger.Account) -> Contact | None:
    """The account's subscriber, with the account's language; None when
    the account has no subscriber."""
    if account.subscriber_id is None:
        return None
    subscriber = await provisioning.find_subscriber(db, account.subscriber_id)
    if subscriber is None:
        return None
    return Contact(account_id=account.id, email=subscriber.email,
                   account_language=account.language, subscriber_language=subscriber.language)


class AccountDirectory:
    """Looks up contacts through billing's and provisioning's services."""

    async def contact_of_subscriber(self, db: Db, subscriber_id: int) -> Contact | None:
        """The subscriber, with the billing account of their first endpoint
        (by username) whose account code is an account; the email still goes
        without one."""
        subscriber = await provisioning.find_subscriber(db, subscriber_id)
        if subscriber is None:
            return None
        account = None
        for endpoint in await provisioning.endpoints_of_subscriber(db, subscriber_id):
            if endpoint.account_code:
                account = await ledger.find_account(db, endpoint.account_code)
                if account is not None:
                    break
        if account is None:
            log.warning("subscriber %s has no billing account: email sent without one", subscriber_id)
        return Contact(account_id=None if account is None else account.id, email=subscriber.email,
                       account_language=None if account is None else account.language,
                       subscriber_language=subscriber.language)
