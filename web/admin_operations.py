"""The admin operations that span owners or cause an email, composed once
for the admin API, the CLI and the console.

Each opens one transaction and calls the owning packages' services on its
connection, so what an operation changes commits or rolls back as one: a
subscriber with its SIP endpoint (provisioning) and its billing account
(billing); a top-up (billing) or an allowlist change (admission) with the
email telling the subscriber (notify's outbox, through the Notifier). The
checks are the owners'; their refusals are their own errors, which the
callers turn into AdminErrors with :func:`web.admin_input.refusals`.

Operations with one owner and no email (a DID, a SIP password reset, a
reinstatement) are that owner's functions, called directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from admission import service as admission_service
from admission.policy import AccountPolicy, policy_changes
from billing import ledger, subscriptions, suspensions, top_ups
from billing.errors import InvalidSubscriptionError
from billing.accounts import DEFAULT_TARIFF, LEDGER_CURRENCY, PREPAID
from billing.money import from_micro
from billing.tariff_store import stored_plan_names
from notify.events import AllowedIpsChanged, Event, Recipient, TopUp
from notify.notifier import Contact, Notifier, recipient_for
from provisioning import services as provisioning
from provisioning.credentials import DEFAULT_REALM
from provisioning.records import Endpoint, Subscriber
from sqlbase import Db, utc_now

from .admin_input import InvalidInputError, checked_account_kind, checked_language, shown

AccountContact = Callable[[Db, ledger.Account], Awaitable[Contact | None]]
"""Finds who is told about an account (its subscriber), or None; the
composition's ``controlplane.recipients.account_contact``, which may read
both billing's accounts and provisioning's subscribers."""
EndCalls = Callable[[int], Awaitable[int]]
"""Ends an account's live calls now and returns how many it ended (the ARI
call controller's ``end_calls``)."""


@dataclass(frozen=True)
class AccountEmails:
    """How an admin operation tells an account's subscriber: the Notifier
    (render, outbox, wake) and the lookup of who the subscriber is."""

    notifier: Notifier
    account_contact: AccountContact

    async def queue(self, conn: AsyncConnection, account: ledger.Account,
                    event_for: Callable[[Recipient], Event]) -> int | None:
        """Queue ``event_for(recipient)`` in ``conn``'s transaction and
        return its outbox id; None when the account has nobody to tell.
        The caller calls ``notifier.wake()`` after the commit."""
        contact = await self.account_contact(conn, account)
        if contact is None:
            return None
        return await self.notifier.notify(conn, event_for(recipient_for(contact)))


# -- subscribers ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewSubscriber:
    """What :func:`create_subscriber` made. The endpoint's password is in
    ``endpoint.password`` (shown once to the admin; kept out of reprs)."""

    subscriber: Subscriber
    endpoint: Endpoint
    account: ledger.Account


async def create_subscriber(
    engine: AsyncEngine,
    *,
    name: str,
    email: str,
    username: str,
    caller_id_number: str,
    account_code: str,
    language: str = "ro",
    display_name: str | None = None,
    password: str | None = None,
    kind: str = PREPAID,
    credit_limit_micro: int = 0,
    daily_limit_micro: int | None = None,
    tariff: str = DEFAULT_TARIFF,
    realm: str = DEFAULT_REALM,
    plan: str | None = None,
    plan_start: date | None = None,
    now: datetime | None = None,
) -> NewSubscriber:
    """Create a subscriber, its SIP endpoint (``username``; a strong password
    is generated unless given, and only its digest credential in ``realm``
    is stored) and its billing account (``account_code``, the endpoint's CDR
    accountcode), all or nothing; with ``plan``, the account is on that
    service plan from ``plan_start`` (default: today, Europe/Bucharest)."""
    checked_language(language)
    checked_account_kind(kind)
    if plan is None and plan_start is not None:
        raise InvalidInputError("plan_start", "is the first day of a plan: give the plan too")
    now = now or utc_now()
    async with engine.begin() as conn:
        plans = await stored_plan_names(conn)
        if tariff not in plans:
            raise InvalidInputError("tariff", f"no tariff plan {shown(tariff)}; stored plans: {', '.join(plans)}")
        subscriber = await provisioning.create_subscriber(conn, name=name, email=email, language=language)
        endpoint = await provisioning.add_endpoint(
            conn, subscriber_id=subscriber.id, username=username, caller_id_number=caller_id_number,
            display_name=display_name, password=password, account_code=account_code, realm=realm,
        )
        account = await ledger.open_account(
            conn, code=account_code, kind=kind, credit_limit_micro=credit_limit_micro,
            daily_limit_micro=daily_limit_micro, tariff=tariff, language=language, subscriber_id=subscriber.id,
            now=now,
        )
        if plan is not None:
            await subscriptions.subscribe(conn, account.id, plan, now=now,
                                          start_day=plan_start or subscriptions.contract_day(now))
    return NewSubscriber(subscriber, endpoint, account)


# -- accounts ------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSummary:
    """An account as an admin sees it."""

    account: ledger.Account
    balance_micro: int
    available_micro: int
    spent_today_micro: int
    policy: AccountPolicy
    live_calls: int
    plans: list[subscriptions.Subscription]
    today: date  # Europe/Bucharest: the day ``plans`` are read on
    suspension: suspensions.Suspension | None = None  # the one that still lasts


async def account_summary(engine: AsyncEngine, account_id: int, *, now: datetime | None = None) -> AccountSummary:
    """Return the account with its money, its service plans' history and
    its open suspension (billing), its call policy and its live-call count
    (admission)."""
    now = now or utc_now()
    async with engine.connect() as conn:
        account = await ledger.get_account(conn, account_id)
        balance = await ledger.balance_micro(conn, account_id)
        held = await ledger.reserved_micro(conn, account_id, now)
        spent = await ledger.spent_today_micro(conn, account_id, now)
        policy = await admission_service.account_policy(conn, account_id)
        plans = await subscriptions.plan_history(conn, account_id)
        suspension = await suspensions.open_suspension(conn, account_id)
    admission = admission_service.Admission(engine)
    try:
        live = await admission.live_call_refs(account_id)
    finally:
        admission.close()  # its worker's engines, not the caller's
    return AccountSummary(account, balance, balance + account.credit_limit_micro - held, spent, policy, len(live),
                          plans, subscriptions.contract_day(now), suspension)


@dataclass(frozen=True)
class TopUpResult:
    """What :func:`top_up` did: the entry, the balance after it, and the
    outbox id of the TopUp email when one was queued."""

    entry: ledger.LedgerEntry
    balance_micro: int
    outbox_id: int | None  # the TopUp email, when one was queued


async def top_up(
    engine: AsyncEngine,
    account_id: int,
    amount_micro: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    emails: AccountEmails | None = None,
    now: datetime | None = None,
) -> TopUpResult:
    """Credit the account with ``amount_micro`` (0 < amount <= 100,000 EUR);
    with ``emails``, also queue the TopUp email to its subscriber in the
    same transaction, one per ledger entry (its dedup key is the entry's id,
    never the ``reference``). With an ``idempotency_key`` already used for
    the same top-up, the first entry is returned: nothing is added, no email
    queued."""
    now = now or utc_now()
    async with engine.begin() as conn:
        credit = await top_ups.credit_top_up(conn, account_id, amount_micro, reference=reference,
                                             idempotency_key=idempotency_key, now=now)
        outbox_id = None
        if emails is not None and not credit.replayed:
            entry, balance = credit.entry, credit.balance_micro
            outbox_id = await emails.queue(conn, await ledger.get_account(conn, account_id), lambda to: TopUp(
                to=to, reference=reference or f"entry-{entry.id}", amount=from_micro(amount_micro),
                balance_after=from_micro(balance), currency=LEDGER_CURRENCY, at=entry.created_at, entry_id=entry.id))
    if outbox_id is not None:
        emails.notifier.wake()  # committed: send it now, not at the dispatcher's next poll
    return TopUpResult(credit.entry, credit.balance_micro, outbox_id)


@dataclass(frozen=True)
class PolicyChange:
    """The policy now in force; when the allowed-IP list changed, the id of
    that change and of the email telling the subscriber."""

    policy: AccountPolicy
    allowed_ips_change_id: str | None = None
    outbox_id: int | None = None


async def set_account_policy(
    engine: AsyncEngine,
    account_id: int,
    *,
    emails: AccountEmails,
    allowed_networks: Iterable[str] | str | None = None,
    premium_enabled: bool | None = None,
    international_enabled: bool | None = None,
    blocked_prefixes: Iterable[str] | str | None = None,
    max_concurrent_calls: int | None = None,
    changed_by: str = "admin",
    now: datetime | None = None,
) -> PolicyChange:
    """Change the account's call policy; fields left None keep their value
    (each checked by :func:`admission.policy.policy_changes`).

    When the allowed-IP list changes, an ``AllowedIpsChanged`` email to the
    subscriber is queued in the same transaction.
    """
    changes = policy_changes(
        allowed_networks=allowed_networks, premium_enabled=premium_enabled,
        international_enabled=international_enabled, blocked_prefixes=blocked_prefixes,
        max_concurrent_calls=max_concurrent_calls,
    )
    now = now or utc_now()
    async with engine.begin() as conn:
        update = await admission_service.change_account_policy(conn, account_id, changes)
        if update.after.allowed_networks == update.before.allowed_networks:
            return PolicyChange(update.after)
        change_id = uuid.uuid4().hex
        old = [str(n) for n in update.before.allowed_networks]
        new = [str(n) for n in update.after.allowed_networks]
        old_set, new_set = set(old), set(new)
        outbox_id = await emails.queue(conn, update.account, lambda to: AllowedIpsChanged(
            to=to, change_id=change_id, added=tuple(n for n in new if n not in old_set),
            removed=tuple(n for n in old if n not in new_set), current=tuple(new), changed_at=now,
            changed_by=changed_by))
    if outbox_id is not None:
        emails.notifier.wake()  # committed: send it now, not at the dispatcher's next poll
    return PolicyChange(update.after, change_id, outbox_id)


async def suspend_account(engine: AsyncEngine, account_id: int, end_calls: EndCalls, *, cause: str,
                          note: str | None = None) -> tuple[suspensions.Suspension, int]:
    """Suspend the account for ``cause`` (only 112, 116xxx and 0800 still
    connect; :func:`billing.suspensions.suspend`), end its live calls with
    ``end_calls`` and return the open suspension and how many calls it ended."""
    suspension = await suspensions.suspend(engine, account_id, cause, note)
    return suspension, await end_calls(account_id)


async def end_plan(engine: AsyncEngine, account_id: int, last_day: date) -> list[subscriptions.Subscription]:
    """End account ``account_id``'s service plan after ``last_day`` (its last
    day on it; that month pro-rated by days of service) and return its
    history of plans. The owner counts the first day without a plan
    (``until_day``); its refusal is named ``last_day`` here, as the admin
    surfaces call it."""
    if last_day >= date.max:  # no day after it to be the first without a plan
        raise InvalidInputError("last_day", f"must be before {date.max.isoformat()}")
    try:
        await subscriptions.end_subscription(engine, account_id, until_day=last_day + timedelta(days=1))
    except InvalidSubscriptionError as exc:
        raise InvalidInputError("last_day", str(exc).removeprefix(f"{exc.field}: ")) from exc
    return await subscriptions.plan_history(engine, account_id)
