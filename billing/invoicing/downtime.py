"""Service downtime: the days the service was down through the provider's
fault (service-wide), each crediting 1/days-in-month of the recurring fee of
the period it falls in (:func:`billing.invoicing.recurring.recurring_fee`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select, update

from billing.invoicing.errors import InvoiceError
from billing.invoicing.recurring import BillingPeriod
from billing.invoicing.tables import service_downtime
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import insert_or_skip


async def record_downtime(db: Db, day: date, reason: str) -> None:
    """Record ``day`` as down through the provider's fault (service-wide); idempotent.

    Recorded again, the reason is replaced. Only periods not yet invoiced
    are affected.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise InvoiceError("a downtime day needs a reason")
    async with transaction(db) as conn:
        statement = insert_or_skip(conn, service_downtime, service_downtime.c.day).values(
            day=day, reason=reason, recorded_at=utc_now()
        )
        inserted = (await conn.execute(statement)).rowcount
        if not inserted:
            await conn.execute(
                update(service_downtime).where(service_downtime.c.day == day).values(reason=reason)
            )


async def downtime_days(db: Db, period: BillingPeriod) -> list[tuple[date, str]]:
    """Return the recorded downtime days in ``period`` with their reasons, by day."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            select(service_downtime.c.day, service_downtime.c.reason)
            .where(service_downtime.c.day >= period.first, service_downtime.c.day <= period.last)
            .order_by(service_downtime.c.day)
        )
        return [(row.day, row.reason) for row in rows]


async def remove_downtime(db: Db, day: date) -> str | None:
    """Forget ``day`` as a downtime day (recorded by mistake); return its
    reason, or None if it was not one. Invoices already issued keep their credit."""
    async with transaction(db) as conn:
        reason = await conn.scalar(select(service_downtime.c.reason).where(service_downtime.c.day == day))
        if reason is not None:
            await conn.execute(delete(service_downtime).where(service_downtime.c.day == day))
    return reason
