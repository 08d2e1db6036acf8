"""Admin operations, as plain async functions the CLI (``cli_admin``) and
the admin HTTP API (``http_admin``) both call.

Each operation checks its input, does its writes in one transaction, and
refuses with one :class:`~web.admin_input.AdminError` subclass
(400 invalid input, naming the field; 404 not found; 409 taken), whose
``status`` the HTTP API answers with and whose message names what was wrong.

Emails these operations cause go through notify's outbox in the same
transaction as the change (the change and its email commit together):
an allowed-IP list change always emails the subscriber
(``AllowedIpsChanged``); a top-up does when given a renderer (``TopUp``);
:func:`emit_daily_limit_alert` queues ``DailySpendLimitReached`` at most
once per account per day in the operator's zone (notify's dedup key).

Amounts are integer micro-euros, as in billing (invariant 1); every
message speaks euros. What comes from outside (the CLI's arguments, the
HTTP API's JSON) is bounded once for both, in :mod:`web.admin_input`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from admission import service as admission_service
from admission.policy import AccountPolicy
from billing import ledger
from billing.errors import (
    AccountCodeTakenError,
    IdempotencyKeyReusedError,
    InvalidAmountError,
    UnknownAccountError,
)
from billing.money import MoneyError, from_micro
from billing.numbering import InvalidNumber, default_numbering_plan
from billing.accounts import ACCOUNT_KINDS, ACTIVE, DEFAULT_TARIFF, PREPAID, SUSPENDED
from sqlbase import utc_now
from billing.tariff_store import stored_plan_names
from notify.events import AllowedIpsChanged, DailySpendLimitReached, Recipient, TopUp, enqueue_event
from notify.notifier import recipient_for
from notify.render import SUPPORTED_LANGUAGES, Renderer
from provisioning import services as provisioning
from provisioning.credentials import DEFAULT_REALM
from provisioning.errors import (
    InvalidFieldError,
    NumberTakenError,
    UnknownEndpointError,
    UnknownSubscriberError,
    UsernameTakenError,
)
from provisioning.records import Did, Endpoint, Subscriber

from .recipients import account_contact
from web.admin_input import (  # noqa: F401  (the CLI and HTTP API read them here)
    DID_CLASSES,
    MAX_CONCURRENT_CALLS,
    MAX_ID,
    MAX_LIMIT_MICRO,
    MAX_TOP_UP_MICRO,
    AdminError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    amount_micro,
    checked_call_limit,
    checked_flag,
    checked_idempotency_key,
    checked_reference,
    id_from_text,
    parse_allowed_networks,
    parse_blocked_prefixes,
    require_id,
    shown,
)

CURRENCY = "EUR"

EndCalls = Callable[[int], Awaitable[int]]
"""Ends an account's live calls and returns how many it ended (the ARI
CallController's ``end_calls``)."""


# -- refusals ---------------------------------------------------------------------


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn the owning packages' refusals into AdminErrors."""
    try:
        yield
    except (UnknownAccountError, UnknownSubscriberError) as exc:
        raise NotFoundError(str(exc)) from exc
    except InvalidFieldError as exc:
        raise InvalidInputError(exc.field, str(exc)) from exc
    except (UsernameTakenError, NumberTakenError, AccountCodeTakenError, IdempotencyKeyReusedError) as exc:
        raise ConflictError(str(exc)) from exc
    except InvalidAmountError as exc:
        raise InvalidInputError(exc.field or "amount", str(exc)) from exc
    except MoneyError as exc:
        raise InvalidInputError("amount", str(exc)) from exc


# -- subscribers and numbers ------------------------------------------------------


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
) -> NewSubscriber:
    """Create a subscriber, its SIP endpoint (``username``; a strong password
    is generated unless given, and only its digest credential in ``realm``
    is stored) and its billing account (``account_code``, the endpoint's CDR
    accountcode), all or nothing."""
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidInputError(
            "language", f"must be one our emails are written in ({', '.join(SUPPORTED_LANGUAGES)}), "
            f"not {shown(language)}")
    if kind not in ACCOUNT_KINDS:
        raise InvalidInputError("kind", f"must be one of {', '.join(ACCOUNT_KINDS)}, not {shown(kind)}")
    with _refusals():
        async with engine.begin() as conn:
            plans = await stored_plan_names(conn)
            if tariff not in plans:
                raise InvalidInputError(
                    "tariff", f"no tariff plan {shown(tariff)}; stored plans: {', '.join(plans)}")
            subscriber = await provisioning.create_subscriber(conn, name=name, email=email, language=language)
            endpoint = await provisioning.add_endpoint(
                conn, subscriber_id=subscriber.id, username=username, caller_id_number=caller_id_number,
                display_name=display_name, password=password, account_code=account_code, realm=realm,
            )
            account = await ledger.open_account(
                conn, code=account_code, kind=kind, credit_limit_micro=credit_limit_micro,
                daily_limit_micro=daily_limit_micro, tariff=tariff, language=language,
                subscriber_id=subscriber.id,
            )
    return NewSubscriber(subscriber, endpoint, account)


async def reset_sip_password(engine: AsyncEngine, username: str, *, realm: str = DEFAULT_REALM) -> Endpoint:
    """Give the SIP endpoint ``username`` a new generated password (only its
    digest credential in ``realm`` is stored) and return the endpoint with
    it in ``password``, to be shown once. The running control plane puts
    the new credential into Asterisk at its next provisioning sync."""
    try:
        with _refusals():
            return await provisioning.reset_password(engine, username, realm=realm)
    except UnknownEndpointError as exc:
        raise NotFoundError(str(exc)) from exc


async def add_did(
    engine: AsyncEngine, *, number: str, subscriber_id: int, ring_seconds: int = 25,
    voicemail_enabled: bool = True,
) -> Did:
    """Give the subscriber one of our numbers, written in any form a person
    would (``+40 31 234 5678``, ``0312345678``); stored as E.164 digits.

    Admission caches the DIDs (on-net calls): call its ``forget_cached``
    after this.
    """
    require_id(subscriber_id, "subscriber")
    if not isinstance(number, str):
        raise InvalidInputError("number", "must be a phone number like +40 31 234 5678")
    try:
        normalised = default_numbering_plan().normalise(number)
    except InvalidNumber as exc:
        raise InvalidInputError("number", str(exc)) from exc
    number_class = default_numbering_plan().classify(normalised).number_class
    if number_class not in DID_CLASSES:
        raise InvalidInputError(
            "number", f"{shown(number)} is a {number_class.replace('_', ' ')} number; a DID is a Romanian "
            "geographic, mobile, freephone (0800) or shared-cost (0801) number")
    with _refusals():
        return await provisioning.add_did(
            engine, number=normalised, subscriber_id=subscriber_id, ring_seconds=ring_seconds,
            voicemail_enabled=voicemail_enabled,
        )


# -- accounts -----------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSummary:
    """An account as an admin sees it."""

    account: ledger.Account
    balance_micro: int
    available_micro: int
    spent_today_micro: int
    policy: AccountPolicy
    live_calls: int


async def account_summary(engine: AsyncEngine, account_id: int, *, now: datetime | None = None) -> AccountSummary:
    """Return the account with its money, policy and live-call count."""
    require_id(account_id)
    now = now or utc_now()
    with _refusals():
        async with engine.connect() as conn:
            account = await ledger.get_account(conn, account_id)
            balance = await ledger.balance_micro(conn, account_id)
            held = await ledger.reserved_micro(conn, account_id, now)
            spent = await ledger.spent_today_micro(conn, account_id, now)
            policy = await admission_service.account_policy(conn, account_id)
    admission = admission_service.Admission(engine)
    try:
        live = await admission.live_call_refs(account_id)
    finally:
        admission.close()  # its worker's engines, not the caller's
    return AccountSummary(account, balance, balance + account.credit_limit_micro - held, spent, policy, len(live))


@dataclass(frozen=True)
class TopUpResult:
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
    renderer: Renderer | None = None,
    now: datetime | None = None,
) -> TopUpResult:
    """Credit the account with ``amount_micro`` (0 < amount <= 100,000 EUR);
    with a ``renderer``, also queue the TopUp email to its subscriber, one
    per ledger entry (its dedup key is the entry's id, never the
    ``reference``). With an ``idempotency_key`` already used for the same
    top-up, the first entry is returned: nothing is added, no email queued."""
    require_id(account_id)
    checked_reference(reference)
    checked_idempotency_key(idempotency_key)
    now = now or utc_now()
    with _refusals():
        async with engine.begin() as conn:
            replayed = idempotency_key is not None and (
                await ledger.entry_with_idempotency_key(conn, idempotency_key) is not None)
            entry = await ledger.top_up(conn, account_id, amount_micro, reference=reference,
                                        idempotency_key=idempotency_key, now=now)
            balance = await ledger.balance_micro(conn, account_id)
            outbox_id = None
            if renderer is not None and not replayed:
                recipient = await _recipient(conn, await ledger.get_account(conn, account_id))
                if recipient is not None:
                    event = TopUp(to=recipient, reference=reference or f"entry-{entry.id}",
                                  amount=from_micro(amount_micro), balance_after=from_micro(balance),
                                  currency=CURRENCY, at=entry.created_at, entry_id=entry.id)
                    outbox_id = await enqueue_event(conn, event, renderer)
    return TopUpResult(entry, balance, outbox_id)


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
    allowed_networks: Iterable[str] | str | None = None,
    premium_enabled: bool | None = None,
    international_enabled: bool | None = None,
    blocked_prefixes: Iterable[str] | str | None = None,
    max_concurrent_calls: int | None = None,
    changed_by: str = "admin",
    renderer: Renderer | None = None,
    now: datetime | None = None,
) -> PolicyChange:
    """Change the account's call policy; fields left None keep their value.

    ``allowed_networks`` are addresses or CIDRs (an empty list: calls from
    anywhere); a CIDR with host bits set is refused, naming it, rather than
    silently widened. When the list changes, an ``AllowedIpsChanged`` email
    to the subscriber is queued in the same transaction.
    """
    require_id(account_id)
    changes: dict[str, object] = {}
    if allowed_networks is not None:
        changes["allowed_networks"] = parse_allowed_networks(allowed_networks)
    if premium_enabled is not None:
        changes["premium_enabled"] = checked_flag("premium_enabled", premium_enabled)
    if international_enabled is not None:
        changes["international_enabled"] = checked_flag("international_enabled", international_enabled)
    if blocked_prefixes is not None:
        changes["blocked_prefixes"] = parse_blocked_prefixes(blocked_prefixes)
    if max_concurrent_calls is not None:
        changes["max_concurrent_calls"] = checked_call_limit(max_concurrent_calls)
    now = now or utc_now()
    with _refusals():
        async with engine.begin() as conn:
            account = await ledger.locked_account(conn, account_id)  # one change at a time
            before = await admission_service.account_policy(conn, account_id)
            after = replace(before, **changes)
            await admission_service.set_account_policy(conn, account_id, after)
            if after.allowed_networks == before.allowed_networks:
                return PolicyChange(after)
            change_id = uuid.uuid4().hex
            outbox_id = None
            recipient = await _recipient(conn, account)
            if recipient is not None:
                old = [str(n) for n in before.allowed_networks]
                new = [str(n) for n in after.allowed_networks]
                old_set, new_set = set(old), set(new)
                event = AllowedIpsChanged(
                    to=recipient, change_id=change_id,
                    added=tuple(n for n in new if n not in old_set),
                    removed=tuple(n for n in old if n not in new_set),
                    current=tuple(new), changed_at=now, changed_by=changed_by,
                )
                outbox_id = await enqueue_event(conn, event, renderer or Renderer())
    return PolicyChange(after, change_id, outbox_id)


async def suspend_account(engine: AsyncEngine, account_id: int, end_calls: EndCalls | None = None) -> int:
    """Suspend the account (only 112, 116xxx and 0800 still connect) and end
    its live calls with ``end_calls``; return how many were ended (0
    without ``end_calls``: live calls then stop at the end of their current
    chunk, as their next extension is refused)."""
    require_id(account_id)
    with _refusals():
        await ledger.set_account_status(engine, account_id, SUSPENDED)
    if end_calls is None:
        return 0
    return await end_calls(account_id)


async def reinstate_account(engine: AsyncEngine, account_id: int) -> ledger.Account:
    """Make a suspended account active again and return it."""
    require_id(account_id)
    with _refusals():
        return await ledger.set_account_status(engine, account_id, ACTIVE)


async def emit_daily_limit_alert(
    engine: AsyncEngine, account_id: int, renderer: Renderer, *, now: datetime | None = None
) -> int | None:
    """Queue the ``DailySpendLimitReached`` email for the account and return
    its outbox id; the same id for every call on the same day in the
    operator's zone (one email a day). None when the account has no daily
    limit or no subscriber to tell.

    "Spent" counts today's charged usage and what live calls hold.
    """
    now = now or utc_now()
    with _refusals():
        async with engine.begin() as conn:
            account = await ledger.get_account(conn, account_id)
            if account.daily_limit_micro is None:
                return None
            recipient = await _recipient(conn, account)
            if recipient is None:
                return None
            spent = await ledger.spent_today_micro(conn, account_id, now) + await ledger.reserved_micro(
                conn, account_id, now)
            event = DailySpendLimitReached(to=recipient, spent=from_micro(spent),
                                           limit=from_micro(account.daily_limit_micro),
                                           currency=CURRENCY, at=now)
            return await enqueue_event(conn, event, renderer)


async def _recipient(conn: AsyncConnection, account: ledger.Account) -> Recipient | None:
    """Who is told about the account: its subscriber, in the one language rule's language."""
    contact = await account_contact(conn, account)
    return None if contact is None else recipient_for(contact)
