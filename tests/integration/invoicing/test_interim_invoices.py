"""Interim invoices on real ledger data, on SQLite and PostgreSQL.

Contract art. 7.1.4: "the operator can issue an invoice at any time for
usage so far in the month; the monthly invoice then covers only the rest."
The account: postpaid, 5 EUR a month, 2 included minutes; three calls on
3 July (a fixed call inside the bundle, a mobile one partly, Germany), two
more on 15 July.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing import interim, presentation
from billing.invoicing.errors import AlreadyInvoicedError, InvalidUntilError, NothingToInvoiceError
from billing.invoicing.records import INTERIM, MONTHLY, RECURRING, Invoice
from billing.invoicing.tables import invoice_calls, invoice_counters
from billing.tables import ADJUSTMENT, cdrs
from billing.tariffs import CONTRACT_TZ
from sqlbase import transaction

from tests.integration.billing.cdrs import FIXED

from .support import (
    AUGUST_1,
    EUR,
    JULY_15_CALL,
    JULY_CALL,
    JUNE_CALL,
    SUPPLIER,
    assert_charged_once,
    bnr_rate,
    calls_of,
    ingest,
    july_in_two_halves,
    open_account,
    run,
)

JULY_10_NOON = datetime(2025, 7, 10, 12, 0, tzinfo=CONTRACT_TZ)
JULY_20_NOON = datetime(2025, 7, 20, 12, 0, tzinfo=CONTRACT_TZ)


async def interim_invoice(engine: AsyncEngine, account_id: int, until: datetime, **options) -> Invoice:
    """The account's interim invoice up to ``until``, issued five minutes after it."""
    options.setdefault("now", until.replace(minute=5))
    return await interim.issue_interim_invoice(engine, account_id, supplier=SUPPLIER, until=until, **options)


@pytest.fixture
async def account(engine: AsyncEngine) -> ledger.Account:
    opened = await open_account(engine, included_seconds=120)
    await july_in_two_halves(engine)
    for day in (date(2025, 7, 9), date(2025, 7, 19), date(2025, 7, 31)):
        await bnr_rate(engine, day, "5.0720")
    return opened


async def adjust(engine: AsyncEngine, account_id: int, amount_micro: int, reference: str, at: datetime) -> None:
    async with transaction(engine) as conn:
        await ledger.locked_account(conn, account_id)
        await ledger.append_entry(conn, account_id, ADJUSTMENT, amount_micro, reference=reference, now=at)


async def test_an_interim_invoice_plus_the_monthly_invoice_charge_every_call_exactly_once(
    engine: AsyncEngine, account: ledger.Account
) -> None:
    """Art. 7.1.4: the interim invoice of 10 July holds the calls started
    before it and the adjustment recorded before it (not the one recorded
    between it and the issue); the monthly invoice of
    July holds only the rest, with the fee. Each CDR and ledger entry is on
    exactly one of them and together they charge what the ledger did."""
    await adjust(engine, account.id, -2 * EUR, "modem", datetime(2025, 7, 5, tzinfo=UTC))
    await adjust(engine, account.id, -3 * EUR, "router", datetime(2025, 7, 12, tzinfo=UTC))

    # issued on 13 July: the adjustment of 12 July is after ``until``, so not on it
    first = await interim_invoice(engine, account.id, JULY_10_NOON, now=datetime(2025, 7, 13, 9, 0, tzinfo=UTC))
    [monthly] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (first.kind, first.number, monthly.kind, monthly.number) == (INTERIM, "CP-000001", MONTHLY, "CP-000002")
    assert [c.start for c in first.calls] == [JULY_CALL.replace(hour=h) for h in (9, 10, 11)]
    assert [c.start for c in monthly.calls] == [JULY_15_CALL.replace(hour=h) for h in (9, 10)]
    assert [line.description for line in first.lines if line.kind == "adjustment"] == ["Ajustare: modem"]
    assert [line.description for line in monthly.lines if line.kind == "adjustment"] == ["Ajustare: router"]
    await assert_charged_once(engine)


async def test_an_interim_invoice_has_no_fee_and_its_own_dates(engine: AsyncEngine, account: ledger.Account) -> None:
    """Art. 7.1.4: the fee is invoiced in arrears on the monthly invoice; an
    interim invoice is issued today, due 10 days later, for the 1st of the
    month to ``until``'s day."""
    first = await interim_invoice(engine, account.id, JULY_10_NOON)

    assert RECURRING not in {line.kind for line in first.lines}
    assert (first.issue_date, first.due_date) == (date(2025, 7, 10), date(2025, 7, 20))
    assert (first.period, first.period_first, first.period_last) == ("2025-07", date(2025, 7, 1), date(2025, 7, 10))
    [monthly] = (await run(engine, "2025-07", AUGUST_1)).issued
    assert [line.kind for line in monthly.lines if line.kind == RECURRING] == [RECURRING]


async def test_the_monthly_invoice_tells_the_whole_months_bundle_use(
    engine: AsyncEngine, account: ledger.Account
) -> None:
    """The bundle (2 min) was used up by calls on the interim invoice: the
    monthly invoice still says the month used all 120 s of it."""
    first = await interim_invoice(engine, account.id, JULY_10_NOON)
    [monthly] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (first.bundle_seconds, first.bundle_used_seconds) == (120, 120)
    assert sum(call.included_seconds for call in monthly.calls) == 0
    assert (monthly.bundle_seconds, monthly.bundle_used_seconds) == (120, 120)


async def test_two_interim_invoices_in_a_month_each_take_what_the_previous_did_not(
    engine: AsyncEngine, account: ledger.Account
) -> None:
    """Several interim invoices in one month: the second holds only the calls
    after the first; the monthly invoice then holds no call at all."""
    first = await interim_invoice(engine, account.id, JULY_10_NOON)
    second = await interim_invoice(engine, account.id, JULY_20_NOON)
    [monthly] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (len(first.calls), len(second.calls), len(monthly.calls)) == (3, 2, 0)
    assert [line.kind for line in monthly.lines] == [RECURRING]
    await assert_charged_once(engine)


async def test_an_until_in_the_future_is_refused(engine: AsyncEngine, account: ledger.Account) -> None:
    """An interim invoice is of usage *so far*: ``until`` after now is refused, naming it."""
    with pytest.raises(InvalidUntilError, match="until: .* is in the future"):
        await interim_invoice(engine, account.id, JULY_20_NOON, now=JULY_10_NOON)


async def test_a_month_with_its_monthly_invoice_gets_no_interim_one(
    engine: AsyncEngine, account: ledger.Account
) -> None:
    """Once July has its monthly invoice, nothing of July is left for an interim one."""
    await run(engine, "2025-07", AUGUST_1)

    with pytest.raises(AlreadyInvoicedError, match="2025-07 .* already has its monthly invoice"):
        await interim_invoice(engine, account.id, datetime(2025, 7, 31, 23, 0, tzinfo=CONTRACT_TZ),
                              now=datetime(2025, 8, 1, 9, 0, tzinfo=CONTRACT_TZ))


async def test_an_interim_invoice_leaves_last_months_calls_to_last_months_invoice(
    engine: AsyncEngine, account: ledger.Account
) -> None:
    """Art. 7.1.4 invoices usage *in the month* so far: a June call whose
    June invoice is not issued yet stays off July's interim invoice and goes
    on June's monthly invoice when that is run (issued after the interim
    one: numbers follow issue dates)."""
    await ingest(engine, *calls_of("acct-1", JUNE_CALL, ("june", FIXED, 60)))

    first = await interim_invoice(engine, account.id, JULY_10_NOON)
    [june] = (await run(engine, "2025-06", date(2025, 7, 10))).issued

    assert "june" not in await uniqueids_on(engine, first)
    assert "june" in await uniqueids_on(engine, june)


async def uniqueids_on(engine: AsyncEngine, invoice: Invoice) -> set[str]:
    """The uniqueids of the calls on ``invoice``."""
    async with engine.connect() as conn:
        rows = await conn.scalars(
            select(cdrs.c.uniqueid).join(invoice_calls, invoice_calls.c.cdr_id == cdrs.c.id)
            .where(invoice_calls.c.invoice_id == invoice.id))
        return set(rows)


async def test_nothing_to_invoice_is_refused_and_consumes_no_number(
    engine: AsyncEngine, account: ledger.Account
) -> None:
    """Before the first call there is nothing to invoice: refused, and the
    series' next number is still CP-000001."""
    with pytest.raises(NothingToInvoiceError, match="nothing to invoice"):
        await interim_invoice(engine, account.id, datetime(2025, 7, 2, 12, 0, tzinfo=CONTRACT_TZ),
                              now=JULY_10_NOON)
    async with engine.connect() as conn:
        assert (await conn.scalar(select(invoice_counters.c.last_number))) in (None, 0)
    assert (await interim_invoice(engine, account.id, JULY_10_NOON)).number == "CP-000001"


async def test_the_document_is_titled_an_interim_invoice(engine: AsyncEngine, account: ledger.Account) -> None:
    """Its HTML is titled "Factură intermediară" and its JSON says its kind."""
    first = await interim_invoice(engine, account.id, JULY_10_NOON)

    assert "<h1>Factură intermediară</h1>" in presentation.render_invoice_html(first)
    assert presentation.invoice_json(first)["kind"] == INTERIM
