"""The monthly run: issue each account's invoice of a period, in RON.

:func:`run_invoices` gathers what an invoice accounts for
(:mod:`billing.invoicing.usage`), prices its lines (VAT per line, RON per
line at the BNR rate), takes the next gapless number and stores the
invoice with its lines, calls and ledger entries, in one transaction per
account; see :mod:`billing.invoicing` for what an invoice holds. The
exchange differences of late payments in lei (:mod:`billing.invoicing.exchange`)
go on the account's next invoice with their lei as computed, each written
to the ledger (in euros at the invoice's rate) as the invoice is issued.
What the month's interim invoices (:mod:`billing.invoicing.interim`) took
is on an invoice already, so the monthly one holds only the rest, with the
fee; its ``bundle_used_seconds`` is still the whole month's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger, suspensions
from billing.fx_store import DEFAULT_MAX_AGE_DAYS, StoredRate
from billing.invoicing import exchange, penalty
from billing.invoicing.downtime import downtime_days
from billing.invoicing.errors import InvalidPeriodError, UsageNotIngestedError
from billing.invoicing.presentation import days_ro, month_name
from billing.invoicing.records import (
    DEFAULT_SERIES,
    DOWNTIME_CREDIT,
    MONTHLY,
    RECURRING,
    SUSPENSION_CREDIT,
    Invoice,
    InvoiceLine,
    parse_period,
    period_bounds,
    period_label,
)
from billing.invoicing.recurring import BillingPeriod, issue_date_for, recurring_fee
from billing.invoicing.storing import (
    CustomerLookup,
    InvoiceContent,
    IssuedHook,
    IssueTerms,
    issue_terms,
    store_invoice,
)
from billing.invoicing.supplier import Supplier
from billing.invoicing.tables import invoices
from billing.invoicing.uningested import UningestedUsage, uningested_usage
from billing.invoicing.usage import (
    Draft,
    candidate_calls,
    gather_usage,
    month_bundle_used,
)
from billing.subscriptions import month_terms
from billing.tables import ADJUSTMENT, RECURRING_FEE, account_service_plans, accounts
from billing.tariffs import CONTRACT_TZ
from sqlbase import Db, transaction, utc_now

__all__ = ["CustomerLookup", "IssuedHook", "RunReport", "run_invoices"]

LATE_CALL_LOOKBACK_DAYS = 366
"""How far before the period an uninvoiced call (or ledger entry) is still
looked for: a CDR ingested more than a year after its call is not invoiced
automatically (it stays in the ledger)."""

@dataclass
class RunReport:
    """What one invoice run did."""

    period: str
    issue_date: date
    series: str
    fx: StoredRate
    vat_rate: Decimal
    issued: list[Invoice] = field(default_factory=list)
    already_invoiced: int = 0
    nothing_to_invoice: int = 0
    uningested: UningestedUsage = field(default_factory=UningestedUsage)  # what was not charged yet


@dataclass(frozen=True)
class _Run:
    period: BillingPeriod
    label: str
    start: datetime
    end: datetime
    lookback: datetime
    down_days: tuple[date, ...]
    terms: IssueTerms


async def run_invoices(
    db: Db,
    period: str,
    issue_date: date | None = None,
    *,
    supplier: Supplier,
    series: str = DEFAULT_SERIES,
    max_fx_age_days: int = DEFAULT_MAX_AGE_DAYS,
    customers: CustomerLookup | None = None,
    on_issued: IssuedHook | None = None,
    account_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    allow_uningested: bool = False,
) -> RunReport:
    """Issue the invoices of ``period`` (``'YYYY-MM'``) for every account (or ``account_ids``).

    ``issue_date`` defaults to the 1st of the next month. ``supplier``, the
    issuer, is checked (:func:`checked_supplier`) and stored, normalised, on
    each invoice issued. Idempotent: an account's period is invoiced once;
    running again issues only what is missing. One transaction per account (its lock, then the series
    counter's). Raise before issuing anything when the period or issue date
    is invalid (:class:`InvalidPeriodError`, :class:`InvoiceChronologyError`),
    a supplier detail is (:class:`InvalidSupplierError`)
    or there is no valid FX rate (:class:`~billing.fx_bnr.MissingRateError`,
    :class:`~billing.fx_bnr.StaleRateError`). An error while issuing one
    account's invoice (the ``on_issued`` hook failing, or
    :class:`InvoiceConsistencyError`) rolls that invoice back — its number
    is not consumed — and ends the run; the invoices issued before it stay,
    and running again carries on.

    Usage is the calls that **started** in the period. While CDRs of the
    period are still on their way — unread in a followed CDR file, or calls
    of the period still live (:func:`billing.invoicing.uningested.uningested_usage`)
    — raise :class:`UsageNotIngestedError` before issuing anything, unless
    ``allow_uningested``. Quarantined CDRs of the period do not stop the run
    (waiting will not bring them): the report's ``uningested`` counts them.
    """
    now = now or utc_now()
    billing_period = parse_period(period)
    issue = issue_date or issue_date_for(billing_period)
    if issue <= billing_period.last:
        raise InvalidPeriodError(
            f"{period} is invoiced after it ends: issue date {issue.isoformat()} is too early"
        )
    today = now.astimezone(CONTRACT_TZ).date()
    if issue > today:
        raise InvalidPeriodError(f"issue date {issue.isoformat()} is in the future (today is {today.isoformat()})")
    terms = await issue_terms(
        db, issue, penalty.due_date(issue), supplier=supplier, series=series, now=now,
        max_fx_age_days=max_fx_age_days, customers=customers, on_issued=on_issued,
    )  # fmt: skip
    start, end = period_bounds(billing_period)
    uningested = await uningested_usage(db, start, end, now)
    if uningested.waiting and not allow_uningested:
        raise UsageNotIngestedError(period_label(billing_period), uningested)
    run = _Run(
        period=billing_period,
        label=period_label(billing_period),
        start=start,
        end=end,
        lookback=start - timedelta(days=LATE_CALL_LOOKBACK_DAYS),
        down_days=tuple(day for day, _ in await downtime_days(db, billing_period)),
        terms=terms,
    )
    report = RunReport(run.label, issue, series, terms.fx, terms.vat_rate, uningested=uningested)
    async with transaction(db) as conn:
        # an account recorded after the period is invoiced for it when its plan started in it
        on_plan = select(account_service_plans.c.account_id).where(
            account_service_plans.c.from_day <= billing_period.last)
        query = select(accounts.c.id).where(
            or_(accounts.c.created_at < end, accounts.c.id.in_(on_plan))).order_by(accounts.c.id)
        ids = list((await conn.scalars(query)).all())
        candidates = await candidate_calls(conn, run.lookback, run.end)
    if account_ids is not None:
        wanted = set(account_ids)
        ids = [i for i in ids if i in wanted]
    for account_id in ids:
        async with transaction(db) as conn:
            outcome = await _issue_one(conn, run, account_id, candidates.get(account_id, []))
        if isinstance(outcome, Invoice):
            report.issued.append(outcome)
        elif outcome == "already":
            report.already_invoiced += 1
        else:
            report.nothing_to_invoice += 1
    return report


async def _issue_one(conn: AsyncConnection, run: _Run, account_id: int, cdr_ids: list[int]) -> Invoice | str:
    account = await ledger.locked_account(conn, account_id)
    done = await conn.scalar(
        select(invoices.c.id).where(
            invoices.c.account_id == account_id, invoices.c.period == run.label, invoices.c.kind == MONTHLY)
    )
    if done is not None:
        return "already"
    # The month's service plans (pro-rated by days of service), else the account's own fee and bundle.
    terms = await month_terms(conn, account_id, run.label)
    suspended = await suspensions.excused_days(conn, account_id, run.period.first, run.period.last)
    fee = recurring_fee(account.monthly_fee_micro if terms is None else terms.fee_micro, run.period, run.down_days,
                        suspended)
    bundle_seconds = account.included_seconds if terms is None else terms.included_seconds
    fee_key = f"recurring_fee:{account_id}:{run.label}"

    drafts: list[Draft] = []
    if fee.fee_micro:
        description = f"Abonament lunar — {month_name(run.label)}"
        if terms is not None and terms.service_days < terms.month_days:
            description += f" ({days_ro(terms.service_days)} din {terms.month_days})"
        drafts.append(Draft(RECURRING, description, fee.fee_micro))
    if fee.credit_micro:
        drafts.append(
            Draft(
                DOWNTIME_CREDIT,
                f"Reducere abonament: {days_ro(fee.down_days)} de întrerupere din vina furnizorului "
                f"(din {run.period.days})",
                -fee.credit_micro,
                quantity=fee.down_days,
            )
        )
    if fee.suspension_credit_micro:
        drafts.append(Draft(
            SUSPENSION_CREDIT,
            f"Reducere abonament: {days_ro(fee.suspended_days)} de suspendare din motive neimputabile abonatului "
            f"(din {run.period.days})",
            -fee.suspension_credit_micro, quantity=fee.suspended_days,
        ))  # fmt: skip
    # this period's fee is accounted for below, once (skip_key)
    usage = await gather_usage(
        conn, account_id, cdr_ids, lookback=run.lookback, end=run.end, label=run.label, skip_key=fee_key
    )
    drafts.extend(usage.drafts)
    differences = await exchange.pending_differences(conn, account_id, run.period.last)
    drafts.extend(exchange.difference_draft(d, run.terms.fx.rate) for d in differences)
    if not drafts and not usage.calls:
        return "nothing"

    async def new_entries(conn: AsyncConnection, number: str, lines: Sequence[InvoiceLine]) -> list[Any]:
        written = []
        if fee.net_micro > 0:
            written.append(
                await ledger.append_entry(
                    conn, account_id, RECURRING_FEE, -fee.net_micro,
                    reference=f"abonament {run.label}, factura {number}",
                    idempotency_key=fee_key, now=run.terms.now,
                )  # fmt: skip
            )
        for difference, line in zip(differences, lines[len(lines) - len(differences):], strict=True):
            written.append(
                await ledger.append_entry(
                    conn, account_id, ADJUSTMENT, -line.net_micro,
                    reference=f"diferență de curs, factura {number}",
                    idempotency_key=f"exchange_difference:{difference.id}", now=run.terms.now,
                )  # fmt: skip
            )
        return written

    async def linked(conn: AsyncConnection, invoice_id: int) -> None:
        await exchange.mark_invoiced(conn, [d.id for d in differences], invoice_id)

    content = InvoiceContent(
        kind=MONTHLY, period=run.label, period_first=run.period.first, period_last=run.period.last,
        drafts=drafts, accounted=usage.accounted, calls=usage.calls, bundle_seconds=bundle_seconds,
        # the whole month's: the customer sees how much of the bundle the month used
        bundle_used_seconds=await month_bundle_used(conn, account_id, run.label, usage.calls),
        new_entries=new_entries, linked=linked,
    )  # fmt: skip
    return await store_invoice(conn, run.terms, account, content)
