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

Each takes a ``Db``: given an engine it commits its own transaction; given
the connection of an audited change (:func:`web.audited.audited_change`)
it joins it, so the change and its audit entry commit as one. Their
post-commit wakes then come early, which is harmless: the audited change
wakes the outbox again after its commit.
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
from billing.invoicing import one_off
from billing.invoicing.records import Invoice
from billing.invoicing.service import InvoicingService
from billing.invoicing.supplier import Supplier
from billing.money import from_micro
from billing.tariff_store import stored_plan_names
from notify.events import AllowedIpsChanged, Event, Recipient, TopUp
from notify.notifier import Contact, Notifier, recipient_for
from provisioning import services as provisioning
from provisioning.credentials import DEFAULT_REALM
from provisioning.records import Endpoint, Subscriber
from sqlbase import Db, transaction, utc_now

from .admin_input import MAX_CHARGES, ConflictError, NotFoundError, ChargeRequest, InvalidInputError, checked_account_kind, checked_language, shown

AccountContact = Callable[[Db, ledger.Account], Awaitable[Contact | None]]
"""Finds who is told about an account (its subscriber), or None; the
composition's ``controlplane.recipients.account_contact``, which may read
both billing's accounts and provisioning's subscribers."""
EndCalls = Callable[[int], Awaitable[int]]
"""Ends an account's live calls now and returns how many it ended (the ARI
call controller's ``end_calls``)."""
EndCall = Callable[[str], Awaitable[bool]]
"""Ends one live call (by its reference) now; False when this process does
not own it (the ARI call controller's ``end_call``)."""


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
    ``endpoint.password`` (shown once to the admin; kept out of reprs);
    ``invoice`` is the one-off invoice issued with it, if any."""

    subscriber: Subscriber
    endpoint: Endpoint
    account: ledger.Account
    invoice: Invoice | None = None


@dataclass(frozen=True)
class OneOffInvoicing:
    """How one-off invoices are issued: the invoicing service (its customer
    lookup and email hooks), the supplier printed on them and whether a new
    subscriber with one-off charges stays inactive until paid by default
    (the setting ``activation_requires_payment``)."""

    invoicing: InvoicingService
    supplier: Supplier
    activation_requires_payment: bool = False


def checked_charges(charges: Iterable[ChargeRequest]) -> list[ChargeRequest]:
    """Return ``charges`` checked (at most :data:`MAX_CHARGES`); an
    InvalidInputError naming ``charges[i].<field>`` otherwise."""
    listed = list(charges)
    if len(listed) > MAX_CHARGES:
        raise InvalidInputError("charges", f"at most {MAX_CHARGES} one-off charges, not {len(listed)}")
    checked = []
    for index, charge in enumerate(listed):
        try:
            text, quantity, price = one_off.checked_charge(charge.description, charge.quantity,
                                                           charge.unit_price_micro)
        except one_off.InvalidOneOffChargeError as exc:
            raise InvalidInputError(f"charges[{index}].{exc.field}",
                                    str(exc).removeprefix(f"{exc.field}: ")) from exc
        checked.append(ChargeRequest(text, price, quantity))
    return checked


async def _setup_fee(conn: AsyncConnection, plan: str, day: date) -> ChargeRequest | None:
    """The plan's set-up fee on ``day`` as a charge request; None without one."""
    fee = await one_off.setup_fee_charge(conn, plan, day)
    return None if fee is None else ChargeRequest(*fee)


async def create_subscriber(
    db: Db,
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
    charges: Iterable[ChargeRequest] = (),
    inactive_until_paid: bool | None = None,
    one_off_invoicing: OneOffInvoicing | None = None,
    now: datetime | None = None,
) -> NewSubscriber:
    """Create a subscriber, its SIP endpoint (``username``; a strong password
    is generated unless given, and only its digest credential in ``realm``
    is stored) and its billing account (``account_code``, the endpoint's CDR
    accountcode), all or nothing; with ``plan``, the account is on that
    service plan from ``plan_start`` (default: today, Europe/Bucharest).

    The plan's set-up fee (of its version on the first day) and ``charges``
    (equipment...) become one-off charges, invoiced in advance today on one
    one-off invoice, in the same transaction, emailed through
    ``one_off_invoicing`` (contract art. 7.1.1). With that invoice, the
    account starts ``inactive`` until it is paid when ``inactive_until_paid``
    says so (None: the operator's setting)."""
    checked_language(language)
    checked_account_kind(kind)
    if plan is None and plan_start is not None:
        raise InvalidInputError("plan_start", "is the first day of a plan: give the plan too")
    wanted = checked_charges(charges)
    if inactive_until_paid is not None and not isinstance(inactive_until_paid, bool):
        raise InvalidInputError("inactive_until_paid", "true or false")
    now = now or utc_now()
    invoice = None
    async with transaction(db) as conn:
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
            start_day = plan_start or subscriptions.contract_day(now)
            await subscriptions.subscribe(conn, account.id, plan, now=now, start_day=start_day)
            setup = await _setup_fee(conn, plan, start_day)
            wanted = ([setup] if setup is not None else []) + wanted
        if wanted:
            invoice = await _invoice_in_advance(conn, account.id, wanted, inactive_until_paid,
                                                one_off_invoicing, now)
            account = await ledger.get_account(conn, account.id)
    if invoice is not None and one_off_invoicing is not None:
        one_off_invoicing.invoicing.committed()  # the invoice's email waits in the outbox
    return NewSubscriber(subscriber, endpoint, account, invoice)


async def _invoice_in_advance(conn: AsyncConnection, account_id: int, charges: list[ChargeRequest],
                              inactive_until_paid: bool | None, how: OneOffInvoicing | None,
                              now: datetime) -> Invoice | None:
    """Record ``charges`` and issue their one-off invoice today, in ``conn``'s transaction."""
    if how is None:
        raise InvalidInputError("charges", "one-off charges cannot be invoiced here (no invoicing service)")
    terms = await one_off.one_off_terms(
        conn, supplier=how.supplier, now=now, customers=how.invoicing.hooks.customers,
        on_issued=how.invoicing.hooks.on_issued,
    )
    for charge in charges:
        await one_off.add_one_off_charge(conn, account_id, description=charge.description,
                                         unit_price_micro=charge.unit_price_micro, quantity=charge.quantity, now=now)
    inactive = how.activation_requires_payment if inactive_until_paid is None else inactive_until_paid
    return await one_off.store_one_off_invoice(conn, terms, account_id, inactive_until_paid=inactive)


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
    reserved_micro: int = 0  # held by live reservations (calls in progress)


async def account_summary(engine: AsyncEngine, account_id: int, *, now: datetime | None = None) -> AccountSummary:
    """Return the account with its money, its service plans' history and
    its open suspension (billing), its call policy and its live-call count
    (admission)."""
    now = now or utc_now()
    # one connection, five statements: the page is read often (issue 13: p99 <= 20 ms)
    async with engine.connect() as conn:
        money = await ledger.account_money(conn, account_id, now)
        policy = await admission_service.account_policy(conn, account_id)
        live = await admission_service.live_call_count(conn, account_id, now)
        plans = await subscriptions.plan_history(conn, account_id)
        suspension = await suspensions.open_suspension(conn, account_id)
    return AccountSummary(money.account, money.balance_micro, money.available_micro, money.spent_today_micro,
                          policy, live, plans, subscriptions.contract_day(now), suspension, money.reserved_micro)


@dataclass(frozen=True)
class TopUpResult:
    """What :func:`top_up` did: the entry, the balance after it, and the
    outbox id of the TopUp email when one was queued."""

    entry: ledger.LedgerEntry
    balance_micro: int
    outbox_id: int | None  # the TopUp email, when one was queued


async def top_up(
    db: Db,
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
    async with transaction(db) as conn:
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
    db: Db,
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
    async with transaction(db) as conn:
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


async def end_plan(db: Db, account_id: int, last_day: date) -> list[subscriptions.Subscription]:
    """End account ``account_id``'s service plan after ``last_day`` (its last
    day on it; that month pro-rated by days of service) and return its
    history of plans. The owner counts the first day without a plan
    (``until_day``); its refusal is named ``last_day`` here, as the admin
    surfaces call it."""
    if last_day >= date.max:  # no day after it to be the first without a plan
        raise InvalidInputError("last_day", f"must be before {date.max.isoformat()}")
    try:
        await subscriptions.end_subscription(db, account_id, until_day=last_day + timedelta(days=1))
    except InvalidSubscriptionError as exc:
        raise InvalidInputError("last_day", str(exc).removeprefix(f"{exc.field}: ")) from exc
    return await subscriptions.plan_history(db, account_id)


MAX_CALL_REF_CHARS = 64  # admission's live_calls.call_ref


async def end_live_call(db: Db, account_id: int, call_ref: str, end_call: EndCall | None) -> None:
    """End one of the account's live calls now (``end_call``: the call
    controller's). NotFoundError (404) for an unknown account or a call not
    live on it; ConflictError (409) when this process's controller does not
    own the call (another instance's, or it is ending already). The caller
    audits after: the controller may write on SQLite's one writer."""
    await ledger.get_account(db, account_id)  # UnknownAccountError: refusals() make it 404
    live = await admission_service.account_live_calls(db, account_id)
    if len(call_ref) > MAX_CALL_REF_CHARS or call_ref not in {call.call_ref for call in live}:
        raise NotFoundError(f"no live call {call_ref[:MAX_CALL_REF_CHARS]} on account {account_id}")
    if end_call is None or not await end_call(call_ref):
        raise ConflictError(f"call {call_ref} is not handled by this control-plane instance; it was not hung up")
