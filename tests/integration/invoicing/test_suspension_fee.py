"""The fee of a suspended month on the monthly invoice, on SQLite and PostgreSQL.

Art. 9.2: the fee of a month in which the service was suspended is still
due when the suspension is the subscriber's fault (non-payment, art.
9.1.2; breach; the subscriber's own request); days suspended for the
operator's own reasons reduce it pro rata, on their own line, and a day
also down through the provider's fault counts once.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, suspensions
from billing.invoicing.downtime import record_downtime
from billing.tariffs import CONTRACT_TZ

from .support import EUR, bnr_rate, open_account, run

NOVEMBER_1 = date(2025, 11, 1)
OCTOBER_1 = date(2025, 10, 1)


def bucharest(month: int, day: int, hour: int) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=CONTRACT_TZ)


async def suspended_for(engine: AsyncEngine, account_id: int, cause: str, start: datetime,
                        end: datetime | None) -> None:
    """Suspend the account for ``cause`` at ``start`` and reinstate it at ``end`` (None: not yet)."""
    await suspensions.suspend(engine, account_id, cause, now=start)
    if end is not None:
        await suspensions.reinstate(engine, account_id, now=end)


async def october_invoice(engine: AsyncEngine):
    await bnr_rate(engine, date(2025, 10, 31), "5.0000")
    [invoice] = (await run(engine, "2025-10", NOVEMBER_1)).issued
    return invoice


def fee_lines(invoice) -> list[tuple[str, int, int]]:
    return [(line.kind, line.quantity, line.net_micro) for line in invoice.lines
            if line.kind in ("recurring_fee", "downtime_credit", "suspension_credit")]


async def fee_entry(engine: AsyncEngine, account_id: int, period: str = "2025-10") -> int:
    [entry] = [e for e in await ledger.list_entries(engine, account_id)
               if e.idempotency_key == f"recurring_fee:{account_id}:{period}"]
    return entry.amount_micro


@pytest.mark.parametrize("cause", ["non_payment", "breach", "subscriber_request"])
async def test_days_suspended_through_the_subscribers_fault_leave_the_fee_whole(engine: AsyncEngine, cause):
    """Art. 9.2: an October with 5 days suspended for non-payment (or breach,
    or at the subscriber's request) is invoiced the full fee, no reduction line."""
    account = await open_account(engine, fee_eur=31)
    await suspended_for(engine, account.id, cause, bucharest(10, 10, 8), bucharest(10, 14, 18))

    invoice = await october_invoice(engine)

    assert fee_lines(invoice) == [("recurring_fee", 1, 31 * EUR)]
    assert await fee_entry(engine, account.id) == -31 * EUR


async def test_days_suspended_for_the_operators_reasons_reduce_the_fee_by_their_share(engine: AsyncEngine):
    """Art. 9.2: 5 October days suspended for the operator's own reasons take
    5/31 off the fee, on the line "Reducere abonament: 5 zile de suspendare
    din motive neimputabile abonatului"; the ledger owes the rest."""
    account = await open_account(engine, fee_eur=31)
    await suspended_for(engine, account.id, "operator", bucharest(10, 10, 8), bucharest(10, 14, 18))

    invoice = await october_invoice(engine)

    assert fee_lines(invoice) == [("recurring_fee", 1, 31 * EUR), ("suspension_credit", 5, -5 * EUR)]
    [credit] = [line for line in invoice.lines if line.kind == "suspension_credit"]
    assert credit.description.startswith(
        "Reducere abonament: 5 zile de suspendare din motive neimputabile abonatului")
    assert invoice.net_micro == 26 * EUR
    assert await fee_entry(engine, account.id) == -26 * EUR


async def test_a_day_both_down_and_suspended_is_credited_once(engine: AsyncEngine):
    """Suspended 10-14 October for the operator's reasons, the service down on
    the 13th and 14th: 2 downtime days and 3 suspension days, 5/31 off in all."""
    account = await open_account(engine, fee_eur=31)
    await suspended_for(engine, account.id, "operator", bucharest(10, 10, 8), bucharest(10, 14, 18))
    await record_downtime(engine, date(2025, 10, 13), "carrier outage")
    await record_downtime(engine, date(2025, 10, 14), "carrier outage")

    invoice = await october_invoice(engine)

    assert fee_lines(invoice) == [("recurring_fee", 1, 31 * EUR), ("downtime_credit", 2, -2 * EUR),
                                  ("suspension_credit", 3, -3 * EUR)]
    assert await fee_entry(engine, account.id) == -26 * EUR


async def test_a_suspension_across_months_reduces_each_month_by_its_own_days(engine: AsyncEngine):
    """28 September 10:00 to 3 October 10:00 (Bucharest), operator's reasons:
    3/30 off September's fee and 3/31 off October's."""
    account = await open_account(engine, fee_eur=93)
    await suspended_for(engine, account.id, "operator", bucharest(9, 28, 10), bucharest(10, 3, 10))
    await bnr_rate(engine, date(2025, 9, 30), "5.0000")

    [september] = (await run(engine, "2025-09", OCTOBER_1)).issued
    october = await october_invoice(engine)

    assert fee_lines(september) == [("recurring_fee", 1, 93 * EUR), ("suspension_credit", 3, -9_300_000)]
    assert fee_lines(october) == [("recurring_fee", 1, 93 * EUR), ("suspension_credit", 3, -9 * EUR)]


async def test_a_suspension_still_open_is_credited_to_the_end_of_the_month(engine: AsyncEngine):
    """Suspended for the operator's reasons on 27 October and not reinstated
    when October is invoiced: the 27th to the 31st, 5 days, are credited."""
    account = await open_account(engine, fee_eur=31)
    await suspended_for(engine, account.id, "operator", bucharest(10, 27, 9), None)

    invoice = await october_invoice(engine)

    assert fee_lines(invoice) == [("recurring_fee", 1, 31 * EUR), ("suspension_credit", 5, -5 * EUR)]


async def test_a_whole_month_suspended_and_down_is_never_credited_past_the_fee(engine: AsyncEngine):
    """Suspended for the operator's reasons all October, down on the 1st too:
    the credits together are the fee, nothing more; the fee owes nothing."""
    account = await open_account(engine, fee_eur=10)
    await suspended_for(engine, account.id, "operator", bucharest(9, 30, 12), bucharest(11, 1, 0))
    await record_downtime(engine, date(2025, 10, 1), "carrier outage")

    invoice = await october_invoice(engine)

    [fee, down, suspended] = fee_lines(invoice)
    assert fee == ("recurring_fee", 1, 10 * EUR) and (down[1], suspended[1]) == (1, 30)
    assert down[2] + suspended[2] == -10 * EUR and invoice.net_micro == 0
    assert all(e.idempotency_key != f"recurring_fee:{account.id}:2025-10"
               for e in await ledger.list_entries(engine, account.id))
