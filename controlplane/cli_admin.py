"""``clickphone admin ...``: the admin operations from the command line, on
the database the settings name: the same services the admin HTTP API calls
(the owning packages', and :mod:`web.admin_operations` where an operation
spans owners or causes an email).

Each command prints its result as JSON on stdout; a refusal is printed as
``Error: <reason>`` with exit status 1, a malformed argument with exit
status 2 (Click's conventions) — never a traceback. Amounts are decimal
euros (``10.50``: ASCII digits, at most 6 decimals); ids are ASCII digits;
the bounds of each value are those listed in :mod:`web.admin_input`. The
CLI runs beside the control plane, not in
it: ``account suspend`` marks the account suspended (with its cause, which
the month's fee depends on: art. 9.2), and the running control plane's live
calls of that account stop at the end of their current chunk (use the HTTP
API to end them at once).
"""

from __future__ import annotations

import getpass
import json
from datetime import date
from typing import Any, Awaitable, Callable, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from admission.policy import MAX_CONCURRENT_CALLS
from admission import service as admission_service
from billing import ledger, subscriptions, suspensions
from billing.invoicing import one_off
from billing.invoicing.one_off import MAX_QUANTITY, MAX_UNIT_PRICE_MICRO
from billing.suspension_causes import CAUSE_NAMES, MAX_NOTE_CHARS, SUSPENSION_CAUSES
from billing.money import format_micro
from billing.numbering import default_numbering_plan
from notify.notifier import Notifier
from notify.render import Renderer
from provisioning import services as provisioning
from provisioning.numbers import add_did_as_written
from web import admin_input
from web import admin_operations as operations
from web.audited import Change
from web.schemas import (
    account_json,
    invoice_summary_json,
    one_off_charge_json,
    plans_json,
    policy_json,
    suspension_json,
)

from .cli_params import DAY, command_invoicing

from .cli_support import run_audited, run_on_database
from .recipients import account_contact
from .settings import Settings

T = TypeVar("T")


def _run(work: Callable[[AsyncEngine, Settings], Awaitable[T]]) -> T:
    """Run ``work`` on a migrated engine; the owners' refusals become
    AdminErrors (as in the HTTP API), and AdminErrors Click errors."""
    try:
        with admin_input.refusals():
            return run_on_database(work)
    except admin_input.AdminError as exc:
        raise click.ClickException(str(exc)) from exc


def _change(work: Callable[[Any, Settings, Change], Awaitable[T]], action: str, resource: str,
            resource_id: str | int | None = None) -> T:
    """:func:`_run` as one change audited under the ``cli`` actor, in its transaction."""
    try:
        with admin_input.refusals():
            return run_audited(work, action=action, resource=resource, resource_id=resource_id)
    except admin_input.AdminError as exc:
        raise click.ClickException(str(exc)) from exc


def _emails(settings: Settings) -> operations.AccountEmails:
    """How the CLI's operations tell a subscriber: queued in the outbox in
    the operator's zone; the running control plane's dispatcher sends them."""
    return operations.AccountEmails(Notifier(Renderer(timezone=settings.timezone)), account_contact)


def _echo(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _micro(value: str | None, name: str, *, maximum_micro: int, positive: bool = False) -> int | None:
    """The euros ``value`` in micro-euros, within its bounds; a usage error naming ``name``."""
    if value is None:
        return None
    try:
        return admin_input.amount_micro(name, value, minimum_micro=1 if positive else 0,
                                        maximum_micro=maximum_micro)
    except admin_input.InvalidInputError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"{name}: "), param_hint=name) from exc


class WholeNumber(click.ParamType):
    """A whole number in ASCII digits (click's INT also takes " 5 ", "1_000"
    and "١"), from ``minimum`` to ``maximum``."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Return the whole number ``value`` is; a usage error (exit 2) naming it otherwise."""
        if isinstance(value, int):
            return value  # a default
        text = str(value)
        if len(text) > 20 or not text.isascii() or not text.isdigit() or not (
                self.minimum <= int(text) <= self.maximum):
            self.fail(f"{admin_input.shown(text)} is not a whole number from {self.minimum} to {self.maximum}",
                      param, ctx)
        return int(text)


ID = WholeNumber(1, admin_input.MAX_ID)


def _changed_by() -> str:
    try:
        return f"CLI ({getpass.getuser()})"
    except (KeyError, OSError):
        return "CLI"


@click.group("admin")
def admin_group() -> None:
    """Administer subscribers, numbers, accounts, admin users and their API tokens."""


# -- subscribers and numbers ------------------------------------------------------
@admin_group.group("subscriber")
def subscriber_group() -> None:
    """Subscribers with their SIP endpoint and billing account."""


@subscriber_group.command("create")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--language", default="ro", show_default=True)
@click.option("--username", required=True, help="SIP username of the endpoint.")
@click.option("--caller-id", "caller_id_number", required=True, help="Caller ID number of the endpoint.")
@click.option("--display-name")
@click.option("--account-code", required=True, help="Billing account code (the CDR accountcode).")
@click.option("--kind", type=click.Choice(["prepaid", "postpaid"]), default="prepaid", show_default=True)
@click.option("--credit-limit", help="Postpaid credit limit in euros.")
@click.option("--daily-limit", help="Daily spend limit in euros (none by default).")
@click.option("--plan", help="Service plan the account is on (see `clickphone plans list`).")
@click.option("--plan-start", type=DAY, help="First day on the plan (default: today, Europe/Bucharest).")
@click.option("--charge", "charges", multiple=True, metavar="DESCRIPTION=EUR",
              help="A one-off charge (equipment...), EUR excl. VAT; repeatable, at most 20. With it, or a "
                   "plan's set-up fee, a one-off invoice is issued today.")
@click.option("--inactive-until-paid/--active-at-once", "inactive_until_paid", default=None,
              help="With a one-off invoice: refuse paid calls until it is paid (default: the setting "
                   "activation_requires_payment).")
def subscriber_create(name, email, language, username, caller_id_number, display_name, account_code, kind,
                      credit_limit, daily_limit, plan, plan_start, charges, inactive_until_paid) -> None:
    """Create a subscriber, its SIP endpoint and its account; prints the
    endpoint's generated SIP password (shown only now). With --plan, the
    account is on that service plan from --plan-start. The plan's set-up fee
    and each --charge are invoiced in advance today on one one-off invoice
    (due in 5 working days), emailed to the subscriber."""
    credit = _micro(credit_limit, "--credit-limit", maximum_micro=admin_input.MAX_LIMIT_MICRO) or 0
    daily = _micro(daily_limit, "--daily-limit", maximum_micro=admin_input.MAX_LIMIT_MICRO)
    wanted = [_charge(text) for text in charges]

    async def work(conn: Any, settings: Settings, change: Change) -> operations.NewSubscriber:
        created = await operations.create_subscriber(
            conn, name=name, email=email, language=language, username=username,
            caller_id_number=caller_id_number, display_name=display_name, account_code=account_code,
            kind=kind, credit_limit_micro=credit, daily_limit_micro=daily, realm=settings.sip_realm,
            plan=plan, plan_start=plan_start, charges=wanted, inactive_until_paid=inactive_until_paid,
            one_off_invoicing=_one_off_invoicing(conn.engine, settings),
        )
        change.resource_id = created.subscriber.id
        # never the SIP password: it is printed once, and only its digest is stored
        change.fields(None, {"name": name, "email": email, "username": username, "account_id": created.account.id,
                             "account_code": account_code, "kind": kind, "plan": plan,
                             "invoice": None if created.invoice is None else created.invoice.number})
        return created

    created = _change(work, "create", "subscriber")
    _echo({"subscriber_id": created.subscriber.id,
           "endpoint": {"username": created.endpoint.username, "password": created.endpoint.password},
           "account": {**account_json(created.account), "plan": plan},
           "invoice": None if created.invoice is None else invoice_summary_json(created.invoice)})


def _charge(text: str) -> operations.ChargeRequest:
    """``DESCRIPTION=EUR`` as a one-off charge of one unit; a usage error naming --charge otherwise."""
    description, separator, amount = text.rpartition("=")
    if not separator:
        raise click.BadParameter(f"{admin_input.shown(text)} is not DESCRIPTION=EUR", param_hint="--charge")
    price = _micro(amount.strip(), "--charge", maximum_micro=MAX_UNIT_PRICE_MICRO, positive=True)
    return operations.ChargeRequest(description, price or 0)


def _one_off_invoicing(engine: AsyncEngine, settings: Settings) -> operations.OneOffInvoicing:
    """How this command issues one-off invoices: emails wait in the outbox."""
    return operations.OneOffInvoicing(command_invoicing(engine, settings), settings.supplier,
                                      settings.activation_requires_payment)


@admin_group.group("endpoint")
def endpoint_group() -> None:
    """SIP endpoints."""


@endpoint_group.command("reset-password")
@click.argument("username")
def endpoint_reset_password(username: str) -> None:
    """Give the SIP endpoint USERNAME a new generated password and print it
    (shown only now: only its digest credential is stored). The old one
    stops working when the running control plane next syncs Asterisk."""

    async def work(conn: Any, settings: Settings, _: Change) -> Any:
        # the action says a new password was given; no field holds it (only its digest is stored)
        return await provisioning.reset_password(conn, username, realm=settings.sip_realm)

    endpoint = _change(work, "reset_password", "endpoint", username)
    _echo({"endpoint": {"username": endpoint.username, "password": endpoint.password}})


@admin_group.group("did")
def did_group() -> None:
    """Our numbers (DIDs)."""


@did_group.command("add")
@click.argument("number")
@click.option("--subscriber", "subscriber_id", type=ID, required=True)
@click.option("--ring-seconds", type=WholeNumber(5, 120), default=25, show_default=True)
@click.option("--no-voicemail", is_flag=True, help="Missed calls get no voicemail.")
def did_add(number: str, subscriber_id: int, ring_seconds: int, no_voicemail: bool) -> None:
    """Give a subscriber the number NUMBER (+40..., 0040... or 0...)."""

    async def work(conn: Any, settings: Settings, change: Change) -> Any:
        did = await add_did_as_written(conn, number=number, subscriber_id=subscriber_id,
                                       plan=default_numbering_plan(), ring_seconds=ring_seconds,
                                       voicemail_enabled=not no_voicemail)
        change.resource_id = did.number
        change.fields(None, {"number": did.number, "subscriber_id": subscriber_id, "ring_seconds": ring_seconds,
                             "voicemail_enabled": not no_voicemail})
        return did

    did = _change(work, "create", "did")
    _echo({"number": did.number, "subscriber_id": did.subscriber_id})


# -- accounts -----------------------------------------------------------------------
@admin_group.group("account")
def account_group() -> None:
    """Billing accounts: money, policy, suspension."""


@account_group.command("show")
@click.argument("account_id", type=ID)
def account_show(account_id: int) -> None:
    """Print the account, its balance, its call policy, its service plan
    today with the history of its plans, and its open suspension."""
    summary = _run(lambda engine, settings: operations.account_summary(engine, account_id))
    _echo({**account_json(summary.account), "balance": format_micro(summary.balance_micro),
           "available": format_micro(summary.available_micro),
           "spent_today": format_micro(summary.spent_today_micro), "live_calls": summary.live_calls,
           "policy": policy_json(summary.policy), **plans_json(summary.plans, summary.today),
           "suspension": suspension_json(summary.suspension)})


@account_group.command("plan")
@click.argument("account_id", type=ID)
@click.argument("plan")
@click.option("--immediately", is_flag=True,
              help="From today, this month pro-rated between both plans (default: from the 1st of next month).")
def account_plan(account_id: int, plan: str, immediately: bool) -> None:
    """Put ACCOUNT_ID on service plan PLAN from the 1st of next month (or
    today, --immediately); prints the first day and the history of plans."""
    today = subscriptions.contract_day()

    async def work(conn: Any, settings: Settings, change: Change) -> tuple[subscriptions.Subscription, list]:
        before = plans_json(await subscriptions.plan_history(conn, account_id), today)["plan"]
        changed = await subscriptions.change_plan(conn, account_id, plan, today=today, immediately=immediately)
        change.fields({"plan": before}, {"plan": plan, "from_day": changed.from_day.isoformat()})
        return changed, await subscriptions.plan_history(conn, account_id)

    changed, history = _change(work, "change_plan", "account", account_id)
    _echo({"account_id": account_id, "from_day": changed.from_day.isoformat(), **plans_json(history, today)})


@account_group.command("plan-end")
@click.argument("account_id", type=ID)
@click.option("--last-day", type=DAY, required=True,
              help="The account's last day on its plan, YYYY-MM-DD (that month is pro-rated by days of service).")
def account_plan_end(account_id: int, last_day: date) -> None:
    """End ACCOUNT_ID's service plan after --last-day (changes planned after
    it are dropped); refused into a month already invoiced. Prints the
    history of plans."""

    async def work(conn: Any, settings: Settings, change: Change) -> list:
        change.fields(None, {"last_day": last_day.isoformat()})
        return await operations.end_plan(conn, account_id, last_day)

    history = _change(work, "end_plan", "account", account_id)
    _echo({"account_id": account_id, "last_day": last_day.isoformat(),
           **plans_json(history, subscriptions.contract_day())})


@account_group.command("top-up")
@click.argument("account_id", type=ID)
@click.argument("amount")
@click.option("--reference", default="", help="Payment reference, shown in the email (at most 200 characters).")
@click.option("--idempotency-key", help="Repeat with the same key: credited (and emailed) once. "
                                        "1 to 128 letters, digits, '.', '_' or '-'.")
def account_top_up(account_id: int, amount: str, reference: str, idempotency_key: str | None) -> None:
    """Credit ACCOUNT_ID with AMOUNT euros (more than 0, at most 100,000)
    and email the subscriber."""
    micro = _micro(amount, "AMOUNT", maximum_micro=admin_input.MAX_TOP_UP_MICRO, positive=True)

    async def work(conn: Any, settings: Settings, change: Change) -> Any:
        result = await operations.top_up(conn, account_id, micro, reference=reference,
                                         idempotency_key=idempotency_key, emails=_emails(settings))
        change.fields({"balance": format_micro(result.balance_micro - result.entry.amount_micro)},
                      {"balance": format_micro(result.balance_micro), "amount": format_micro(result.entry.amount_micro),
                       "reference": reference, "entry_id": result.entry.id})
        return result

    result = _change(work, "top_up", "account", account_id)
    _echo({"entry_id": result.entry.id, "balance": format_micro(result.balance_micro)})


@account_group.command("charge")
@click.argument("account_id", type=ID)
@click.option("--description", required=True, help="What is charged (1 to 200 characters).")
@click.option("--amount", required=True, help="Unit price in euros excl. VAT (more than 0, at most 100,000).")
@click.option("--quantity", type=WholeNumber(1, MAX_QUANTITY), default=1, show_default=True)
def account_charge(account_id: int, description: str, amount: str, quantity: int) -> None:
    """Add a one-off charge (equipment, set-up...) to ACCOUNT_ID, invoiced in
    advance by `clickphone invoice one-off ACCOUNT_ID`."""
    price = _micro(amount, "--amount", maximum_micro=MAX_UNIT_PRICE_MICRO, positive=True)

    async def work(conn: Any, settings: Settings, change: Change) -> Any:
        charge = await one_off.add_one_off_charge(conn, account_id, description=description,
                                                  unit_price_micro=price or 0, quantity=quantity)
        change.resource_id = charge.id
        change.fields(None, one_off_charge_json(charge))
        return charge

    charge = _change(work, "create", "one_off_charge")
    _echo(one_off_charge_json(charge))


@account_group.command("policy")
@click.argument("account_id", type=ID)
@click.option("--allow", "allow", multiple=True, metavar="CIDR",
              help="Allowed source address or network (repeatable); replaces the list.")
@click.option("--allow-anywhere", is_flag=True, help="Empty the allowlist: calls from any address.")
@click.option("--premium/--no-premium", default=None, help="Premium-rate numbers.")
@click.option("--international/--no-international", default=None, help="International calls.")
@click.option("--block", "block", multiple=True, metavar="PREFIX",
              help="Blocked prefix of E.164 digits (repeatable); replaces the list.")
@click.option("--unblock-all", is_flag=True, help="Empty the blocked-prefix list.")
@click.option("--max-calls", type=WholeNumber(0, MAX_CONCURRENT_CALLS), help="Concurrent-call limit.")
def account_policy(account_id: int, allow: tuple[str, ...], allow_anywhere: bool, premium: bool | None,
                   international: bool | None, block: tuple[str, ...], unblock_all: bool,
                   max_calls: int | None) -> None:
    """Change ACCOUNT_ID's call policy; options not given keep their value.
    A changed allowlist is emailed to the subscriber."""
    if allow and allow_anywhere:
        raise click.UsageError("--allow and --allow-anywhere contradict each other")
    if block and unblock_all:
        raise click.UsageError("--block and --unblock-all contradict each other")
    networks = list(allow) if allow else ([] if allow_anywhere else None)
    prefixes = list(block) if block else ([] if unblock_all else None)

    async def work(conn: Any, settings: Settings, audit: Change) -> Any:
        await ledger.get_account(conn, account_id)  # unknown: refused before its policy is read
        before = policy_json(await admission_service.account_policy(conn, account_id))
        change = await operations.set_account_policy(
            conn, account_id, emails=_emails(settings), allowed_networks=networks, premium_enabled=premium,
            international_enabled=international, blocked_prefixes=prefixes, max_concurrent_calls=max_calls,
            changed_by=_changed_by())
        audit.fields(before, policy_json(change.policy))
        return change

    change = _change(work, "set_policy", "account", account_id)
    _echo({"policy": policy_json(change.policy), "allowed_ips_change_id": change.allowed_ips_change_id})


_CAUSES_HELP = "; ".join(f"{c.name}: {c.description}" for c in SUSPENSION_CAUSES.values())


@account_group.command("suspend")
@click.argument("account_id", type=ID)
@click.option("--cause", required=True, type=click.Choice(CAUSE_NAMES),
              help=f"Why (the month's fee depends on it, art. 9.2) — {_CAUSES_HELP}.")
@click.option("--note", default=None, metavar="TEXT", help=f"What happened, at most {MAX_NOTE_CHARS} characters.")
def account_suspend(account_id: int, cause: str, note: str | None) -> None:
    """Suspend the active ACCOUNT_ID for --cause: only 112, 116xxx and 0800
    still connect. Its live calls stop at the end of their current chunk
    (the running control plane's next extension is refused); the HTTP API
    ends them at once. Prints the suspension."""

    async def work(conn: Any, settings: Settings, change: Change) -> Any:
        suspension = await suspensions.suspend(conn, account_id, cause, note)
        change.fields({"status": "active"}, {"status": "suspended", "cause": cause, "note": note})
        return suspension

    suspension = _change(work, "suspend", "account", account_id)
    _echo({"account_id": account_id, "status": "suspended", "suspension": suspension_json(suspension)})


@account_group.command("reinstate")
@click.argument("account_id", type=ID)
def account_reinstate(account_id: int) -> None:
    """Make the suspended ACCOUNT_ID active again; prints the suspension it ended."""

    async def work(conn: Any, settings: Settings, change: Change) -> Any:
        change.fields({"status": "suspended"}, {"status": "active"})
        return await suspensions.reinstate(conn, account_id)

    ended = _change(work, "reinstate", "account", account_id)
    _echo({"account_id": account_id, "status": "active", "suspension": suspension_json(ended)})


@account_group.command("suspensions")
@click.argument("account_id", type=ID)
def account_suspensions(account_id: int) -> None:
    """Print ACCOUNT_ID's suspensions, oldest first: cause, whether the fee
    stays due for their days, note, start and end (null while it lasts)."""
    history = _run(lambda engine, settings: suspensions.suspension_history(engine, account_id))
    _echo({"account_id": account_id, "suspensions": [suspension_json(s) for s in history]})
