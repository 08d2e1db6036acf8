"""The JSON shapes of the admin API's answers, shared with the CLI's output.

Plain data out (no aiohttp here): money as decimal-euro strings with six
decimals, networks as their CIDR text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from admission.policy import AccountPolicy
from billing.invoicing.one_off import OneOffCharge
from billing.invoicing.records import Invoice
from billing.ledger import Account
from billing.money import format_micro
from billing.service_plan_store import ImportReport
from billing.service_plans import ServicePlan, ServicePlanVersions
from billing.subscriptions import Subscription, plan_on
from billing.suspensions import Suspension


def euros(micro: int | None) -> str | None:
    """Micro-euros as the API writes money: decimal euros, six decimals, a string."""
    return None if micro is None else format_micro(micro)


def account_json(account: Account) -> dict[str, Any]:
    """The account as the admin API and the CLI show it."""
    return {
        "id": account.id, "code": account.code, "kind": account.kind, "status": account.status,
        "subscriber_id": account.subscriber_id, "credit_limit": euros(account.credit_limit_micro),
        "daily_limit": euros(account.daily_limit_micro), "tariff": account.tariff,
        "language": account.language,
    }


def suspension_json(suspension: Suspension | None) -> dict[str, Any] | None:
    """A suspension as the admin API and the CLI show it (None: none):
    its cause, whether the month's fee stays due for its days (art. 9.2),
    its note, and when it started and ended (null while it lasts)."""
    if suspension is None:
        return None
    return {
        "id": suspension.id, "cause": suspension.cause, "fee_due": suspension.fee_due, "note": suspension.note,
        "started_at": suspension.started_at.isoformat(),
        "ended_at": None if suspension.ended_at is None else suspension.ended_at.isoformat(),
    }


def plans_json(history: list[Subscription], today: date) -> dict[str, Any]:
    """The account's service plan on ``today`` (null: none) and its history,
    oldest first: each plan from a day until the day before ``until_day``
    (null: still on it)."""
    current = plan_on(history, today)
    return {
        "plan": None if current is None else current.plan,
        "plan_history": [
            {"plan": s.plan, "from_day": s.from_day.isoformat(),
             "until_day": None if s.until_day is None else s.until_day.isoformat()}
            for s in history
        ],
    }


def policy_json(policy: AccountPolicy) -> dict[str, Any]:
    """The account's call policy as the admin API and the CLI show it."""
    return {
        "allowed_networks": [str(n) for n in policy.allowed_networks],
        "premium_enabled": policy.premium_enabled,
        "international_enabled": policy.international_enabled,
        "blocked_prefixes": list(policy.blocked_prefixes),
        "max_concurrent_calls": policy.max_concurrent_calls,
    }


def service_plan_version_json(plan: ServicePlan) -> dict[str, Any]:
    """One version of a service plan: days as YYYY-MM-DD (``effective_to``
    exclusive, null when open-ended), the fee and the set-up fee (null:
    none) in euros excluding VAT, and the included minutes by destination group."""
    return {
        "version": plan.version, "effective_from": plan.effective_from.isoformat(),
        "effective_to": plan.effective_to.isoformat() if plan.effective_to else None,
        "monthly_fee": euros(plan.monthly_fee_micro), "tariff": plan.tariff,
        "included_minutes": {a.group: a.minutes for a in plan.allowances}, "description": plan.description,
        "setup_fee": None if plan.setup_fee_micro is None else euros(plan.setup_fee_micro),
    }


def service_plan_json(plan: ServicePlanVersions) -> dict[str, Any]:
    """A service plan as the admin API and the CLI show it: its versions in force, oldest first."""
    return {"name": plan.name, "versions": [service_plan_version_json(v) for v in plan.versions]}


def plan_import_json(report: ImportReport) -> dict[str, Any]:
    """What a service plan import did: the versions added, unchanged and superseded."""
    return {
        what: [{"plan": plan, "version": version} for plan, version in pairs]
        for what, pairs in (("added", report.added), ("unchanged", report.unchanged),
                            ("superseded", report.superseded))
    }


def one_off_charge_json(charge: OneOffCharge) -> dict[str, Any]:
    """A one-off charge: unit price and total in euros excl. VAT, the invoice id once invoiced."""
    return {
        "id": charge.id, "account_id": charge.account_id, "description": charge.description,
        "quantity": charge.quantity, "unit_price": euros(charge.unit_price_micro), "net": euros(charge.net_micro),
        "invoice_id": charge.invoice_id,
    }


def invoice_summary_json(invoice: Invoice) -> dict[str, Any]:
    """An issued invoice in short: number, kind, dates, totals (EUR and RON)."""
    return {
        "number": invoice.number, "kind": invoice.kind, "account_id": invoice.account_id,
        "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
        "total": euros(invoice.total_micro), "total_ron": euros(invoice.total_ron_micro),
        "payable": invoice.payable,
    }
