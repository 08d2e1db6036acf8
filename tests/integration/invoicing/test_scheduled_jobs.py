"""The scheduled jobs: when they fire (computed from their triggers, in
Europe/Bucharest, across DST) and what they do when they run. Both databases.

Contract: the recurring fee is invoiced on the 1st of each month for the
previous month; the invoice is emailed when issued.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import fx_store, ledger, reservations
from billing.invoicing import records
from controlplane.scheduled_jobs import (
    FX_JOB_ID,
    INVOICE_JOB_ID,
    OUTBOX_PURGE_JOB_ID,
    SWEEPER_JOB_ID,
    bnr_fetch_job,
    monthly_invoice_job,
    outbox_purge_job,
    previous_month,
    register_jobs,
    sweep_job,
)
from controlplane.invoicing_wiring import invoicing_service
from controlplane.settings import Settings, SettingsError, load_settings
from notify.notifier import Notifier
from notify.render import Renderer
from notify.tables import outbox
from provisioning import services as provisioning

from .support import AUGUST_1, EUR, JULY_CALL, MOBILE, SUPPLIER, bnr_rate, calls_of, count, ingest, invoicing, open_account, run_time

BUCHAREST = ZoneInfo("Europe/Bucharest")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BUCHAREST)


@pytest.fixture
def jobs(tmp_path):
    scheduler = AsyncIOScheduler(timezone="Europe/Bucharest")
    settings = Settings(state_dir=tmp_path)
    return register_jobs(scheduler, engine=None, settings=settings, invoicing=invoicing(None))  # type: ignore[arg-type]


def next_fire(job, after: datetime) -> datetime:
    return job.trigger.get_next_fire_time(None, after)


def test_four_jobs_are_registered_by_id(jobs) -> None:
    """Without an ARI client (no voicemail purge): the invoice run, the BNR
    fetch, the sweeper and the outbox purge."""
    assert set(jobs) == {INVOICE_JOB_ID, FX_JOB_ID, SWEEPER_JOB_ID, OUTBOX_PURGE_JOB_ID}


async def test_registering_again_replaces_the_jobs(tmp_path) -> None:
    scheduler = AsyncIOScheduler(timezone="Europe/Bucharest")
    settings = Settings(state_dir=tmp_path)
    for _ in range(2):
        register_jobs(scheduler, None, settings, invoicing(None))  # type: ignore[arg-type]
    scheduler.start(paused=True)
    try:
        assert sorted(job.id for job in scheduler.get_jobs()) == sorted(
            [INVOICE_JOB_ID, FX_JOB_ID, SWEEPER_JOB_ID, OUTBOX_PURGE_JOB_ID]
        )
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (local(2025, 7, 15, 12, 0), local(2025, 8, 1, 0, 5)),
        (local(2025, 8, 1, 0, 5), local(2025, 8, 1, 0, 5)),  # the instant itself
        (local(2025, 8, 1, 0, 6), local(2025, 9, 1, 0, 5)),
        (local(2025, 12, 31, 23, 59), local(2026, 1, 1, 0, 5)),
    ],
)
def test_the_invoice_run_fires_on_the_1st_at_00_05_bucharest(jobs, after: datetime, expected: datetime) -> None:
    assert next_fire(jobs[INVOICE_JOB_ID], after) == expected


def test_the_invoice_run_keeps_00_05_local_across_dst(jobs) -> None:
    """Summer (UTC+3) and winter (UTC+2): always five past midnight in Bucharest."""
    summer = next_fire(jobs[INVOICE_JOB_ID], local(2025, 7, 2, 0, 0))
    winter = next_fire(jobs[INVOICE_JOB_ID], local(2025, 10, 15, 0, 0))

    assert summer.astimezone(UTC) == datetime(2025, 7, 31, 21, 5, tzinfo=UTC)
    assert winter.astimezone(UTC) == datetime(2025, 10, 31, 22, 5, tzinfo=UTC)


def test_the_invoice_run_is_the_invoicing_service_it_is_given(tmp_path) -> None:
    """One service issues the month's invoices for the CLI and the scheduler:
    the job runs the one the composition built (with the plane's notifier)."""
    service = invoicing(None)  # type: ignore[arg-type]

    jobs = register_jobs(AsyncIOScheduler(timezone=BUCHAREST), None, Settings(state_dir=tmp_path), service)  # type: ignore[arg-type]

    assert jobs[INVOICE_JOB_ID].func is monthly_invoice_job
    assert jobs[INVOICE_JOB_ID].args == (service,)


def test_bnr_rates_are_fetched_daily_at_13_30_bucharest(jobs) -> None:
    job = jobs[FX_JOB_ID]

    assert next_fire(job, local(2025, 8, 1, 9, 0)) == local(2025, 8, 1, 13, 30)
    assert next_fire(job, local(2025, 8, 1, 13, 31)) == local(2025, 8, 2, 13, 30)


def test_the_sweeper_runs_every_minute(jobs) -> None:
    job = jobs[SWEEPER_JOB_ID]
    first = next_fire(job, local(2025, 8, 1, 12, 0))

    assert next_fire(job, first + timedelta(seconds=1)) - first == timedelta(minutes=1)


def test_the_outbox_purge_runs_daily_at_03_45_with_the_settings_retention(tmp_path) -> None:
    """Sent emails are kept notify_sent_retention_days (their dedup keys with
    them), then purged at night, after the voicemail purge of 03:30."""
    settings = Settings(state_dir=tmp_path, notify_sent_retention_days=120)

    jobs = register_jobs(AsyncIOScheduler(timezone=BUCHAREST), None, settings, invoicing(None))  # type: ignore[arg-type]

    purge = jobs[OUTBOX_PURGE_JOB_ID]
    assert purge.func is outbox_purge_job
    assert purge.args == (None, timedelta(days=120))
    assert next_fire(purge, local(2025, 7, 1, 12, 0)) == local(2025, 7, 2, 3, 45)


def test_by_default_sent_emails_are_kept_90_days(tmp_path) -> None:
    assert load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)}).notify_sent_retention_days == 90


@pytest.mark.parametrize("days", ["6", "0", "a quarter"])
def test_a_sent_email_retention_under_a_week_is_refused_by_name(tmp_path, days: str) -> None:
    """A sent email's dedup key is purged with it: at least 7 days, so a
    replayed event is still recognised."""
    with pytest.raises(SettingsError, match="notify_sent_retention_days"):
        load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path), "CLICKPHONE_NOTIFY_SENT_RETENTION_DAYS": days})


def test_the_previous_month_of_january_is_december() -> None:
    assert previous_month(date(2026, 1, 1)) == "2025-12"
    assert previous_month(date(2025, 8, 1)) == "2025-07"


async def test_the_invoice_job_invoices_last_month_and_queues_the_emails(engine: AsyncEngine) -> None:
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    await open_account(engine, subscriber_id=subscriber.id)
    await ingest(engine, *calls_of("acct-1", JULY_CALL, ("u1", MOBILE, 60)))
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")

    report = await monthly_invoice_job(invoicing(engine), supplier=SUPPLIER, now=run_time(AUGUST_1))

    assert report is not None and report.period == "2025-07"
    [invoice] = report.issued
    assert (invoice.issue_date, invoice.net_micro) == (AUGUST_1, 5 * EUR + 25_000)
    assert await count(engine, outbox) == 1


async def test_the_invoice_run_wakes_the_dispatcher_once_its_emails_are_committed(engine: AsyncEngine) -> None:
    """The Notifier's contract for emails queued in the caller's transaction:
    the run wakes the running plane's dispatcher after committing, so the
    invoice goes out at once, not at the outbox's next poll."""
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    await open_account(engine, subscriber_id=subscriber.id)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    wake = asyncio.Event()

    await invoicing_service(engine, Notifier(Renderer(), wake=wake)).issue_month(
        "2025-07", AUGUST_1, supplier=SUPPLIER, now=run_time(AUGUST_1)
    )

    assert wake.is_set()
    assert await count(engine, outbox) == 1


async def test_without_a_rate_the_invoice_job_says_what_to_do(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await open_account(engine)

    with caplog.at_level(logging.ERROR, logger="controlplane.scheduled_jobs"):
        report = await monthly_invoice_job(invoicing(engine), supplier=SUPPLIER, now=run_time(AUGUST_1))

    assert report is None
    assert "clickphone invoice run --period 2025-07 --issue-date 2025-08-01" in caplog.text
    assert await records.list_invoices(engine) == []


async def test_the_fx_job_stores_bnr_rates(engine: AsyncEngine, bnr_server: str) -> None:
    report = await bnr_fetch_job(engine, f"{bnr_server}/nbrfxrates.xml")

    assert report is not None
    assert (await fx_store.stored_rate_on(engine, date(2025, 8, 1))).rate == report.eur[date(2025, 8, 1)]


async def test_the_fx_job_logs_a_failure_and_carries_on(
    engine: AsyncEngine, bnr_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="controlplane.scheduled_jobs"):
        assert await bnr_fetch_job(engine, f"{bnr_server}/gone.xml") is None

    assert "HTTP 404" in caplog.text


async def test_the_sweeper_releases_expired_reservations(engine: AsyncEngine) -> None:
    account = await open_account(engine)
    held = await reservations.reserve(
        engine, account.id, EUR, ttl=timedelta(seconds=30), reference="call-1",
        now=datetime.now(UTC) - timedelta(minutes=5),
    )  # fmt: skip

    assert await sweep_job(engine) == 1
    assert (await reservations.get_reservation(engine, held.id)).state == "released"
    assert await ledger.available_credit_micro(engine, account.id) == 100 * EUR
