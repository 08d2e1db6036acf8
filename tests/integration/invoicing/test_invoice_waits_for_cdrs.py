"""An invoice run and the CDRs of its period not charged yet, on SQLite and PostgreSQL.

Issue 10, defect 16: a call belongs to the period of its start in
Europe/Bucharest, whenever its CDR is ingested; so an invoice run waits for
(or reports) the CDRs of its period still on their way (billing.invoicing.uningested).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import reservations
from billing.invoicing.tables import invoice_counters, invoices
from billing.invoicing.errors import UsageNotIngestedError
from billing.tailer import CdrTailer
from billing.tariffs import CONTRACT_TZ
from controlplane.scheduled_jobs import monthly_invoice_job

from .support import (
    AUGUST_1,
    EUR,
    FIXED,
    JULY_CALL,
    SUPPLIER,
    bnr_rate,
    calls_of,
    count,
    ingest,
    invoicing,
    master_line,
    open_account,
    run,
    run_time,
)

LAST_EVENING = datetime(2025, 7, 31, 23, 30, tzinfo=CONTRACT_TZ)  # 20:30 UTC: July's
AFTER_MIDNIGHT = datetime(2025, 8, 1, 0, 2, tzinfo=CONTRACT_TZ)  # August's


@pytest.fixture
async def july(engine: AsyncEngine) -> None:
    await open_account(engine, fee_eur=0)
    await bnr_rate(engine, AUGUST_1 - timedelta(days=1), "5.0720")


@pytest.fixture
async def behind(engine: AsyncEngine, tmp_path: Path, july: None):
    """A followed CDR file: a call of 3 July ingested, then one of 31 July
    23:30 appended while the control plane was down (not read yet)."""
    path = tmp_path / "Master.csv"
    path.write_text(master_line("early", dialled=FIXED, billsec=60, start=JULY_CALL))
    tailer = CdrTailer(engine, path, system_name="pbx1")
    await tailer.poll()
    with open(path, "a") as fh:
        fh.write(master_line("last-evening", dialled=FIXED, billsec=120, start=LAST_EVENING))
    yield tailer
    tailer.close()


async def test_a_call_of_the_31st_the_tailer_has_not_read_stops_the_run_then_lands_in_its_month(
    engine: AsyncEngine, behind: CdrTailer
) -> None:
    """Defect 16: the run at 00:05 on the 1st does not issue July without the
    call made on 31 July; once the tailer has caught up, July's invoice has it."""
    with pytest.raises(UsageNotIngestedError) as refused:
        await run(engine, "2025-07", AUGUST_1)

    assert "1 CDR(s) of the period" in str(refused.value)
    assert (await count(engine, invoices), await count(engine, invoice_counters)) == (0, 0)  # no number used

    await behind.poll()
    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert [(line.month, line.quantity, line.net_micro) for line in invoice.lines] == [("2025-07", 2, 30_000)]


async def test_cdrs_charged_by_hand_no_longer_stop_the_run(engine: AsyncEngine, behind: CdrTailer) -> None:
    """`clickphone cdr ingest` of the file charges them: the tailer's offset is not what counts."""
    await ingest(engine, master_line("last-evening", dialled=FIXED, billsec=120, start=LAST_EVENING))

    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued

    assert len(invoice.calls) == 2


async def test_unread_calls_of_the_next_month_do_not_stop_the_run(
    engine: AsyncEngine, behind: CdrTailer
) -> None:
    await behind.poll()
    with open(behind.path, "a") as fh:
        fh.write(master_line("august", dialled=FIXED, billsec=60, start=AFTER_MIDNIGHT))

    report = await run(engine, "2025-07", AUGUST_1)

    assert len(report.issued) == 1 and not report.uningested.waiting


async def test_a_call_of_the_period_still_live_stops_the_run_until_its_cdr_is_charged(
    engine: AsyncEngine, july: None
) -> None:
    """A call begun at 23:30 on 31 July is still going on at 00:05: its
    reservation is live; its CDR, once ingested, settles it."""
    account_id = 1
    await reservations.reserve(
        engine, account_id, EUR, ttl=timedelta(hours=1), reference="long-call", now=LAST_EVENING
    )

    with pytest.raises(UsageNotIngestedError, match="1 call"):
        await run(engine, "2025-07", AUGUST_1)

    await ingest(engine, master_line("long-call", dialled=FIXED, billsec=2400, start=LAST_EVENING))
    [invoice] = (await run(engine, "2025-07", AUGUST_1)).issued
    assert [call.billsec for call in invoice.calls] == [2400]


async def test_quarantined_cdrs_of_the_period_are_reported_not_waited_for(
    engine: AsyncEngine, july: None
) -> None:
    """Waiting does not bring them (an unknown account needs a person): the
    run issues and says how many calls of the period it could not charge."""
    await ingest(
        engine,
        *calls_of("acct-1", JULY_CALL, ("u1", FIXED, 60)),
        *calls_of("acct-404", JULY_CALL, ("lost", FIXED, 60)),
        *calls_of("acct-404", AFTER_MIDNIGHT.astimezone(UTC), ("august", FIXED, 60)),
    )

    report = await run(engine, "2025-07", AUGUST_1)

    assert len(report.issued) == 1
    assert (report.uningested.waiting, report.uningested.quarantined) == (False, 1)
    assert "1 CDR(s) of the period quarantined" in report.uningested.describe()


async def test_allow_uningested_issues_anyway_and_reports_what_is_missing(
    engine: AsyncEngine, behind: CdrTailer
) -> None:
    report = await run(engine, "2025-07", AUGUST_1, allow_uningested=True)

    assert len(report.issued[0].calls) == 1
    assert report.uningested.unread[0].cdrs == 1


async def test_the_scheduled_run_waits_for_the_tailer_then_issues(
    engine: AsyncEngine, behind: CdrTailer, caplog: pytest.LogCaptureFixture
) -> None:
    """The control plane restarts after midnight: the 00:05 run waits while its
    tailer catches up, instead of issuing July without the 31st's call."""
    caplog.set_level(logging.WARNING, logger="controlplane.scheduled_jobs")

    async def tailer_catches_up() -> None:
        while not any("waits for its CDRs" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.01)
        await behind.poll()

    report, _ = await asyncio.gather(
        monthly_invoice_job(
            invoicing(engine), supplier=SUPPLIER, now=run_time(AUGUST_1),
            retry_every=timedelta(milliseconds=20), wait_at_most=timedelta(minutes=5),
        ),  # fmt: skip
        tailer_catches_up(),
    )

    assert report is not None and len(report.issued[0].calls) == 2


async def test_the_scheduled_run_gives_up_after_its_limit_and_says_what_to_do(
    engine: AsyncEngine, behind: CdrTailer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="controlplane.scheduled_jobs")

    report = await monthly_invoice_job(
        invoicing(engine), supplier=SUPPLIER, now=run_time(AUGUST_1), wait_at_most=timedelta(0)
    )

    assert report is None and await count(engine, invoices) == 0
    assert "clickphone invoice run --period 2025-07 --issue-date 2025-08-01" in caplog.text
