"""The monthly invoice run on real ledger data, on SQLite and PostgreSQL.

Contract: the recurring fee is invoiced on the 1st for the previous month,
usage monthly for the previous month; prices are EUR without VAT, invoices
are in RON at the BNR EUR rate valid on the issue date; VAT 21 % from
2025-08-01, 19 % before; included minutes are shown; invoices are numbered
without gaps.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, UTC
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.invoicing import payments, records
from billing.invoicing.downtime import record_downtime
from billing.fx_bnr import MissingRateError, StaleRateError
from billing.invoicing.tables import invoice_calls, invoice_counters, invoices
from billing.invoicing.errors import InvalidPeriodError, InvoiceChronologyError, UnknownInvoiceError

from .support import (
    AUGUST_1,
    EUR,
    FIXED,
    GERMANY,
    JULY_1,
    JULY_CALL,
    JUNE_CALL,
    MOBILE,
    bnr_rate,
    calls_of,
    count,
    ingest,
    open_account,
    open_prepaid,
    run,
)


async def july_with_calls(engine: AsyncEngine) -> ledger.Account:
    """A postpaid account with a 5 EUR fee and 2 included minutes, three July calls."""
    account = await open_account(engine, included_seconds=120)
    await ingest(
        engine,
        *calls_of("acct-1", JULY_CALL, ("u1", FIXED, 90), ("u2", MOBILE, 90), ("u3", GERMANY, 30)),
    )
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    return account


async def test_an_invoice_has_the_fee_usage_by_class_with_included_minutes_vat_and_ron(
    engine: AsyncEngine,
) -> None:
    """Issued on 2025-08-01 for July: 21 % VAT, RON at BNR's rate of 31 July,
    due 10 days later; the bundle covers the fixed call and 30 s of the
    mobile one (split at the exact second)."""
    await july_with_calls(engine)

    report = await run(engine, "2025-07", AUGUST_1)

    [invoice] = report.issued
    assert invoice.number == "CP-000001"
    assert (invoice.issue_date, invoice.due_date) == (AUGUST_1, date(2025, 8, 11))
    assert (invoice.period_first, invoice.period_last) == (date(2025, 7, 1), date(2025, 7, 31))
    assert (invoice.vat_rate, invoice.fx_rate, invoice.fx_date) == (Decimal("0.21"), Decimal("5.0720"), date(2025, 7, 31))
    assert (invoice.bundle_seconds, invoice.bundle_used_seconds) == (120, 120)
    lines = [
        (l.kind, l.number_class, l.quantity, l.billable_seconds, l.included_seconds, l.charged_seconds,
         l.net_micro, l.vat_micro, l.net_ron_micro, l.vat_ron_micro)
        for l in invoice.lines
    ]  # fmt: skip
    assert lines == [
        ("recurring_fee", None, 1, 0, 0, 0, 5 * EUR, 1_050_000, 25_360_000, 5_330_000),
        ("usage", "ro_fixed", 1, 90, 90, 0, 0, 0, 0, 0),
        ("usage", "ro_mobile", 1, 90, 30, 60, 25_000, 5_250, 130_000, 30_000),
        ("usage", "international", 1, 60, 0, 60, 20_000, 4_200, 100_000, 20_000),
    ]
    assert (invoice.net_micro, invoice.vat_micro, invoice.total_micro) == (5_045_000, 1_059_450, 6_104_450)
    assert (invoice.net_ron_micro, invoice.vat_ron_micro, invoice.total_ron_micro) == (
        25_590_000, 5_380_000, 30_970_000,
    )  # fmt: skip
    assert [(c.dialled, c.included_seconds, c.charged_seconds, c.cost_micro) for c in invoice.calls] == [
        ("40212345678", 90, 0, 0),
        ("40721234567", 30, 60, 25_000),
        ("4930123456", 0, 60, 20_000),
    ]


async def test_every_total_is_the_sum_of_its_lines_in_eur_and_in_ron(engine: AsyncEngine) -> None:
    await july_with_calls(engine)
    await record_downtime(engine, date(2025, 7, 9), "carrier outage")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert invoice.net_micro == sum(l.net_micro for l in invoice.lines)
    assert invoice.vat_micro == sum(l.vat_micro for l in invoice.lines)
    assert invoice.net_ron_micro == sum(l.net_ron_micro for l in invoice.lines)
    assert invoice.vat_ron_micro == sum(l.vat_ron_micro for l in invoice.lines)
    assert invoice.total_ron_micro == invoice.net_ron_micro + invoice.vat_ron_micro
    assert invoice.total_micro == invoice.net_micro + invoice.vat_micro
    assert all(l.net_ron_micro % 10_000 == 0 and l.vat_ron_micro % 10_000 == 0 for l in invoice.lines)


async def test_vat_is_19_percent_when_issued_before_2025_08_01_and_21_percent_from_then(
    engine: AsyncEngine,
) -> None:
    """The VAT date is the issue date: June is invoiced on 1 July (19 %), July on 1 August (21 %)."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 6, 30), "5.0800")
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    [june] = (await run(engine, "2025-06", JULY_1)).issued
    [july] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (june.vat_rate, june.vat_micro, june.fx_rate) == (Decimal("0.19"), 950_000, Decimal("5.0800"))
    assert (june.net_ron_micro, june.vat_ron_micro) == (25_400_000, 4_830_000)  # 25.40 × 19 % = 4.826
    assert (july.vat_rate, july.vat_micro, july.fx_rate) == (Decimal("0.21"), 1_050_000, Decimal("5.0720"))
    assert (june.number, july.number) == ("CP-000001", "CP-000002")


async def test_the_rate_is_the_latest_bnr_publication_before_the_issue_date(engine: AsyncEngine) -> None:
    """1 August 2025 is a Friday: BNR's rate of that day (published at 13:00)
    is not used; Thursday's is."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 30), "5.0700")
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await bnr_rate(engine, date(2025, 8, 1), "5.0999")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (invoice.fx_rate, invoice.fx_date, invoice.fx_source) == (Decimal("5.0720"), date(2025, 7, 31), "bnr")


async def test_a_manual_rate_wins_over_bnr_for_its_day(engine: AsyncEngine) -> None:
    from billing import fx_store

    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await fx_store.set_manual_rate(engine, date(2025, 7, 31), "5.1000")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (invoice.fx_rate, invoice.fx_source) == (Decimal("5.1000"), "manual")


async def test_no_invoice_is_issued_without_a_rate_and_no_number_is_consumed(engine: AsyncEngine) -> None:
    await open_account(engine, "acct-1")
    await open_account(engine, "acct-2")
    await bnr_rate(engine, date(2025, 8, 4), "5.0800")  # after the issue date: no use

    with pytest.raises(MissingRateError, match="no BNR rate for EUR published on or before 2025-07-31"):
        await run(engine, "2025-07", AUGUST_1)

    assert await count(engine, invoices) == 0
    assert await count(engine, invoice_counters) == 0
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    report = await run(engine, "2025-07", AUGUST_1)
    assert [i.number for i in report.issued] == ["CP-000001", "CP-000002"]


async def test_a_stale_rate_is_refused(engine: AsyncEngine) -> None:
    """A rate more than 7 days old is not BNR's rate of the issue date."""
    await open_account(engine)
    await bnr_rate(engine, date(2025, 7, 20), "5.0720")

    with pytest.raises(StaleRateError, match="2025-07-20, 12 days old"):
        await run(engine, "2025-07", AUGUST_1)

    assert await count(engine, invoices) == 0


async def test_running_again_issues_nothing_new(engine: AsyncEngine) -> None:
    await july_with_calls(engine)
    first = await run(engine, "2025-07", AUGUST_1)
    balance = await ledger.balance_micro(engine, first.issued[0].account_id)

    again = await run(engine, "2025-07", AUGUST_1)

    assert (len(again.issued), again.already_invoiced) == (0, 1)
    assert await count(engine, invoices) == 1
    assert await ledger.balance_micro(engine, first.issued[0].account_id) == balance


async def test_numbers_have_no_gaps_or_duplicates_when_runs_race(engine: AsyncEngine) -> None:
    """Several control planes running the same invoice run at once (real
    concurrency on PostgreSQL): each account invoiced once, numbers 1..N."""
    for i in range(12):
        await open_account(engine, f"acct-{i}")
        await ingest(engine, *calls_of(f"acct-{i}", JULY_CALL, (f"u{i}", MOBILE, 60 + i)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    reports = await asyncio.gather(*(run(engine, "2025-07", AUGUST_1) for _ in range(4)))

    issued = [invoice for report in reports for invoice in report.issued]
    assert sorted(i.sequence for i in issued) == list(range(1, 13))
    assert len({i.account_id for i in issued}) == 12
    assert sum(r.already_invoiced for r in reports) == 12 * 3
    async with engine.connect() as conn:
        stored = sorted((await conn.scalars(select(invoices.c.number))).all())
        last = await conn.scalar(select(invoice_counters.c.last_number))
    assert stored == list(range(1, 13)) and last == 12
    assert await count(engine, invoice_calls) == 12


async def test_an_invoice_that_fails_to_issue_gives_its_number_back(engine: AsyncEngine) -> None:
    for code in ("a", "b", "c"):
        await open_account(engine, code)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    async def failing_for_b(conn, invoice):
        if invoice.account_code == "b":
            raise RuntimeError("SMTP template broken")

    with pytest.raises(RuntimeError):
        await run(engine, "2025-07", AUGUST_1, on_issued=failing_for_b)
    report = await run(engine, "2025-07", AUGUST_1)

    assert [(i.account_code, i.number) for i in report.issued] == [("b", "CP-000002"), ("c", "CP-000003")]
    assert (await records.get_invoice(engine, "CP-000001")).account_code == "a"


async def test_numbers_follow_issue_dates_within_a_series(engine: AsyncEngine) -> None:
    await open_account(engine)
    await bnr_rate(engine, date(2025, 6, 30), "5.0800")
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await run(engine, "2025-07", AUGUST_1)

    with pytest.raises(InvoiceChronologyError, match="2025-08-01"):
        await run(engine, "2025-06", JULY_1)

    other_series = await run(engine, "2025-06", JULY_1, series="CPX")
    assert [i.number for i in other_series.issued] == ["CPX-000001"]


@pytest.mark.parametrize("period", ["2025-13", "2025-7", "July", "2025-07-01", ""])
async def test_a_bad_period_is_refused(engine: AsyncEngine, period: str) -> None:
    with pytest.raises(InvalidPeriodError):
        await run(engine, period, AUGUST_1)


async def test_an_issue_date_inside_the_period_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(InvalidPeriodError, match="too early"):
        await run(engine, "2025-07", date(2025, 7, 31))


async def test_downtime_days_reduce_the_fee_pro_rata(engine: AsyncEngine) -> None:
    """Contract: days down through the provider's fault reduce the recurring fee pro rata."""
    account = await open_account(engine, fee_eur=31)
    await record_downtime(engine, date(2025, 7, 9), "carrier outage")
    await record_downtime(engine, date(2025, 7, 10), "carrier outage")
    await record_downtime(engine, date(2025, 8, 2), "not in July")
    await bnr_rate(engine, date(2025, 7, 31), "5.0000")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    fee, credit = invoice.lines
    assert (fee.kind, fee.net_micro) == ("recurring_fee", 31 * EUR)
    assert (credit.kind, credit.quantity, credit.net_micro) == ("downtime_credit", 2, -2 * EUR)
    assert "2 zile" in credit.description
    assert invoice.net_micro == 29 * EUR
    [entry] = [e for e in await ledger.list_entries(engine, account.id) if e.kind == "recurring_fee"]
    assert entry.amount_micro == -29 * EUR


async def test_the_ledger_owes_what_the_invoice_says(engine: AsyncEngine) -> None:
    """After invoicing, a postpaid account's balance is minus the invoice's
    EUR total (usage, fee and VAT); paying it brings the balance to zero."""
    account = await july_with_calls(engine)

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert await ledger.balance_micro(engine, account.id) == -invoice.total_micro
    await payments.add_invoice_payment(engine, invoice.number, invoice.total_micro, paid_on=date(2025, 8, 5), currency="EUR")
    assert await ledger.balance_micro(engine, account.id) == 0


async def test_a_prepaid_invoice_is_a_statement_settled_from_the_balance(engine: AsyncEngine) -> None:
    account = await open_prepaid(engine, fee_eur=2)
    await ledger.top_up(engine, account.id, 20 * EUR)
    await ingest(engine, *calls_of("pre-1", JULY_CALL, ("p1", MOBILE, 120)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert invoice.prepaid and invoice.net_micro == 2 * EUR + 50_000
    status = payments.status_as_of(invoice, date(2026, 1, 1))
    assert (status.state, status.unpaid_micro, status.penalty_micro) == ("paid", 0, 0)
    assert await ledger.balance_micro(engine, account.id) == 20 * EUR - invoice.total_micro


async def test_a_call_ingested_after_its_month_was_invoiced_goes_on_the_next_invoice(
    engine: AsyncEngine,
) -> None:
    await open_account(engine, fee_eur=0)
    await ingest(engine, *calls_of("acct-1", JUNE_CALL, ("early", FIXED, 60)))
    await bnr_rate(engine, date(2025, 6, 30), "5.0800")
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    [june] = (await run(engine, "2025-06", JULY_1)).issued
    await ingest(engine, *calls_of("acct-1", JUNE_CALL + timedelta(days=1), ("late", FIXED, 120)))
    await ingest(engine, *calls_of("acct-1", JULY_CALL, ("july", FIXED, 60)))

    [july] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert [c.cost_micro for c in june.calls] == [10_000]
    assert [(l.month, l.net_micro) for l in july.lines] == [("2025-07", 10_000), ("2025-06", 20_000)]
    assert "iunie 2025" in july.lines[1].description
    assert len(july.calls) == 2


async def test_a_call_after_the_period_waits_for_its_own_invoice(engine: AsyncEngine) -> None:
    await open_account(engine, fee_eur=0)
    await ingest(engine, *calls_of("acct-1", datetime(2025, 7, 31, 21, 30, tzinfo=UTC), ("aug", FIXED, 60)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    report = await run(engine, "2025-07", AUGUST_1)

    # 21:30 UTC on 31 July is 00:30 on 1 August in Bucharest: August's call
    assert (report.issued, report.nothing_to_invoice) == ([], 1)


async def test_adjustments_and_sms_before_the_period_end_are_invoiced_once(engine: AsyncEngine) -> None:
    account = await open_account(engine, fee_eur=0)
    in_july = datetime(2025, 7, 15, tzinfo=UTC)
    await ledger.add_adjustment(engine, account.id, 1 * EUR, reference="goodwill <credit>", now=in_july)
    await ledger.charge(engine, account.id, 40_000, kind="sms_charge", now=in_july)
    await ledger.charge(engine, account.id, 40_000, kind="sms_charge", now=datetime(2025, 8, 2, tzinfo=UTC))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await bnr_rate(engine, date(2025, 8, 29), "5.0720")

    [july] = (await run(engine, "2025-07", AUGUST_1)).issued
    [august] = (await run(engine, "2025-08", date(2025, 9, 1))).issued

    assert [(l.kind, l.quantity, l.net_micro) for l in july.lines] == [("adjustment", 1, -EUR), ("sms", 1, 40_000)]
    assert july.lines[0].description == "Ajustare: goodwill <credit>"
    assert [(l.kind, l.net_micro) for l in august.lines] == [("sms", 40_000)]


async def test_calls_all_within_the_bundle_are_still_itemised_at_no_cost(engine: AsyncEngine) -> None:
    await open_account(engine, fee_eur=0, included_seconds=600)
    await ingest(engine, *calls_of("acct-1", JULY_CALL, ("u1", FIXED, 60), ("u2", MOBILE, 120)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert (invoice.total_micro, invoice.total_ron_micro, invoice.bundle_used_seconds) == (0, 0, 180)
    assert [(l.number_class, l.included_seconds, l.net_micro) for l in invoice.lines] == [
        ("ro_fixed", 60, 0), ("ro_mobile", 120, 0),
    ]  # fmt: skip
    assert len(invoice.calls) == 2
    assert payments.status_as_of(invoice, date(2026, 1, 1)).state == "paid"


async def test_an_account_opened_after_the_period_is_not_invoiced(engine: AsyncEngine) -> None:
    await open_account(engine, opened=datetime(2025, 8, 3, tzinfo=UTC))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    report = await run(engine, "2025-07", AUGUST_1)

    assert report.issued == [] and report.nothing_to_invoice == 0


async def test_an_unknown_invoice_is_a_clear_error(engine: AsyncEngine) -> None:
    with pytest.raises(UnknownInvoiceError, match="CP-000042"):
        await records.get_invoice(engine, "CP-42")


async def test_a_stored_invoice_reads_back_as_issued(engine: AsyncEngine) -> None:
    await july_with_calls(engine)
    [issued] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert await records.get_invoice(engine, "1") == issued
    assert await records.get_invoice(engine, "cp-000001") == issued
    [listed] = await records.list_invoices(engine, period="2025-07")
    assert listed.number == issued.number and listed.calls == ()
