"""/api/v1's subscribers and accounts: thin resources over provisioning and billing."""

from __future__ import annotations

from billing import ledger
from billing.subscriptions import plan_on
from provisioning import services as provisioning
from provisioning.errors import UnknownSubscriberError
from web.admin_operations import account_summary

from .registry import ApiCall, RouteTable, id_from_cursor, next_cursor
from .schemas import (
    AccountOut,
    EndpointOut,
    LedgerEntryOut,
    LedgerPage,
    PageQuery,
    SubscriberDetail,
    SubscriberOut,
    SubscriberPage,
    SubscriberQuery,
    SuspensionOut,
)

routes = RouteTable()


async def check_subscriber_account(call: ApiCall, endpoints: list) -> None:
    """403 for an account admin unless one of the subscriber's ``endpoints``
    is billed to their account (staff pass)."""
    own = call.own_account_id
    if own is None:
        return
    code = (await ledger.get_account(call.engine, own)).code
    if not any(endpoint.account_code == code for endpoint in endpoints):
        call.check_account(None)


@routes.route("GET", "/subscribers", summary="List subscribers, searched, by id", permission="subscribers.read",
              query=SubscriberQuery, response=SubscriberPage)
async def list_subscribers(call: ApiCall) -> SubscriberPage:
    """Subscribers whose name, email, SIP username or account code contains ``search``."""
    query: SubscriberQuery = call.query
    after = 0 if query.cursor is None else id_from_cursor(query.cursor)
    own = call.own_account_id
    code = None if own is None else (await ledger.get_account(call.engine, own)).code
    found = await provisioning.list_subscribers(call.engine, search=query.search, after_id=after, limit=query.limit,
                                                account_code=code)
    return SubscriberPage(items=[SubscriberOut.model_validate(s, from_attributes=True) for s in found],
                          next_cursor=next_cursor(found, query.limit))


@routes.route("GET", "/subscribers/{id}", summary="A subscriber and its SIP endpoints",
              permission="subscribers.read", response=SubscriberDetail)
async def get_subscriber(call: ApiCall) -> SubscriberDetail:
    """The subscriber ``id`` with its endpoints (never their credentials)."""
    subscriber_id = call.path_id()
    subscriber = await provisioning.find_subscriber(call.engine, subscriber_id)
    if subscriber is None:
        raise UnknownSubscriberError(subscriber_id)
    endpoints = await provisioning.endpoints_of_subscriber(call.engine, subscriber_id)
    await check_subscriber_account(call, endpoints)
    return SubscriberDetail(
        **SubscriberOut.model_validate(subscriber, from_attributes=True).model_dump(),
        endpoints=[EndpointOut.model_validate(e, from_attributes=True) for e in endpoints],
    )


@routes.route("GET", "/accounts/{id}", summary="An account: its money, limits, plan and suspension",
              permission="accounts.read", response=AccountOut)
async def get_account(call: ApiCall) -> AccountOut:
    """The account's balance, reserved and available credit, today's spend,
    daily limit, status, plan today and open suspension."""
    account_id = call.path_id()
    call.check_account(account_id)
    summary = await account_summary(call.engine, account_id)
    account, plan = summary.account, plan_on(summary.plans, summary.today)
    suspension = summary.suspension
    return AccountOut(
        id=account.id, code=account.code, kind=account.kind, status=account.status,
        subscriber_id=account.subscriber_id, tariff=account.tariff, language=account.language,
        credit_limit=account.credit_limit_micro, daily_limit=account.daily_limit_micro,
        balance=summary.balance_micro, reserved=summary.reserved_micro, available=summary.available_micro,
        spent_today=summary.spent_today_micro, live_calls=summary.live_calls,
        plan=None if plan is None else plan.plan,
        suspension=None if suspension is None else SuspensionOut(
            id=suspension.id, cause=suspension.cause, fee_due=suspension.fee_due, note=suspension.note,
            started_at=suspension.started_at),
    )


@routes.route("GET", "/accounts/{id}/ledger", summary="An account's ledger entries, newest first",
              permission="accounts.read", query=PageQuery, response=LedgerPage)
async def list_ledger(call: ApiCall) -> LedgerPage:
    """The account's ledger, newest first (404 for an unknown account)."""
    query: PageQuery = call.query
    account_id = call.path_id()
    call.check_account(account_id)
    await ledger.get_account(call.engine, account_id)  # an unknown account is 404, not an empty page
    before = None if query.cursor is None else id_from_cursor(query.cursor)
    entries = await ledger.entries_newest_first(call.engine, account_id, before_id=before, limit=query.limit)
    return LedgerPage(
        items=[LedgerEntryOut(id=e.id, kind=e.kind, amount=e.amount_micro, created_at=e.created_at,
                              reference=e.reference, cdr_id=e.cdr_id) for e in entries],
        next_cursor=next_cursor(entries, query.limit),
    )
