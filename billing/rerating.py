"""Re-rating a period's CDRs after a tariff correction: adjustments, never edits.

:func:`rerate_period` rates again every CDR that started in ``[start, end)``
with the tariff versions now in force (a correction imported through
:mod:`billing.tariff_store` supersedes the version it corrects) and the
included minutes re-split in exact call-start order. For each CDR whose
cost or bundle split differs from its current one (its original rating, or
its latest adjustment):

* a ``cdr_adjustments`` row records the new rating under that tariff
  version (``delta_micro`` = new cost − previous cost);
* when the cost differs, ONE ``adjustment`` ledger entry of ``−delta``
  (a higher cost debits the account), idempotency key
  ``rerate:<cdr id>:<tariff version id>``;
* ``bundle_usage`` follows the new included seconds.

The ``cdrs`` rows keep their original rating: history is never edited.
Idempotent per CDR and tariff version: running it again finds nothing
different, and (cdr, version) is unique in ``cdr_adjustments``.

Bundle: a month's included seconds are its service plans' (pro-rated, per
destination group: :func:`billing.subscriptions.month_terms`,
:mod:`billing.included_minutes`) or else the account's own; the
period's calls of a month use what the month's calls before
``start`` left (as currently rated); calls after ``end`` in the same month
keep their rating, so re-rate whole months for an exact split (the monthly
close does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.cdr_format import ANSWERED
from billing.included_minutes import Pool, own_allowance, pool_group, pools_by_class
from billing.ingest import CdrIngester, ParsedCdr, add_bundle_seconds, contract_month
from billing.subscriptions import month_terms_of
from billing.numbering import OnNet
from billing.tables import ADJUSTMENT, accounts, cdr_adjustments, cdrs
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import insert_or_skip
from billing.tariffs import CONTRACT_TZ


@dataclass
class RerateReport:
    """What a re-rating did; ``delta_micro`` > 0 means customers now pay more."""

    cdrs: int = 0
    adjusted: int = 0
    unratable: int = 0
    delta_micro: int = 0


@dataclass(frozen=True, slots=True)
class _Current:
    """A CDR as it is rated now: originally, or by its latest adjustment."""

    cdr_id: int
    record: ParsedCdr
    number_class: str
    included_seconds: int
    charged_seconds: int
    cost_micro: int


async def rerate_period(
    db: Db,
    start: datetime,
    end: datetime,
    *,
    tariff: str | None = None,
    on_net: OnNet = frozenset(),
    now: datetime | None = None,
) -> RerateReport:
    """Re-rate the CDRs that started in ``[start, end)`` (of accounts on ``tariff``,
    default all) with the tariffs in force; write the adjustments; return what changed.

    One transaction per account, holding its lock.
    """
    now = now or utc_now()
    report = RerateReport()
    rater = CdrIngester(on_net=on_net)
    async with transaction(db) as conn:
        query = (
            select(cdrs.c.account_id).distinct().where(cdrs.c.start >= start, cdrs.c.start < end)
        )
        if tariff is not None:
            query = query.join(accounts, accounts.c.id == cdrs.c.account_id).where(
                accounts.c.tariff == tariff
            )
        account_ids = sorted((await conn.scalars(query)).all())
    for account_id in account_ids:
        async with transaction(db) as conn:
            await _rerate_account(conn, rater, account_id, start, end, now, report)
    return report


async def _rerate_account(
    conn: AsyncConnection,
    rater: CdrIngester,
    account_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    report: RerateReport,
) -> None:
    account = await ledger.locked_account(conn, account_id)
    terms = ledger.BillingTerms(account.id, account.code, account.included_seconds, account.tariff)
    await rater.load_tariffs(conn, {account.tariff})
    # What the month's calls before the period used stays used.
    period = await _current(conn, account_id, start, end)
    used_before = await _current(conn, account_id, _month_start(start), start)
    months = {(account_id, contract_month(c.record.start)) for c in period}
    on_plans = await month_terms_of(conn, months)
    included: dict[str, dict[str, int]] = {}  # month → included seconds per group
    remaining: dict[tuple[int, str], dict[str, Pool]] = {}
    for key in months:
        # the plans' included seconds of the month (pro-rated), else the account's own
        groups = on_plans[key].included if key in on_plans else own_allowance(account.included_seconds)
        if not groups:
            continue
        included[key[1]] = groups
        before: dict[str, int] = {}
        for c in used_before:
            group = pool_group(groups, c.number_class) if c.included_seconds else None
            if group is not None and contract_month(c.record.start) == key[1]:
                before[group] = before.get(group, 0) + c.included_seconds
        remaining[key] = pools_by_class(groups, before)
    bundle_delta: dict[tuple[str, str], int] = {}  # (month, group) → seconds
    for current in period:
        report.cdrs += 1
        outcome = rater.rate(current.record, terms, remaining)
        if isinstance(outcome, str):
            report.unratable += 1  # e.g. the correction bars the destination: left as it was
            continue
        rated, version_id, classification = outcome
        unchanged = (rated.cost_micro, rated.included_seconds) == (
            current.cost_micro,
            current.included_seconds,
        )
        if unchanged or version_id is None:
            continue
        delta = rated.cost_micro - current.cost_micro
        written = await conn.scalar(
            insert_or_skip(
                conn, cdr_adjustments, cdr_adjustments.c.cdr_id, cdr_adjustments.c.tariff_version_id
            )
            .values(
                cdr_id=current.cdr_id,
                tariff_version_id=version_id,
                included_seconds=rated.included_seconds,
                charged_seconds=rated.charged_seconds,
                cost_micro=rated.cost_micro,
                delta_micro=delta,
                created_at=now,
            )
            .returning(cdr_adjustments.c.id)
        )
        if written is None:
            continue  # already adjusted under this version
        report.adjusted += 1
        report.delta_micro += delta
        if delta:
            await ledger.append_entry(
                conn,
                account_id,
                ADJUSTMENT,
                -delta,
                reference=f"re-rated {current.record.system_name}/{current.record.uniqueid}",
                idempotency_key=f"rerate:{current.cdr_id}:{version_id}",
                now=now,
            )
        month = contract_month(current.record.start)
        if rated.included_seconds:
            key = (month, remaining[(account_id, month)][classification.number_class].group)
            bundle_delta[key] = bundle_delta.get(key, 0) + rated.included_seconds
        if current.included_seconds:
            group = pool_group(included.get(month, {}), current.number_class)
            if group is not None:
                bundle_delta[(month, group)] = bundle_delta.get((month, group), 0) - current.included_seconds
    changed = {(account_id, month, group): seconds
               for (month, group), seconds in bundle_delta.items() if seconds}
    if changed:
        await add_bundle_seconds(conn, changed)


async def _current(
    conn: AsyncConnection, account_id: int, start: datetime, end: datetime
) -> list[_Current]:
    """The account's CDRs that started in ``[start, end)``, in call-start order, as rated now."""
    in_period = (cdrs.c.account_id == account_id, cdrs.c.start >= start, cdrs.c.start < end)
    rows = (
        await conn.execute(select(cdrs).where(*in_period).order_by(cdrs.c.start, cdrs.c.id))
    ).all()
    latest = await _latest_adjustments(conn, select(cdrs.c.id).where(*in_period))
    result = []
    for row in rows:
        adjusted = latest.get(row.id)
        source: Any = adjusted if adjusted is not None else row
        record = ParsedCdr(
            0, row.system_name, row.uniqueid, row.linkedid, row.account_code, row.dialled,
            row.disposition, row.disposition == ANSWERED, row.billsec, row.start,
        )  # fmt: skip
        result.append(
            _Current(
                row.id, record, row.number_class, source.included_seconds, source.charged_seconds,
                source.cost_micro,
            )
        )
    return result


async def _latest_adjustments(conn: AsyncConnection, cdr_ids: Select[Any]) -> dict[int, Any]:
    """The newest adjustment of each CDR selected by ``cdr_ids``, by CDR id."""
    newest = (
        select(func.max(cdr_adjustments.c.id))
        .where(cdr_adjustments.c.cdr_id.in_(cdr_ids))
        .group_by(cdr_adjustments.c.cdr_id)
    )
    rows = await conn.execute(select(cdr_adjustments).where(cdr_adjustments.c.id.in_(newest)))
    return {row.cdr_id: row for row in rows}


def _month_start(instant: datetime) -> datetime:
    local = instant.astimezone(CONTRACT_TZ)
    return datetime(local.year, local.month, 1, tzinfo=CONTRACT_TZ)
