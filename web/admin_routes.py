"""The admin HTTP API's resources: JSON in, JSON out, behind a bearer token.

Every route needs ``Authorization: Bearer <credential>``: a personal API
token or the ``admin_token`` setting (generated into
<state_dir>/secrets.toml when empty), authenticated as /api/v1 does, and
the route's permission (:mod:`web.admin_guard`: staff only); every write is
one audited change. Each answers JSON; a
refusal is ``{"error": "<reason>"}`` (plus ``"field"`` when one field is to
blame) with its status: 400 bad input, 401 no or wrong token, 403 a role
without the route's permission, 404 unknown
account, subscriber, service plan, invoice or route, 405 wrong method, 409 taken, an
invoice paid, a plan change into an invoiced month, 413 body over
64 KiB, 415 not JSON (nor a CSV to /admin/plans), 429 too many failed authentications (see
:mod:`web.auth`: logged, then the source is locked out for a
growing time, ``Retry-After``), 500 ``internal error`` (see
:mod:`web.json_body`, which also bounds bodies: 64 KiB, 32 levels).

==========================================  =========================================
``POST  /admin/subscribers``                 subscriber + SIP endpoint + account → 201
``POST  /admin/dids``                        give a subscriber a number → 201
``GET   /admin/accounts/{id}``               the account, its money and policy
``POST  /admin/accounts/{id}/top-ups``       credit the account → 201
``PATCH /admin/accounts/{id}/policy``        change the call policy (fields given only)
``POST  /admin/accounts/{id}/suspend``       suspend for a cause and end its live calls
``POST  /admin/accounts/{id}/reinstate``     make it active again
``POST  /admin/accounts/{id}/charges``       add a one-off charge → 201 (web.charge_routes)
``POST  /admin/accounts/{id}/invoices/one-off``  invoice its one-off charges → 201 (web.charge_routes)
``PUT   /admin/accounts/{id}/plan``          change its service plan (next month, or now)
``DELETE /admin/accounts/{id}/plan``         end its plan: ``?last_day=YYYY-MM-DD``
``GET   /admin/accounts/{id}/invoices``      its invoices and their status (payment_routes)
``POST  /admin/payments``                    record a payment received → 201 (payment_routes)
``GET   /admin/invoices/{number}``           an invoice, its payments, penalty (payment_routes)
``GET   /admin/plans``                       the service plans' versions in force
``GET   /admin/plans/{name}``                one service plan
``POST  /admin/plans``                       import service plan versions (CSV or JSON)
``POST  /admin/accounts/{id}/invoices/interim``  an interim invoice of usage so far → 201
                                             (:mod:`web.invoice_routes`)
==========================================  =========================================

A service plan import is a service plan CSV (``Content-Type: text/csv``,
columns in :mod:`billing.service_plans`) or JSON ``{"plans": [{"name",
"version", "effective_from", "effective_to", "monthly_fee", "tariff",
"included_minutes": {"national": 100}, "description", "setup_fee"}]}``; it is all or
nothing, and a refusal is 400 naming the first field to blame, with
``problems``: every ``{"line"`` (CSV) or ``"index"`` (JSON), ``"field",
"message"}``.

Amounts are decimal euros, as JSON strings (``"10.50"``) or numbers, read
exactly (never through float; ASCII digits, at most 6 decimals, no
exponent) and answered as strings with six decimals. Ids in paths are ASCII
digits. The bounds of every field (amounts up to 100,000 EUR, references
up to 200 characters, idempotency keys, 100 allowed networks, 1,000
blocked prefixes, languages, tariffs, DID classes) are listed in
:mod:`web.admin_input`, with the module that checks each.

The routes work with the :class:`web.app.AdminServices` given to
:func:`add_admin_routes`: its ``engine``, its ``end_calls`` (a suspension
ends the account's live calls), its ``provisioning_changed`` (a new
endpoint, DID or allowlist reaches the running Asterisk) and its
``emails`` (the Notifier and who to tell). Each route calls the owning
package's service, or :mod:`web.admin_operations` when an operation spans
owners or causes an email; the owners' refusals become AdminErrors in
:func:`admin_route` (:func:`web.admin_input.refusals`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from admission.policy import MAX_CONCURRENT_CALLS
from admission.service import account_policy
from billing import ledger, service_plan_store, subscriptions, suspensions
from billing.suspension_causes import causes_listed
from billing.numbering import default_numbering_plan
from billing.service_plans import ServicePlanFileError, read_service_plan_csv, service_plans_from_rows
from provisioning.numbers import add_did_as_written

from . import admin_operations as operations
from .admin_input import (
    MAX_ID,
    MAX_LIMIT_MICRO,
    MAX_TOP_UP_MICRO,
    PlanImportError,
    amount_micro,
    charge_requests,
    day_from_text,
    id_from_text,
    service_plan_rows,
)
from .admin_guard import ADMIN_SERVICES, FAILED_LOGINS, actor_of, admin_route, audited, services_of
from .auth import FailedLogins
from .json_body import BadRequest, json_object
from .schemas import (
    account_json,
    euros,
    invoice_summary_json,
    plan_import_json,
    plans_json,
    policy_json,
    service_plan_json,
    suspension_json,
)

if TYPE_CHECKING:
    from .app import AdminServices

__all__ = ["ADMIN_SERVICES", "FAILED_LOGINS", "add_admin_routes", "admin_route"]


def add_admin_routes(app: web.Application, services: "AdminServices") -> None:
    """Register the /admin routes on ``app``, working with ``services``."""
    app[ADMIN_SERVICES] = services
    app[FAILED_LOGINS] = FailedLogins()
    app.router.add_post("/admin/subscribers", create_subscriber)
    app.router.add_post("/admin/dids", add_did)
    # [0-9], not \d: \d also matches "١" (Arabic-Indic one)
    app.router.add_get("/admin/accounts/{account_id:[0-9]+}", get_account)
    app.router.add_post("/admin/accounts/{account_id:[0-9]+}/top-ups", top_up)
    app.router.add_patch("/admin/accounts/{account_id:[0-9]+}/policy", set_policy)
    app.router.add_post("/admin/accounts/{account_id:[0-9]+}/suspend", suspend)
    app.router.add_post("/admin/accounts/{account_id:[0-9]+}/reinstate", reinstate)
    app.router.add_put("/admin/accounts/{account_id:[0-9]+}/plan", change_plan)
    app.router.add_delete("/admin/accounts/{account_id:[0-9]+}/plan", end_plan)
    app.router.add_get("/admin/plans", list_plans)
    app.router.add_get("/admin/plans/{name}", show_plan)
    app.router.add_post("/admin/plans", import_plans)


# -- plumbing -----------------------------------------------------------------------


def _services(request: web.Request) -> "AdminServices":
    return services_of(request)


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    """The string ``key``; absent or JSON null gives ``default``."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{key}: must be a string", field=key)
    return value


def _integer(body: dict[str, Any], key: str, default: int | None = None, *,
             minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The whole number ``key`` within its bounds; absent or JSON null gives
    ``default`` (a null must not reach a service as None)."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise BadRequest(f"{key}: must be a whole number from {minimum} to {maximum}", field=key)
    return value


def _boolean(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{key}: must be true or false", field=key)
    return value


def _money(body: dict[str, Any], key: str, *, maximum_micro: int, positive: bool = False) -> int | None:
    """Return the amount in micro-euros from decimal euros ("10.50" or
    10.50), within its bounds (see :func:`web.admin_input.amount_micro`)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise BadRequest(f"{key}: must be an amount in euros like \"10.50\"", field=key)
    # a JSON number is read as its decimal text: 1e18 is "1E+18", refused like "5e0"
    text = value if isinstance(value, str) else str(value)
    return amount_micro(key, text, minimum_micro=1 if positive else 0, maximum_micro=maximum_micro)


def _list(body: dict[str, Any], key: str) -> list[Any] | None:
    value = body.get(key)
    if value is not None and not isinstance(value, list):
        raise BadRequest(f"{key}: must be a list", field=key)
    return value


def _account_id(request: web.Request) -> int:
    return id_from_text(request.match_info["account_id"])


# -- resources ----------------------------------------------------------------------

_SUBSCRIBER_FIELDS = {"name", "email", "language", "username", "caller_id_number", "display_name",
                      "password", "account_code", "kind", "credit_limit", "daily_limit", "tariff", "plan",
                      "plan_start", "charges", "inactive_until_paid"}


@admin_route("subscribers.write")
async def create_subscriber(request: web.Request) -> web.Response:
    """POST /admin/subscribers: a subscriber, its SIP endpoint and its
    account, all or nothing → 201 with the endpoint's password (shown only
    now); the running Asterisk is told so the endpoint can register. With
    ``plan``, the account is on that service plan from ``plan_start``
    (``YYYY-MM-DD``; default today). The plan's set-up fee and ``charges``
    (``[{"description", "amount", "quantity"}]``, at most 20) are invoiced
    in advance today (``invoice`` in the answer); ``inactive_until_paid``
    (default: the operator's setting) keeps the account inactive until paid."""
    body = await json_object(request, _SUBSCRIBER_FIELDS,
                       {"name", "email", "username", "caller_id_number", "account_code"})
    options: dict[str, Any] = {}
    for key in ("kind", "tariff", "plan"):
        if body.get(key) is not None:
            options[key] = _text(body, key)
    if body.get("plan_start") is not None:
        options["plan_start"] = day_from_text("plan_start", _text(body, "plan_start"))
    services = _services(request)
    async with audited(request, "create", "subscriber") as change:
        created = await _create_subscriber(change.conn, services, body, options)
        change.resource_id = created.subscriber.id
        # never the endpoint's password: it is shown once, in the answer only
        change.fields(None, {"name": created.subscriber.name, "email": created.subscriber.email,
                             "language": created.subscriber.language, "username": created.endpoint.username,
                             "caller_id_number": created.endpoint.caller_id_number,
                             "account_id": created.account.id, "account_code": created.endpoint.account_code,
                             "plan": options.get("plan"),
                             "invoice": None if created.invoice is None else created.invoice.number})
    subscriber, endpoint = created.subscriber, created.endpoint
    await services.provisioning_changed()  # the new endpoint can register
    return web.json_response({
        "subscriber": {"id": subscriber.id, "name": subscriber.name, "email": subscriber.email,
                       "language": subscriber.language},
        "endpoint": {"username": endpoint.username, "password": endpoint.password,
                     "display_name": endpoint.display_name, "caller_id_number": endpoint.caller_id_number,
                     "account_code": endpoint.account_code},
        "account": {**account_json(created.account), "plan": options.get("plan")},
        "invoice": None if created.invoice is None else invoice_summary_json(created.invoice),
    }, status=201)


async def _create_subscriber(conn: Any, services: "AdminServices", body: dict[str, Any],
                             options: dict[str, Any]) -> operations.NewSubscriber:
    return await operations.create_subscriber(
        conn,
        name=_text(body, "name"), email=_text(body, "email"), language=_text(body, "language", "ro"),
        username=_text(body, "username"), caller_id_number=_text(body, "caller_id_number"),
        display_name=_text(body, "display_name"), password=_text(body, "password"),
        account_code=_text(body, "account_code"),
        credit_limit_micro=_money(body, "credit_limit", maximum_micro=MAX_LIMIT_MICRO) or 0,
        daily_limit_micro=_money(body, "daily_limit", maximum_micro=MAX_LIMIT_MICRO),
        realm=services.sip_realm, charges=charge_requests(body.get("charges")),
        inactive_until_paid=_boolean(body, "inactive_until_paid"), one_off_invoicing=services.one_off_invoicing,
        **options,
    )


@admin_route("dids.write")
async def add_did(request: web.Request) -> web.Response:
    """POST /admin/dids: give a subscriber a number, written as a person
    would → 201 with its E.164 digits; the running Asterisk is told (a new
    on-net number and inbound extension)."""
    body = await json_object(request, {"number", "subscriber_id", "ring_seconds", "voicemail_enabled"},
                       {"number", "subscriber_id"})
    voicemail = _boolean(body, "voicemail_enabled")
    services = _services(request)
    async with audited(request, "create", "did") as change:
        did = await add_did_as_written(
            change.conn, number=_text(body, "number"),
            subscriber_id=_integer(body, "subscriber_id", minimum=1), plan=default_numbering_plan(),
            ring_seconds=_integer(body, "ring_seconds", 25, minimum=5, maximum=120),
            voicemail_enabled=True if voicemail is None else voicemail,
        )
        change.resource_id = did.number
        change.fields(None, {"number": did.number, "subscriber_id": did.subscriber_id,
                             "ring_seconds": did.ring_seconds, "voicemail_enabled": did.voicemail_enabled})
    await services.provisioning_changed()  # a new on-net number and inbound extension
    return web.json_response({"number": did.number, "subscriber_id": did.subscriber_id,
                              "ring_seconds": did.ring_seconds, "voicemail_enabled": did.voicemail_enabled},
                             status=201)


@admin_route("accounts.read")
async def get_account(request: web.Request) -> web.Response:
    """GET /admin/accounts/{id}: the account, its balance, available credit,
    today's spend, live calls, call policy, its service plan today with
    the history of its plans, and its open suspension (null: none)."""
    summary = await operations.account_summary(_services(request).engine, _account_id(request))
    return web.json_response({
        **account_json(summary.account),
        "balance": euros(summary.balance_micro), "available": euros(summary.available_micro),
        "spent_today": euros(summary.spent_today_micro), "live_calls": summary.live_calls,
        "policy": policy_json(summary.policy), **plans_json(summary.plans, summary.today),
        "suspension": suspension_json(summary.suspension),
    })


@admin_route("accounts.write")
async def change_plan(request: web.Request) -> web.Response:
    """PUT /admin/accounts/{id}/plan ``{"plan": NAME, "immediately": false}``:
    the account is on ``plan`` from the 1st of next month or, with
    ``immediately``, from today (this month pro-rated between both plans) →
    the plan's first day and the account's history of plans."""
    body = await json_object(request, {"plan", "immediately"}, {"plan"})
    account_id, today = _account_id(request), subscriptions.contract_day()
    async with audited(request, "change_plan", "account", account_id) as change:
        before = plans_json(await subscriptions.plan_history(change.conn, account_id), today)
        changed = await subscriptions.change_plan(change.conn, account_id, _text(body, "plan"), today=today,
                                                  immediately=bool(_boolean(body, "immediately")))
        history = await subscriptions.plan_history(change.conn, account_id)
        change.fields(_plan_view(before), {**_plan_view(plans_json(history, today)),
                                           "from_day": changed.from_day.isoformat()})
    return web.json_response({"account_id": account_id, "from_day": changed.from_day.isoformat(),
                              **plans_json(history, today)})


@admin_route("accounts.write")
async def end_plan(request: web.Request) -> web.Response:
    """DELETE /admin/accounts/{id}/plan?last_day=YYYY-MM-DD: the account's
    last day on its plan (its last month pro-rated by days of service;
    changes planned after it dropped) → its history of plans. A query
    parameter, not a body: a DELETE's body is ignored by some clients."""
    account_id = _account_id(request)
    text = request.query.get("last_day")
    if text is None:
        raise BadRequest("last_day: required (YYYY-MM-DD, the last day on the plan)", field="last_day")
    last_day = day_from_text("last_day", text[:40])
    today = subscriptions.contract_day()
    async with audited(request, "end_plan", "account", account_id) as change:
        before = plans_json(await subscriptions.plan_history(change.conn, account_id), today)
        history = await operations.end_plan(change.conn, account_id, last_day)
        change.fields(_plan_view(before), {**_plan_view(plans_json(history, today)),
                                           "last_day": last_day.isoformat()})
    return web.json_response({"account_id": account_id, "last_day": last_day.isoformat(),
                              **plans_json(history, today)})


def _plan_view(plans: dict[str, Any]) -> dict[str, Any]:
    """An account's plans as its audit entry says them: the plan today and the history, one line."""
    return {"plan": plans["plan"], "plan_history": "; ".join(
        f"{s['plan']} {s['from_day']}..{s['until_day'] or ''}" for s in plans["plan_history"])}


@admin_route("accounts.top_up")
async def top_up(request: web.Request) -> web.Response:
    """POST /admin/accounts/{id}/top-ups: credit the account (idempotent by
    ``idempotency_key``) and email the subscriber → 201 with the entry and
    the balance."""
    body = await json_object(request, {"amount", "reference", "idempotency_key"}, {"amount"})
    services, account_id = _services(request), _account_id(request)
    amount = _money(body, "amount", positive=True, maximum_micro=MAX_TOP_UP_MICRO)
    reference = _text(body, "reference", "")
    async with audited(request, "top_up", "account", account_id) as change:
        result = await operations.top_up(change.conn, account_id, amount, reference=reference,
                                         idempotency_key=_text(body, "idempotency_key"), emails=services.emails)
        change.fields({"balance": euros(result.balance_micro - result.entry.amount_micro)},
                      {"balance": euros(result.balance_micro), "amount": euros(result.entry.amount_micro),
                       "reference": reference, "entry_id": result.entry.id})
    return web.json_response({"entry_id": result.entry.id, "amount": euros(result.entry.amount_micro),
                              "balance": euros(result.balance_micro)}, status=201)


_POLICY_FIELDS = {"allowed_networks", "premium_enabled", "international_enabled", "blocked_prefixes",
                  "max_concurrent_calls"}


@admin_route("accounts.write")
async def set_policy(request: web.Request) -> web.Response:
    """PATCH /admin/accounts/{id}/policy: change the fields given; a changed
    allowlist is emailed to the subscriber and put into the running
    Asterisk (the endpoints' ACL)."""
    body = await json_object(request, _POLICY_FIELDS)
    if not body:
        raise BadRequest(f"nothing to change; send some of {sorted(_POLICY_FIELDS)}")
    services, account_id = _services(request), _account_id(request)
    async with audited(request, "set_policy", "account", account_id) as audit:
        await ledger.get_account(audit.conn, account_id)  # 404 before the policy is read
        before = policy_json(await account_policy(audit.conn, account_id))
        change = await operations.set_account_policy(
            audit.conn, account_id, emails=services.emails,
            allowed_networks=_list(body, "allowed_networks"), premium_enabled=_boolean(body, "premium_enabled"),
            international_enabled=_boolean(body, "international_enabled"),
            blocked_prefixes=_list(body, "blocked_prefixes"),
            max_concurrent_calls=_integer(body, "max_concurrent_calls", maximum=MAX_CONCURRENT_CALLS),
            changed_by=f"admin API ({actor_of(request).name})",
        )
        audit.fields(before, policy_json(change.policy))
    if change.allowed_ips_change_id is not None:
        await services.provisioning_changed()  # the endpoints' ACL
    return web.json_response({"policy": policy_json(change.policy),
                              "allowed_ips_change_id": change.allowed_ips_change_id})


@admin_route("accounts.suspend")
async def suspend(request: web.Request) -> web.Response:
    """POST /admin/accounts/{id}/suspend ``{"cause": CAUSE, "note": TEXT}``:
    suspend the account (only 112, 116xxx and 0800 still connect) and end
    its live calls now → the suspension and how many calls ended. ``cause``
    is required (the month's fee depends on it, art. 9.2): one of
    :data:`billing.suspension_causes.CAUSE_NAMES`; ``note`` at most 200
    characters. 409 when the account is not active."""
    body = await json_object(request, {"cause", "note"})
    if body.get("cause") is None:
        raise BadRequest(f"cause: required, one of {causes_listed()}", field="cause")
    services, account_id = _services(request), _account_id(request)
    async with audited(request, "suspend", "account", account_id) as change:
        # billing checks the cause, listing the causes
        suspension = await suspensions.suspend(change.conn, account_id, body["cause"], _text(body, "note"))
        change.fields({"status": "active"}, {"status": "suspended", "cause": suspension.cause,
                                             "note": suspension.note})
    ended = await services.end_calls(account_id)  # after the commit: the calls see the suspension
    return web.json_response({"status": "suspended", "calls_ended": ended,
                              "suspension": suspension_json(suspension)})


@admin_route("accounts.suspend")
async def reinstate(request: web.Request) -> web.Response:
    """POST /admin/accounts/{id}/reinstate: make the suspended account
    active again → the suspension this ended (null for one recorded before
    causes were); 409 when the account is not suspended."""
    account_id = _account_id(request)
    async with audited(request, "reinstate", "account", account_id) as change:
        ended = await suspensions.reinstate(change.conn, account_id)
        change.fields({"status": "suspended"}, {"status": "active"})
    return web.json_response({"status": "active", "suspension": suspension_json(ended)})


# -- service plans ---------------------------------------------------------------------


@admin_route("plans.read")
async def list_plans(request: web.Request) -> web.Response:
    """GET /admin/plans: every service plan with its versions in force."""
    plans = await service_plan_store.list_service_plans(_services(request).engine)
    return web.json_response({"plans": [service_plan_json(plan) for plan in plans]})


@admin_route("plans.read")
async def show_plan(request: web.Request) -> web.Response:
    """GET /admin/plans/{name}: one service plan's versions in force; 404 when none is stored."""
    plan = await service_plan_store.load_service_plan(_services(request).engine, request.match_info["name"][:200])
    return web.json_response(service_plan_json(plan))


@admin_route("plans.write")
async def import_plans(request: web.Request) -> web.Response:
    """POST /admin/plans: import service plan versions from a CSV body
    (``text/csv``) or JSON ``{"plans": [...]}``, all or nothing → what was
    added, unchanged and superseded."""
    if request.content_type == "text/csv":
        try:
            text = (await request.read()).decode("utf-8")  # read() is bounded: 64 KiB
        except UnicodeDecodeError as exc:
            raise BadRequest("body is not UTF-8 text") from exc
        plans = read_service_plan_csv(text.splitlines(keepends=True), "request body")
    else:
        body = await json_object(request, {"plans"}, {"plans"})
        try:
            plans = service_plans_from_rows(service_plan_rows(body["plans"]), "request body")
        except ServicePlanFileError as exc:
            raise PlanImportError(exc, in_json=True) from exc
    async with audited(request, "import", "service_plan") as change:
        try:
            report = await service_plan_store.import_service_plans(change.conn, plans, "request body")
        except ServicePlanFileError as exc:
            raise PlanImportError(exc, in_json=request.content_type != "text/csv") from exc
        answer = plan_import_json(report)
        change.fields(None, {key: len(value) for key, value in answer.items() if isinstance(value, list)})
    return web.json_response(answer)
