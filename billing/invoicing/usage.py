"""What an invoice accounts for: an account's calls and ledger entries on no
invoice yet, the calls as rated now (latest re-rating), and the usage lines
they make (one per month and destination class).

:func:`gather_usage` is the one gathering both the monthly run
(:mod:`billing.invoicing.issuing`) and an interim invoice
(:mod:`billing.invoicing.interim`) use: usage, re-rating corrections, SMS and
other adjustments up to an instant, each entry on exactly one invoice."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.invoicing.presentation import CLASS_LABELS_RO, month_name
from billing.invoicing.records import INTERIM, OTHER, RERATING, SMS, USAGE, InvoicedCall
from billing.invoicing.tables import invoice_calls, invoice_entries, invoices
from billing.numbering import NUMBER_CLASSES
from billing.tables import ADJUSTMENT, CALL_CHARGE, RECURRING_FEE, SMS_CHARGE, cdr_adjustments, cdrs, ledger_entries
from billing.tariffs import CONTRACT_TZ

_ID_CHUNK = 5_000  # ids per IN (...) list: far below both drivers' parameter limits
_RERATE_KEY = re.compile(r"rerate:(\d+):\d+")


async def candidate_calls(
    conn: AsyncConnection, lookback: datetime, end: datetime, *, account_id: int | None = None
) -> dict[int, list[int]]:
    """Ids of the chargeable calls on no invoice yet that started in the
    lookback window, by account (only ``account_id``'s when given)."""
    query = (
        select(cdrs.c.account_id, cdrs.c.id)
        .outerjoin(invoice_calls, invoice_calls.c.cdr_id == cdrs.c.id)
        .where(
            cdrs.c.start >= lookback,
            cdrs.c.start < end,
            (cdrs.c.billable_seconds > 0) | (cdrs.c.cost_micro > 0),
            invoice_calls.c.id.is_(None),
        )
    )
    if account_id is not None:
        query = query.where(cdrs.c.account_id == account_id)
    rows = await conn.execute(query)
    by_account: dict[int, list[int]] = defaultdict(list)
    for account_id, cdr_id in rows:
        by_account[account_id].append(cdr_id)
    return by_account


@dataclass
class Draft:
    """A line before VAT and RON."""

    kind: str
    description: str
    net_micro: int
    quantity: int = 1
    number_class: str | None = None
    month: str | None = None
    billable_seconds: int = 0
    included_seconds: int = 0
    charged_seconds: int = 0
    net_ron_micro: int | None = None  # lei fixed in advance (an exchange difference); None: at the invoice's rate


async def uninvoiced_calls(conn: AsyncConnection, account_id: int, cdr_ids: list[int]) -> list[InvoicedCall]:
    """The account's calls among ``cdr_ids`` still on no invoice, as rated now, by start."""
    rows: list[Row[Any]] = []
    for chunk in chunks(cdr_ids):
        rows.extend(
            (
                await conn.execute(
                    select(
                        cdrs.c.id, cdrs.c.start, cdrs.c.normalised, cdrs.c.number_class,
                        cdrs.c.destination, cdrs.c.billsec, cdrs.c.included_seconds,
                        cdrs.c.charged_seconds, cdrs.c.cost_micro,
                    )  # fmt: skip
                    .outerjoin(invoice_calls, invoice_calls.c.cdr_id == cdrs.c.id)
                    .where(cdrs.c.id.in_(chunk), cdrs.c.account_id == account_id, invoice_calls.c.id.is_(None))
                )
            ).all()
        )
    latest = await latest_ratings(conn, [row.id for row in rows])
    calls = []
    for row in rows:
        included, charged, cost = latest.get(row.id, (row.included_seconds, row.charged_seconds, row.cost_micro))
        calls.append(
            InvoicedCall(
                row.id, row.start, row.normalised, row.number_class, row.destination, row.billsec,
                included + charged, included, charged, cost,
            )  # fmt: skip
        )
    calls.sort(key=lambda call: (call.start, call.cdr_id))
    return calls


async def latest_ratings(conn: AsyncConnection, cdr_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(included, charged, cost) of each re-rated CDR's newest adjustment, by CDR id."""
    latest: dict[int, tuple[int, int, int]] = {}
    for chunk in chunks(cdr_ids):
        newest = (
            select(func.max(cdr_adjustments.c.id))
            .where(cdr_adjustments.c.cdr_id.in_(chunk))
            .group_by(cdr_adjustments.c.cdr_id)
        )
        rows = await conn.execute(
            select(
                cdr_adjustments.c.cdr_id, cdr_adjustments.c.included_seconds,
                cdr_adjustments.c.charged_seconds, cdr_adjustments.c.cost_micro,
            ).where(cdr_adjustments.c.id.in_(newest))  # fmt: skip
        )
        for row in rows:
            latest[row.cdr_id] = (row.included_seconds, row.charged_seconds, row.cost_micro)
    return latest


async def uninvoiced_entries(conn: AsyncConnection, account_id: int, lookback: datetime) -> list[Any]:
    """The account's charge and adjustment entries of the lookback window on no invoice yet."""
    rows = await conn.execute(
        select(
            ledger_entries.c.id, ledger_entries.c.kind, ledger_entries.c.amount_micro,
            ledger_entries.c.created_at, ledger_entries.c.reference,
            ledger_entries.c.idempotency_key, ledger_entries.c.cdr_id,
        )  # fmt: skip
        .outerjoin(invoice_entries, invoice_entries.c.ledger_entry_id == ledger_entries.c.id)
        .where(
            ledger_entries.c.account_id == account_id,
            ledger_entries.c.created_at >= lookback,
            ledger_entries.c.kind.in_((CALL_CHARGE, SMS_CHARGE, ADJUSTMENT, RECURRING_FEE)),
            invoice_entries.c.ledger_entry_id.is_(None),
        )
        .order_by(ledger_entries.c.id)
    )
    return list(rows)


def rerated_cdr(entry: Any) -> int | None:
    """The CDR a re-rating adjustment is for (billing.rerating's key ``rerate:<cdr>:<version>``)."""
    if entry.kind != ADJUSTMENT or not entry.idempotency_key:
        return None
    match = _RERATE_KEY.fullmatch(entry.idempotency_key)
    return int(match.group(1)) if match else None


async def already_invoiced(conn: AsyncConnection, cdr_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(cdr_ids):
        found.update(
            (await conn.scalars(select(invoice_calls.c.cdr_id).where(invoice_calls.c.cdr_id.in_(chunk)))).all()
        )
    return found


def usage_drafts(calls: Sequence[InvoicedCall], label: str) -> list[Draft]:
    """One line per (month, destination class): the period's month first, classes in plan order."""
    groups: dict[tuple[str, str], list[InvoicedCall]] = defaultdict(list)
    for call in calls:
        groups[(local_month(call.start), call.number_class)].append(call)
    order = {cls: i for i, cls in enumerate(NUMBER_CLASSES)}
    drafts = []
    for month, cls in sorted(groups, key=lambda k: (k[0] != label, k[0], order.get(k[1], len(order)), k[1])):
        group = groups[(month, cls)]
        description = CLASS_LABELS_RO.get(cls, cls)
        if month != label:
            description += f" — apeluri din {month_name(month)}, raportate după facturarea lunii"
        drafts.append(
            Draft(
                USAGE,
                description,
                sum(c.cost_micro for c in group),
                quantity=len(group),
                number_class=cls,
                month=month,
                billable_seconds=sum(c.billable_seconds for c in group),
                included_seconds=sum(c.included_seconds for c in group),
                charged_seconds=sum(c.charged_seconds for c in group),
            )
        )
    return drafts


@dataclass
class GatheredUsage:
    """An account's usage and adjustments on no invoice yet, as lines and the
    ledger entries they account for (see :func:`gather_usage`)."""

    calls: list[InvoicedCall]
    drafts: list[Draft] = field(default_factory=list)
    accounted: list[Any] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when there is nothing to put on an invoice."""
        return not self.drafts and not self.calls


async def gather_usage(
    conn: AsyncConnection,
    account_id: int,
    cdr_ids: list[int],
    *,
    lookback: datetime,
    end: datetime,
    label: str,
    skip_key: str | None = None,
    corrections_before: datetime | None = None,
) -> GatheredUsage:
    """Return what an invoice of ``account_id`` ending at ``end`` accounts for.

    ``cdr_ids`` are the account's candidate calls (:func:`candidate_calls`,
    started before ``end``); ``label`` is the invoice's month (its own usage
    lines first). Taken: those calls as rated now, with their charge and
    re-rating entries; re-rating corrections of calls already invoiced (one
    line; only those recorded before ``corrections_before`` when given); SMS
    (one line) and other adjustments (a line each) recorded before ``end``.
    The entry keyed ``skip_key`` (the monthly fee the caller writes itself)
    is left out.
    """
    calls = await uninvoiced_calls(conn, account_id, cdr_ids)
    call_ids = {call.cdr_id for call in calls}
    entries = await uninvoiced_entries(conn, account_id, lookback)
    gathered = GatheredUsage(calls, usage_drafts(calls, label))
    invoiced_cdrs = await already_invoiced(
        conn, [cdr for e in entries if (cdr := rerated_cdr(e)) is not None and cdr not in call_ids]
    )
    sms: list[Any] = []
    corrections: list[Any] = []
    for entry in entries:
        if skip_key is not None and entry.idempotency_key == skip_key:
            continue
        if entry.kind == CALL_CHARGE:
            if entry.cdr_id in call_ids:
                gathered.accounted.append(entry)
            continue
        cdr = rerated_cdr(entry)
        if cdr is not None:
            if cdr in call_ids:
                gathered.accounted.append(entry)  # already in the call's current cost
            elif cdr in invoiced_cdrs and (corrections_before is None or entry.created_at < corrections_before):
                corrections.append(entry)
            continue
        if entry.created_at >= end:
            continue  # belongs to a later invoice
        if entry.kind == SMS_CHARGE:
            sms.append(entry)
        else:
            gathered.accounted.append(entry)
            label_ro = "Ajustare" if entry.kind == ADJUSTMENT else "Alte costuri"
            reference = " ".join(entry.reference.split())
            gathered.drafts.append(
                Draft(OTHER, f"{label_ro}: {reference}" if reference else label_ro, -entry.amount_micro)
            )
    if sms:
        gathered.accounted.extend(sms)
        gathered.drafts.append(Draft(SMS, "Mesaje SMS", -sum(e.amount_micro for e in sms), quantity=len(sms)))
    if corrections:
        gathered.accounted.extend(corrections)
        gathered.drafts.append(
            Draft(
                RERATING,
                "Corecții de tarif pentru apeluri facturate anterior",
                -sum(e.amount_micro for e in corrections),
                quantity=len(corrections),
            )
        )
    return gathered


async def month_bundle_used(
    conn: AsyncConnection, account_id: int, label: str, calls: Sequence[InvoicedCall]
) -> int:
    """Included seconds the month ``label`` used so far: those of ``calls``
    (the invoice being issued) plus those of the month's calls already on the
    account's interim invoices of ``label``. Calls of other months (late
    calls) count towards their own month's bundle, not this one's."""
    rows = await conn.execute(
        select(invoice_calls.c.start, invoice_calls.c.included_seconds)
        .join(invoices, invoices.c.id == invoice_calls.c.invoice_id)
        .where(invoices.c.account_id == account_id, invoices.c.period == label, invoices.c.kind == INTERIM)
    )
    earlier = [(row.start, row.included_seconds) for row in rows]
    mine = [(call.start, call.included_seconds) for call in calls]
    return sum(seconds for start, seconds in earlier + mine if local_month(start) == label)


def local_month(instant: datetime) -> str:
    return instant.astimezone(CONTRACT_TZ).strftime("%Y-%m")


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _ID_CHUNK):
        yield ids[i : i + _ID_CHUNK]
