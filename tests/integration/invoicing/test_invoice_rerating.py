"""Invoices and re-rating: calls are invoiced as rated now, and a correction
after the invoice goes on the next one. Both databases."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, tariff_store
from billing.rerating import rerate_period

from .support import (
    AUGUST_1, FIXED, JULY_CALL, bnr_rate, calls_of, corrected_annex_b, ingest, open_account, run,
)  # fmt: skip

JULY = (datetime(2025, 6, 30, 21, 0, tzinfo=timezone.utc), datetime(2025, 7, 31, 21, 0, tzinfo=timezone.utc))


async def test_a_call_re_rated_before_its_invoice_is_invoiced_at_its_new_cost(engine: AsyncEngine) -> None:
    account = await open_account(engine, fee_eur=0)
    await ingest(engine, *calls_of("acct-1", JULY_CALL, ("u1", FIXED, 90)))
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.02"))
    await rerate_period(engine, *JULY)
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert [(l.kind, l.net_micro) for l in invoice.lines] == [("usage", 30_000)]
    assert [c.cost_micro for c in invoice.calls] == [30_000]
    # the charge and its re-rating adjustment, plus the VAT: what the invoice says
    assert await ledger.balance_micro(engine, account.id) == -invoice.total_micro


async def test_a_correction_after_the_invoice_goes_on_the_next_invoice(engine: AsyncEngine) -> None:
    account = await open_account(engine, fee_eur=0)
    await ingest(engine, *calls_of("acct-1", JULY_CALL, ("u1", FIXED, 90)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")
    await bnr_rate(engine, date(2025, 8, 29), "5.0000")
    [july] = (await run(engine, "2025-07", AUGUST_1)).issued
    await tariff_store.import_tariff_csv(engine, corrected_annex_b("0.02"))
    await rerate_period(engine, *JULY)

    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued

    assert [c.cost_micro for c in july.calls] == [15_000]
    assert [(l.kind, l.quantity, l.net_micro) for l in august.lines] == [("rerating", 1, 15_000)]
    assert august.calls == ()
    assert await ledger.balance_micro(engine, account.id) == -(july.total_micro + august.total_micro)
