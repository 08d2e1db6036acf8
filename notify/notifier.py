"""The Notifier: the one object every producer of an email is given.

A producer (a call flow, an admin operation, the invoice run, admission's
alerts) turns what happened into an event (:mod:`notify.events`) and hands
it to :meth:`Notifier.notify`, inside its own transaction when the email
must commit with the change. The Notifier renders it in the recipient's
language, queues it in the durable outbox (idempotent by its dedup key,
invariant 5) and wakes the dispatcher.

Who receives an account's emails, and in which language, is decided once,
here (:func:`recipient_for`); the lookup of the account and its subscriber
belongs to the packages that own them and is injected as a
:class:`RecipientDirectory` (notify imports neither billing nor
provisioning).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from notify.events import Event, Recipient, enqueue_event
from notify.render import Renderer, language_of
from sqlbase import Db


@dataclass(frozen=True)
class Contact:
    """What the owners of accounts and subscribers know about who to tell:
    plain data, looked up by a :class:`RecipientDirectory`."""

    account_id: int | None
    email: str
    account_language: str | None = None
    subscriber_language: str | None = None


def language_for(account_language: str | None, subscriber_language: str | None) -> str:
    """The one language rule for everything sent or issued to an account:
    the account's language when it has one (the contract is with the
    account), else the subscriber's; anything unsupported is Romanian."""
    return language_of(account_language or subscriber_language)


def recipient_for(contact: Contact) -> Recipient:
    """Return the recipient of ``contact``'s emails, in :func:`language_for`'s language."""
    return Recipient(account_id=contact.account_id, email=contact.email,  # type: ignore[arg-type]
                     language=language_for(contact.account_language, contact.subscriber_language))


class RecipientDirectory(Protocol):
    """Finds who to tell; implemented where accounts and subscribers are
    both readable (the composition), injected into the Notifier."""

    async def contact_of_subscriber(self, db: Db, subscriber_id: int) -> Contact | None:
        """The subscriber as a contact, with the billing account of their
        first endpoint that has one; None for an unknown subscriber."""


class Notifier:
    """Renders events, queues them in the outbox and wakes the dispatcher.

    ``wake`` is the dispatcher's event (None in a process without one, such
    as the CLI: the running control plane's dispatcher polls the outbox)."""

    def __init__(self, renderer: Renderer, directory: RecipientDirectory | None = None,
                 wake: asyncio.Event | None = None) -> None:
        self.renderer = renderer
        self._directory = directory
        self._wake = wake

    async def notify(self, db: Db, event: Event) -> int:
        """Queue the email for ``event`` and return its outbox id (the same
        id again for an event already queued). Given an engine, the email is
        committed and the dispatcher woken; given a connection, it commits
        with the caller's transaction, who calls :meth:`wake` after."""
        email_id = await enqueue_event(db, event, self.renderer)
        if isinstance(db, AsyncEngine):
            self.wake()
        return email_id

    def wake(self) -> None:
        """Tell the dispatcher an email is waiting (after a commit)."""
        if self._wake is not None:
            self._wake.set()

    async def recipient_for_subscriber(self, db: Db, subscriber_id: int) -> Recipient | None:
        """Who is told about subscriber ``subscriber_id``'s calls; None when nobody is."""
        contact = await self._require_directory().contact_of_subscriber(db, subscriber_id)
        return None if contact is None or not contact.email else recipient_for(contact)

    def _require_directory(self) -> RecipientDirectory:
        if self._directory is None:
            raise RuntimeError("this Notifier was built without a recipient directory")
        return self._directory
