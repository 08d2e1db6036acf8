"""Helpers of the invoicing tests: accounts, CDRs, BNR rates, runs, the outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import fx_store, ledger
from billing.invoicing import issuing
from billing.invoicing.supplier import Supplier
from billing.invoicing.tables import invoice_calls, invoice_entries, invoices
from billing.tables import ADJUSTMENT, CALL_CHARGE, RECURRING_FEE, SMS_CHARGE, cdrs, ledger_entries
from billing._datafile import packaged_lines
from billing.ingest import CdrSource, IngestReport, ingest_lines
from billing.accounts import POSTPAID, PREPAID
from billing.tariffs import CONTRACT_TZ
from billing.invoicing.service import InvoicingService
from controlplane.invoicing_wiring import invoicing_service
from notify.notifier import Notifier
from notify.render import Renderer
from tests.integration.billing.cdrs import FIXED, GERMANY, MOBILE, master_line

__all__ = ["FIXED", "GERMANY", "MOBILE", "master_line"]

EUR = 1_000_000
OPENED = datetime(2025, 1, 1, tzinfo=UTC)
JULY_CALL = datetime(2025, 7, 3, 9, 0, tzinfo=UTC)
JUNE_CALL = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
AUGUST_1 = date(2025, 8, 1)
JULY_1 = date(2025, 7, 1)

SUPPLIER = Supplier(
    name="ClickPhone Telecom SRL",
    vat_id="RO12345674",
    registration="J40/1234/2020",
    address="Str. Exemplului 1, București",
    iban="RO49AAAA1B31007593840000",
    bank="Banca Exemplu",
)


def run_time(day: date) -> datetime:
    """00:05 Bucharest on ``day``: when the scheduler runs the invoices."""
    return datetime(day.year, day.month, day.day, 0, 5, tzinfo=CONTRACT_TZ)


async def open_account(
    engine: AsyncEngine,
    code: str = "acct-1",
    *,
    kind: str = POSTPAID,
    fee_eur: int = 5,
    included_seconds: int = 0,
    subscriber_id: int | None = None,
    opened: datetime = OPENED,
) -> ledger.Account:
    return await ledger.open_account(
        engine,
        code=code,
        kind=kind,
        credit_limit_micro=100 * EUR if kind == POSTPAID else 0,
        monthly_fee_micro=fee_eur * EUR,
        included_seconds=included_seconds,
        subscriber_id=subscriber_id,
        now=opened,
    )


async def open_prepaid(engine: AsyncEngine, code: str = "pre-1", **options: Any) -> ledger.Account:
    return await open_account(engine, code, kind=PREPAID, **options)


async def ingest(engine: AsyncEngine, *lines: str) -> IngestReport:
    return await ingest_lines(engine, lines, CdrSource("test.csv", "pbx1"))


def calls_of(account: str, start: datetime, *calls: tuple[str, str, int]) -> list[str]:
    """Master.csv lines for ``(uniqueid, dialled, billsec)`` calls an hour apart from ``start``."""
    return [
        master_line(uniqueid, account=account, dialled=dialled, billsec=billsec, start=start + timedelta(hours=i))
        for i, (uniqueid, dialled, billsec) in enumerate(calls)
    ]


async def bnr_rate(engine: AsyncEngine, day: date, eur: str) -> None:
    """Store BNR's EUR rate of ``day`` as the fetcher would."""
    await fx_store.store_rates(engine, {day: {"EUR": Decimal(eur)}})


async def run(engine: AsyncEngine, period: str, issue: date, **options: Any) -> issuing.RunReport:
    options.setdefault("supplier", SUPPLIER)
    return await issuing.run_invoices(engine, period, issue, now=run_time(issue), **options)


def invoicing(engine: AsyncEngine) -> InvoicingService:
    """The invoicing service as the CLI and the scheduler are given it:
    customers from provisioning, each email queued with its invoice or payment."""
    return invoicing_service(engine, Notifier(Renderer()))


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


def corrected_annex_b(fixed_price: str) -> list[str]:
    """Annex B with the Romanian fixed price corrected, as a new version from the same day."""
    lines = []
    for line in packaged_lines("annex_b.csv"):
        if line.startswith("annex_b,2025.1,"):
            line = line.replace("annex_b,2025.1,", "annex_b,2025.1-fix,", 1)
            line = line.replace(",voice,ro_fixed,0.01,", f",voice,ro_fixed,{fixed_price},")
        lines.append(line)
    return lines


async def assert_charged_once(engine: AsyncEngine) -> None:
    """Every chargeable CDR is on exactly one invoice (``invoice_calls``), every
    charge, fee and adjustment entry of the ledger on exactly one invoice
    (``invoice_entries``), and the invoices' net totals sum to what the ledger
    charged, VAT aside (invariant 4; contract art. 7.1.4)."""
    async with engine.connect() as conn:
        chargeable = set((await conn.scalars(select(cdrs.c.id).where(cdrs.c.billable_seconds > 0))).all())
        on_invoices = list((await conn.scalars(select(invoice_calls.c.cdr_id))).all())
        charged = (
            await conn.execute(
                select(ledger_entries.c.id, ledger_entries.c.amount_micro, ledger_entries.c.idempotency_key).where(
                    ledger_entries.c.kind.in_((CALL_CHARGE, SMS_CHARGE, ADJUSTMENT, RECURRING_FEE))
                )
            )
        ).all()
        accounted = list((await conn.scalars(select(invoice_entries.c.ledger_entry_id))).all())
        net = await conn.scalar(select(func.coalesce(func.sum(invoices.c.net_micro), 0)))
    assert sorted(on_invoices) == sorted(chargeable), "each call on exactly one invoice"
    assert sorted(accounted) == sorted(row.id for row in charged), "each ledger entry on exactly one invoice"
    not_vat = [row for row in charged if not (row.idempotency_key or "").startswith("invoice_vat:")]
    assert net == -sum(row.amount_micro for row in not_vat), "the invoices charge what the ledger did"


JULY_15_CALL = datetime(2025, 7, 15, 9, 0, tzinfo=UTC)


async def july_in_two_halves(engine: AsyncEngine, code: str = "acct-1") -> None:
    """Five July calls of account ``code``: on 3 July a fixed (90 s), a mobile
    (90 s) and a German (30 s) call from 09:00 UTC, hourly; on 15 July a fixed
    (60 s) and a mobile (120 s) one from 09:00 UTC."""
    await ingest(engine, *calls_of(code, JULY_CALL, ("u1", FIXED, 90), ("u2", MOBILE, 90), ("u3", GERMANY, 30)))
    await ingest(engine, *calls_of(code, JULY_15_CALL, ("u4", FIXED, 60), ("u5", MOBILE, 120)))
