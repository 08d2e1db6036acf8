"""Interim invoices: usage so far in a month, invoiced at any time (contract art. 7.1.4).

"The operator can issue an invoice at any time for usage so far in the
month; the monthly invoice then covers only the rest." An interim invoice
(kind ``interim``) of an account, up to an instant ``until`` (default: now),
holds the month's usage so far, gathered by the monthly run's own function
(:func:`billing.invoicing.usage.gather_usage`):

* the account's calls on no invoice yet whose call **started** in the
  month, before ``until``, as rated now, with their re-rating entries;
* re-rating corrections of calls already invoiced, SMS charges and other
  adjustment entries recorded in the month before ``until`` and on no
  invoice yet.

Nothing of an earlier month: a call of last month is last month's monthly
invoice's (even when that run has not happened yet), and a late call of a
month already invoiced goes on the next monthly invoice, as it would
without interim invoices.

It does **not** hold the month's recurring fee (invoiced in arrears, on the
monthly invoice, whole) nor exchange differences of late payments in lei
(they go on the next monthly invoice). Each CDR and each ledger entry is on
exactly one invoice: the monthly invoice of the month, and any later interim
invoice, skip what an interim one already took. Several interim invoices in
one month are allowed; each takes what the previous did not.

Dates: issued today (Europe/Bucharest), due :func:`billing.invoicing.penalty.due_date`
of that; the period is the month of ``until``'s local date, from its 1st to
that date. Its bundle is the month's, and ``bundle_used_seconds`` counts the
month's included seconds so far (this invoice's calls and the month's earlier
interim ones), as the monthly invoice then counts the whole month's.

Refusals (:mod:`billing.invoicing.errors`), before any number is taken:
``until`` in the future or without a time zone (:class:`InvalidUntilError`);
the month already has its monthly invoice (:class:`AlreadyInvoicedError`);
the account's CDRs before ``until`` still on their way — unread in a followed
CDR file, or its calls still live (:class:`UsageNotIngestedError`, unless
``allow_uningested``); nothing to invoice (:class:`NothingToInvoiceError`);
and those of :func:`billing.invoicing.storing.issue_terms` (series, issue
date order, supplier, BNR rate).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.fx_store import DEFAULT_MAX_AGE_DAYS
from billing.invoicing import penalty
from billing.invoicing.errors import (
    AlreadyInvoicedError,
    InvalidUntilError,
    NothingToInvoiceError,
    UsageNotIngestedError,
)
from billing.invoicing.records import DEFAULT_SERIES, INTERIM, MONTHLY, Invoice, parse_period, period_bounds
from billing.invoicing.storing import CustomerLookup, InvoiceContent, IssuedHook, issue_terms, store_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.tables import invoices
from billing.invoicing.uningested import uningested_usage
from billing.invoicing.usage import candidate_calls, gather_usage, month_bundle_used
from billing.subscriptions import month_terms
from billing.tariffs import CONTRACT_TZ
from sqlbase import Db, transaction, utc_now


async def issue_interim_invoice(
    db: Db,
    account_id: int,
    *,
    supplier: Supplier,
    until: datetime | None = None,
    series: str = DEFAULT_SERIES,
    now: datetime | None = None,
    customers: CustomerLookup | None = None,
    on_issued: IssuedHook | None = None,
    allow_uningested: bool = False,
    max_fx_age_days: int = DEFAULT_MAX_AGE_DAYS,
) -> Invoice:
    """Issue account ``account_id``'s interim invoice of its usage before
    ``until`` (an aware instant; default ``now``) and return it.

    See the module docstring for what it holds and its refusals; an unknown
    account raises :class:`~billing.errors.UnknownAccountError`. In one
    transaction (the account's lock, then the series counter's), with
    ``on_issued`` called in it, as for a monthly invoice.
    """
    now = now or utc_now()
    until = now if until is None else until
    if until.tzinfo is None or until.utcoffset() is None:
        raise InvalidUntilError(
            f"until: {until.isoformat()} has no time zone; give an instant such as 2025-07-20T12:00+03:00"
        )
    if until > now:
        raise InvalidUntilError(
            f"until: {until.astimezone(CONTRACT_TZ).isoformat(timespec='minutes')} is in the future "
            f"(now is {now.astimezone(CONTRACT_TZ).isoformat(timespec='minutes')}): "
            "an interim invoice holds usage so far"
        )
    local_until = until.astimezone(CONTRACT_TZ)
    label = local_until.strftime("%Y-%m")
    period = parse_period(label)
    await ledger.get_account(db, account_id)  # unknown account: refused before anything else
    async with transaction(db) as conn:
        await _refuse_invoiced_month(conn, account_id, label)
    issue = now.astimezone(CONTRACT_TZ).date()
    terms = await issue_terms(
        db, issue, penalty.due_date(issue), supplier=supplier, series=series, now=now,
        max_fx_age_days=max_fx_age_days, customers=customers, on_issued=on_issued,
    )  # fmt: skip
    start, _ = period_bounds(period)
    uningested = await uningested_usage(db, start, until, now, account_id=account_id)
    if uningested.waiting and not allow_uningested:
        raise UsageNotIngestedError(f"usage of account {account_id} before {local_until.isoformat(timespec='minutes')}",
                                    uningested)
    lookback = start  # the month's usage only: earlier months are their monthly invoices'
    async with transaction(db) as conn:
        account = await ledger.locked_account(conn, account_id)
        await _refuse_invoiced_month(conn, account_id, label)  # again, under the lock
        cdr_ids = (await candidate_calls(conn, lookback, until, account_id=account_id)).get(account_id, [])
        usage = await gather_usage(
            conn, account_id, cdr_ids, lookback=lookback, end=until, label=label, corrections_before=until
        )
        if usage.empty:
            raise NothingToInvoiceError(
                f"account {account.code} has nothing to invoice before {local_until.isoformat(timespec='minutes')}: "
                "no call, SMS or adjustment that is not on an invoice already"
            )
        plan = await month_terms(conn, account_id, label)
        content = InvoiceContent(
            kind=INTERIM, period=label, period_first=period.first, period_last=local_until.date(),
            drafts=usage.drafts, accounted=usage.accounted, calls=usage.calls,
            bundle_seconds=account.included_seconds if plan is None else plan.included_seconds,
            bundle_used_seconds=await month_bundle_used(conn, account_id, label, usage.calls),
        )  # fmt: skip
        return await store_invoice(conn, terms, account, content)


async def _refuse_invoiced_month(conn: AsyncConnection, account_id: int, label: str) -> None:
    monthly = await conn.scalar(
        select(invoices.c.id)
        .where(invoices.c.account_id == account_id, invoices.c.period == label, invoices.c.kind == MONTHLY)
        .limit(1)
    )
    if monthly is not None:
        raise AlreadyInvoicedError(
            f"{label} of account {account_id} already has its monthly invoice: its usage is invoiced; "
            "later calls of it go on the next monthly invoice"
        )
