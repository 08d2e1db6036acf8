"""/api/v1's account operations: live reservations and calls, the call
policy, limits, top-ups, suspension and service plans.

Thin over the owners (billing, admission, :mod:`web.admin_operations`):
each write is one audited change with the account's fields before and
after, its emails queued in that transaction; what must follow the commit
(ending live calls, telling Asterisk of a new allowlist) follows it.
Account admins may read their own account's data (``accounts.read``) and
change nothing here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from admission import service as admission_service
from admission.policy import AccountPolicy
from billing import ledger, reservations, subscriptions, suspensions
from billing.account_admin import UNCHANGED, limits_view, set_limits
from billing.money import format_micro
from web import admin_operations as operations

from .account_schemas import (
    HungUpOut,
    LiveCallsOut,
    LimitsPatch,
    PlanEndQuery,
    PlanRequest,
    PlansOut,
    PlanStretch,
    PolicyChanged,
    PolicyOut,
    PolicyPatch,
    ReinstateOut,
    ReservationList,
    ReservationOut,
    SuspendOut,
    SuspendRequest,
    TopUpOut,
    TopUpRequest,
)
from .accounts import get_account
from .registry import ApiCall, RouteTable
from .schemas import AccountOut, SuspensionOut
from .subscriber_routes import admin_services

routes = RouteTable()

_MAX_AUDITED_LIST = 900
"""Characters of a listed policy field the audit keeps (its values are at most 1,000)."""


async def _account(call: ApiCall) -> int:
    """The path's account id: 403 unless the caller may see it, 404 when none has it."""
    account_id = call.path_id()
    call.check_account(account_id)
    await ledger.get_account(call.engine, account_id)
    return account_id


def _listed(values: Any) -> str:
    text = ", ".join(str(value) for value in values)
    return text if len(text) <= _MAX_AUDITED_LIST else text[:_MAX_AUDITED_LIST] + f"… ({len(values)} in all)"


def _policy_view(policy: AccountPolicy) -> dict[str, Any]:
    return {"allowed_networks": _listed(policy.allowed_networks), "premium_enabled": policy.premium_enabled,
            "international_enabled": policy.international_enabled,
            "blocked_prefixes": _listed(policy.blocked_prefixes),
            "max_concurrent_calls": policy.max_concurrent_calls}


def _policy_out(policy: AccountPolicy) -> PolicyOut:
    return PolicyOut(allowed_networks=[str(n) for n in policy.allowed_networks],
                     premium_enabled=policy.premium_enabled, international_enabled=policy.international_enabled,
                     blocked_prefixes=list(policy.blocked_prefixes),
                     max_concurrent_calls=policy.max_concurrent_calls)


def _suspension_out(suspension: suspensions.Suspension | None) -> SuspensionOut | None:
    if suspension is None:
        return None
    return SuspensionOut(id=suspension.id, cause=suspension.cause, fee_due=suspension.fee_due,
                         note=suspension.note, started_at=suspension.started_at)


def _plans_out(history: list[subscriptions.Subscription]) -> PlansOut:
    today = subscriptions.plan_on(history, subscriptions.contract_day())
    return PlansOut(plan=None if today is None else today.plan,
                    plan_history=[PlanStretch(plan=s.plan, from_day=s.from_day, until_day=s.until_day)
                                  for s in history])


def _plan_view(history: list[subscriptions.Subscription]) -> dict[str, Any]:
    return {"plans": "; ".join(f"{s.plan} {s.from_day.isoformat()}..{s.until_day or ''}" for s in history)[-900:]}


# -- reads ---------------------------------------------------------------------------


@routes.route("GET", "/accounts/{id}/reservations", summary="An account's live reservations",
              permission="accounts.read", response=ReservationList)
async def list_reservations(call: ApiCall) -> ReservationList:
    """Credit held for the account's calls in progress, oldest first."""
    account_id = await _account(call)
    held = await reservations.live_reservations(call.engine, account_id)
    return ReservationList(items=[ReservationOut(id=r.id, amount=r.amount_micro, call_reference=r.call_reference,
                                                 created_at=r.created_at, expires_at=r.expires_at) for r in held])


@routes.route("GET", "/accounts/{id}/live-calls", summary="An account's live calls",
              permission="accounts.read", response=LiveCallsOut)
async def list_live_calls(call: ApiCall) -> LiveCallsOut:
    """The references of the calls counting toward the account's concurrent-call limit now."""
    account_id = await _account(call)
    refs = [live.call_ref for live in await admission_service.account_live_calls(call.engine, account_id)]
    return LiveCallsOut(call_refs=refs, count=len(refs))


@routes.route("POST", "/accounts/{id}/live-calls/{call_ref}/hangup", summary="Hang up one of an account's live calls",
              permission="accounts.suspend", response=HungUpOut)
async def hang_up(call: ApiCall) -> HungUpOut:
    """Ends the call now; 404 when it is not live on the account, 409 when
    another control-plane instance handles it (try again, or suspend)."""
    account_id = await _account(call)
    call_ref = call.request.match_info["call_ref"]
    await operations.end_live_call(call.engine, account_id, call_ref, admin_services(call).end_call)
    async with call.change("hang_up", "call", call_ref) as change:  # after the end: see end_live_call
        change.fields({"account_id": account_id, "state": "live"}, {"account_id": account_id, "state": "ended"})
    return HungUpOut(call_ref=call_ref, status="ended")


@routes.route("GET", "/accounts/{id}/policy", summary="An account's call policy", permission="accounts.read",
              response=PolicyOut)
async def get_policy(call: ApiCall) -> PolicyOut:
    """Allowed source networks, premium and international calls, blocked prefixes, concurrent calls."""
    account_id = await _account(call)
    async with call.engine.connect() as conn:
        return _policy_out(await admission_service.account_policy(conn, account_id))


# -- writes --------------------------------------------------------------------------


@routes.route("PATCH", "/accounts/{id}/policy", summary="Change an account's call policy",
              permission="accounts.write", body=PolicyPatch, response=PolicyChanged)
async def update_policy(call: ApiCall) -> PolicyChanged:
    """Change the fields sent; a changed allowlist is emailed to the
    subscriber and put into the running Asterisk (the endpoints' ACL)."""
    body: PolicyPatch = call.body
    account_id = await _account(call)
    services = admin_services(call)
    async with call.change("update", "account_policy", account_id) as change:
        before = await admission_service.account_policy(change.conn, account_id)
        changed = await operations.set_account_policy(
            change.conn, account_id, emails=services.emails, allowed_networks=body.allowed_networks,
            premium_enabled=body.premium_enabled, international_enabled=body.international_enabled,
            blocked_prefixes=body.blocked_prefixes, max_concurrent_calls=body.max_concurrent_calls,
            changed_by=call.who.name)
        change.fields(_policy_view(before), _policy_view(changed.policy))
    if changed.allowed_ips_change_id is not None:
        await services.provisioning_changed()  # the endpoints' ACL
    return PolicyChanged(policy=_policy_out(changed.policy), allowed_ips_change_id=changed.allowed_ips_change_id)


@routes.route("PATCH", "/accounts/{id}", summary="Change an account's credit limit or daily limit",
              permission="accounts.write", body=LimitsPatch, response=AccountOut)
async def update_limits(call: ApiCall) -> AccountOut:
    """``credit_limit`` (postpaid only) and ``daily_limit`` (null: none), each at most 100,000 EUR."""
    body: LimitsPatch = call.body
    account_id = await _account(call)
    given = body.model_fields_set
    async with call.change("update", "account", account_id) as change:
        before, after = await set_limits(
            change.conn, account_id,
            credit_limit_micro=UNCHANGED if "credit_limit" not in given or body.credit_limit is None
            else body.credit_limit,
            daily_limit_micro=body.daily_limit if "daily_limit" in given else UNCHANGED)
        change.fields(limits_view(before), limits_view(after))
    return await get_account(call)


@routes.route("POST", "/accounts/{id}/top-ups", summary="Credit an account (idempotent by key)",
              permission="accounts.top_up", body=TopUpRequest, response=TopUpOut, status=201)
async def top_up(call: ApiCall) -> TopUpOut:
    """Credit the account and email the subscriber; the same
    ``idempotency_key`` again returns the first top-up, adding nothing."""
    body: TopUpRequest = call.body
    account_id = await _account(call)
    async with call.change("top_up", "account", account_id) as change:
        before = await ledger.balance_micro(change.conn, account_id)
        result = await operations.top_up(change.conn, account_id, body.amount, reference=body.reference,
                                         idempotency_key=body.idempotency_key, emails=admin_services(call).emails)
        change.fields({"balance": format_micro(before)}, {"balance": format_micro(result.balance_micro),
                                                          "entry_id": result.entry.id})
    return TopUpOut(entry_id=result.entry.id, amount=result.entry.amount_micro, balance=result.balance_micro)


@routes.route("POST", "/accounts/{id}/suspend", summary="Suspend an account and end its live calls",
              permission="accounts.suspend", body=SuspendRequest, response=SuspendOut)
async def suspend(call: ApiCall) -> SuspendOut:
    """Only 112, 116xxx and 0800 still connect; the live calls end after
    the commit. 409 when the account is not active."""
    body: SuspendRequest = call.body
    account_id = await _account(call)
    async with call.change("suspend", "account", account_id) as change:
        suspension = await suspensions.suspend(change.conn, account_id, body.cause, body.note)
        change.fields({"status": "active"}, {"status": "suspended", "cause": suspension.cause})
    ended = await admin_services(call).end_calls(account_id)
    out = _suspension_out(suspension)
    assert out is not None
    return SuspendOut(status="suspended", calls_ended=ended, suspension=out)


@routes.route("POST", "/accounts/{id}/reinstate", summary="Make a suspended account active again",
              permission="accounts.suspend", response=ReinstateOut)
async def reinstate(call: ApiCall) -> ReinstateOut:
    """409 when the account is not suspended."""
    account_id = await _account(call)
    async with call.change("reinstate", "account", account_id) as change:
        ended = await suspensions.reinstate(change.conn, account_id)
        change.fields({"status": "suspended"}, {"status": "active"})
    return ReinstateOut(status="active", suspension=_suspension_out(ended))


async def _plans_changed(call: ApiCall, action: str,
                         change_plans: Callable[[AsyncConnection, int], Awaitable[object]]) -> PlansOut:
    """Run ``change_plans(conn, account_id)`` as one audited change of the account's plan history."""
    account_id = await _account(call)
    async with call.change(action, "account", account_id) as change:
        before = await subscriptions.plan_history(change.conn, account_id)
        await change_plans(change.conn, account_id)
        after = await subscriptions.plan_history(change.conn, account_id)
        change.fields(_plan_view(before), _plan_view(after))
    return _plans_out(after)


@routes.route("PUT", "/accounts/{id}/plan", summary="Put an account on a service plan",
              permission="accounts.write", body=PlanRequest, response=PlansOut)
async def change_plan(call: ApiCall) -> PlansOut:
    """On ``plan`` from the 1st of next month or, ``immediately``, from today."""
    body: PlanRequest = call.body
    return await _plans_changed(call, "change_plan", lambda conn, account_id: subscriptions.change_plan(
        conn, account_id, body.plan, today=subscriptions.contract_day(), immediately=body.immediately))


@routes.route("DELETE", "/accounts/{id}/plan", summary="End an account's service plan after a day",
              permission="accounts.write", query=PlanEndQuery, response=PlansOut)
async def end_plan(call: ApiCall) -> PlansOut:
    """``last_day`` is the last day on it (its month pro-rated by days of service)."""
    query: PlanEndQuery = call.query
    return await _plans_changed(call, "end_plan",
                                lambda conn, account_id: operations.end_plan(conn, account_id, query.last_day))
