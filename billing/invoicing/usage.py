"""What an invoice accounts for: an account's calls and ledger entries on no
invoice yet, the calls as rated now (latest re-rating), and the usage lines
they make (one per month and destination class)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.invoicing.presentation import CLASS_LABELS_RO, month_name
from billing.invoicing.records import USAGE, InvoicedCall
from billing.invoicing.tables import invoice_calls, invoice_entries
from billing.numbering import NUMBER_CLASSES
from billing.tables import ADJUSTMENT, CALL_CHARGE, RECURRING_FEE, SMS_CHARGE, cdr_adjustments, cdrs, ledger_entries
from billing.tariffs import CONTRACT_TZ

_ID_CHUNK = 5_000  # ids per IN (...) list: far below both drivers' parameter limits
_RERATE_KEY = re.compile(r"rerate:(\d+):\d+")


async def candidate_calls(conn: AsyncConnection, lookback: datetime, end: datetime) -> dict[int, list[int]]:
    """Ids of the chargeable calls on no invoice yet that started in the lookback window, by account."""
    rows = await conn.execute(
        select(cdrs.c.account_id, cdrs.c.id)
        .outerjoin(invoice_calls, invoice_calls.c.cdr_id == cdrs.c.id)
        .where(
            cdrs.c.start >= lookback,
            cdrs.c.start < end,
            (cdrs.c.billable_seconds > 0) | (cdrs.c.cost_micro > 0),
            invoice_calls.c.id.is_(None),
        )
    )
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


def local_month(instant: datetime) -> str:
    return instant.astimezone(CONTRACT_TZ).strftime("%Y-%m")


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _ID_CHUNK):
        yield ids[i : i + _ID_CHUNK]
