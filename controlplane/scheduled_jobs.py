"""The control plane's schedule: which periodic jobs run when, each a thin
call into the service that does the work.

``register_jobs(scheduler, engine, settings, invoicing)`` adds, in the
operator's zone (``settings.timezone``, Europe/Bucharest):

==================  ========================================  =====================================
job id              when                                      what
==================  ========================================  =====================================
``invoice-run``     the 1st of each month, 00:05              invoices of the previous month, issued
                                                              today, each emailed through the outbox
                                                              — once the month's CDRs are in: it
                                                              tries again every minute, up to 6 h
``bnr-fetch``       every day, 13:30 (BNR publishes ~13:00)   BNR's rates into the rate cache
``reservation-      every minute                              live reservations past their expiry
sweeper``                                                     are released
``voicemail-        every day, 03:30 (only given an ARI       voicemail recordings older than
purge``             client)                                   ``voicemail_retention_days`` are
                                                              deleted from Asterisk, over ARI
``outbox-purge``    every day, 03:45                          emails sent more than
                                                              ``notify_sent_retention_days`` ago
                                                              are deleted from the outbox
==================  ========================================  =====================================

Every job is safe to run on several control planes at once (the invoice
run is idempotent and numbers are gapless under concurrency; fetching
stores the same rates; the sweeper is one UPDATE; purging a recording
another control plane purged first changes nothing, and so does deleting
outbox rows already deleted). The invoice run waits
while CDRs of the month are still on their way (the tailer is behind after a
restart, calls that began before midnight are still going on:
:mod:`billing.invoicing.uningested`) — a call belongs to the month it started in — and
logs the month's quarantined CDRs, which need a person. A job that fails logs
why and waits for its next turn: a missing BNR rate on the 1st is logged
with what to run by hand (``clickphone fx fetch`` / ``fx set``, then
``clickphone invoice run``), and re-running issues only what is missing.

The invoice run here and ``clickphone invoice run`` both go through the
invoicing service (:class:`billing.invoicing.service.InvoicingService`,
wired by :func:`controlplane.invoicing_wiring.invoicing_service`; the
running control plane gives it its notifier): the
supplier from the settings (``supplier_*``, stored on each invoice),
customer name and email from provisioning's subscriber, the InvoiceIssued
email queued in the transaction that issues the invoice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncEngine

from ari_app.client import AriClient
from ari_app.errors import AriFailure
from ari_app.voicemail_recordings import purge_old_recordings
from billing import reservations
from billing.invoicing import records
from billing.invoicing.errors import InvoiceError, UsageNotIngestedError
from billing.fx_bnr import FxError
from billing.fx_fetch import DEFAULT_BNR_URL, FetchReport, fetch_bnr_rates
from billing.invoicing.issuing import RunReport
from billing.invoicing.service import InvoicingService
from billing.invoicing.supplier import Supplier
from sqlbase import utc_now
from notify import outbox

from .settings import Settings

log = logging.getLogger(__name__)

INVOICE_JOB_ID = "invoice-run"
FX_JOB_ID = "bnr-fetch"
SWEEPER_JOB_ID = "reservation-sweeper"
VOICEMAIL_PURGE_JOB_ID = "voicemail-purge"
OUTBOX_PURGE_JOB_ID = "outbox-purge"

INVOICE_RUN_AT = {"day": 1, "hour": 0, "minute": 5}
BNR_FETCH_AT = {"hour": 13, "minute": 30}
SWEEP_EVERY = timedelta(minutes=1)
INVOICE_RETRY_EVERY = timedelta(minutes=1)
INVOICE_WAIT_AT_MOST = timedelta(hours=6)
"""How long the invoice run waits for its month's CDRs: longer than the
longest call (4 h), so a call begun before midnight has ended and been rated."""
VOICEMAIL_PURGE_AT = {"hour": 3, "minute": 30}  # the quietest hour for Asterisk
OUTBOX_PURGE_AT = {"hour": 3, "minute": 45}  # the quietest hour, after the voicemail purge


def register_jobs(
    scheduler: BaseScheduler,
    engine: AsyncEngine,
    settings: Settings,
    invoicing: InvoicingService,
    *,
    bnr_url: str = DEFAULT_BNR_URL,
    invoice_series: str = records.DEFAULT_SERIES,
    ari: AriClient | None = None,
) -> dict[str, Job]:
    """Add the invoice run (through ``invoicing``), the BNR fetch,
    the reservation sweeper and the outbox purge to ``scheduler`` (not
    necessarily started), and the voicemail purge when given ``ari``, the
    client of the Asterisk holding the recordings; return the jobs by id.

    Registering again replaces them (ids are fixed).
    """
    zone = ZoneInfo(settings.timezone)
    common: dict[str, Any] = {"replace_existing": True, "max_instances": 1, "coalesce": True}
    jobs = {
        INVOICE_JOB_ID: scheduler.add_job(
            monthly_invoice_job,
            CronTrigger(**INVOICE_RUN_AT, timezone=zone),
            args=[invoicing],
            kwargs={"supplier": settings.supplier, "series": invoice_series, "timezone": zone},
            id=INVOICE_JOB_ID,
            name="monthly invoice run",
            # a control plane busy or restarting at 00:05 still runs it that day
            misfire_grace_time=12 * 3600,
            **common,
        ),
        FX_JOB_ID: scheduler.add_job(
            bnr_fetch_job,
            CronTrigger(**BNR_FETCH_AT, timezone=zone),
            args=[engine, bnr_url],
            id=FX_JOB_ID,
            name="BNR exchange rates",
            misfire_grace_time=6 * 3600,
            **common,
        ),
        SWEEPER_JOB_ID: scheduler.add_job(
            sweep_job,
            IntervalTrigger(seconds=int(SWEEP_EVERY.total_seconds()), timezone=zone),
            args=[engine],
            id=SWEEPER_JOB_ID,
            name="reservation sweeper",
            misfire_grace_time=30,
            **common,
        ),
    }
    # retention: what is kept only so long, purged at night
    if ari is not None:
        jobs[VOICEMAIL_PURGE_JOB_ID] = scheduler.add_job(
            voicemail_purge_job,
            CronTrigger(**VOICEMAIL_PURGE_AT, timezone=zone),
            args=[ari, timedelta(days=settings.voicemail_retention_days)],
            id=VOICEMAIL_PURGE_JOB_ID,
            name="voicemail retention purge",
            misfire_grace_time=12 * 3600,
            **common,
        )
    jobs[OUTBOX_PURGE_JOB_ID] = scheduler.add_job(
        outbox_purge_job,
        CronTrigger(**OUTBOX_PURGE_AT, timezone=zone),
        args=[engine, timedelta(days=settings.notify_sent_retention_days)],
        id=OUTBOX_PURGE_JOB_ID,
        name="sent emails retention purge",
        misfire_grace_time=12 * 3600,
        **common,
    )
    return jobs


# -- the jobs ----------------------------------------------------------------------


def previous_month(day: date) -> str:
    """Return ``'YYYY-MM'`` of the month before ``day``'s."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.strftime("%Y-%m")


async def monthly_invoice_job(
    invoicing: InvoicingService,
    *,
    supplier: Supplier,
    series: str = records.DEFAULT_SERIES,
    timezone: ZoneInfo = ZoneInfo("Europe/Bucharest"),
    now: datetime | None = None,
    retry_every: timedelta = INVOICE_RETRY_EVERY,
    wait_at_most: timedelta = INVOICE_WAIT_AT_MOST,
) -> RunReport | None:
    """Invoice the previous month through ``invoicing``, issued today (in
    ``timezone``); return the report, or None when it could not run (logged,
    with what to do).

    While CDRs of the month are still on their way
    (:class:`~billing.invoicing.UsageNotIngestedError`), try again every
    ``retry_every``, for at most ``wait_at_most``."""
    today = (now or utc_now()).astimezone(timezone).date()
    period = previous_month(today)
    waited = timedelta(0)
    while True:
        try:
            report = await invoicing.issue_month(
                period, today, supplier=supplier, series=series, now=now or utc_now()
            )
        except UsageNotIngestedError as exc:
            if waited >= wait_at_most:
                log.error(
                    "invoice run for %s not done after waiting %s: %s (`clickphone invoice run "
                    "--period %s --issue-date %s`)", period, waited, exc, period, today.isoformat(),
                )  # fmt: skip
                return None
            log.warning("invoice run for %s waits for its CDRs: %s", period, exc.usage.describe())
            await asyncio.sleep(retry_every.total_seconds())
            waited += retry_every
            continue
        except FxError as exc:
            log.error(
                "invoice run for %s not done: %s. Fetch or set the rate (`clickphone fx fetch`, "
                "`clickphone fx set --date D --eur RATE`), then `clickphone invoice run --period %s "
                "--issue-date %s`",
                period, exc, period, today.isoformat(),
            )  # fmt: skip
            return None
        except InvoiceError as exc:
            log.error("invoice run for %s not done: %s", period, exc)
            return None
        break
    if report.uningested.quarantined or report.uningested.unparsed:
        log.warning(
            "invoice run for %s: %s; see cdr_quarantine (re-ingested, they go on the next invoice)",
            period, report.uningested.describe(),
        )  # fmt: skip
    log.info(
        "invoice run for %s: %d issued, %d already invoiced, %d with nothing to invoice",
        period, len(report.issued), report.already_invoiced, report.nothing_to_invoice,
    )  # fmt: skip
    return report


async def bnr_fetch_job(engine: AsyncEngine, url: str = DEFAULT_BNR_URL) -> FetchReport | None:
    """Fetch BNR's rates into the cache; return what was stored, or None (logged)."""
    try:
        report = await fetch_bnr_rates(engine, url)
    except FxError as exc:
        log.error("BNR rates not fetched: %s", exc)
        return None
    log.info("BNR rates of %s stored (%d rates)", report.latest_day.isoformat(), report.rates)
    return report


async def sweep_job(engine: AsyncEngine) -> int:
    """Release the live reservations that expired; return how many."""
    released = await reservations.sweep_expired(engine)
    if released:
        log.info("released %d expired reservations", released)
    return released


# -- retention ---------------------------------------------------------------------


async def voicemail_purge_job(
    client: AriClient, retention: timedelta, *, now: datetime | None = None
) -> list[str] | None:
    """Delete the voicemail recordings older than ``retention`` from
    Asterisk; return their names, or None when ARI could not be reached
    (logged; the next day's run purges them)."""
    try:
        purged = await purge_old_recordings(client, retention, now=now)
    except AriFailure as exc:
        log.error("voicemail recordings not purged: %s", exc)
        return None
    if purged:
        log.info("purged %d voicemail recordings older than %d days", len(purged), retention.days)
    return purged


async def outbox_purge_job(engine: AsyncEngine, retention: timedelta, *, now: datetime | None = None) -> int:
    """Delete the emails sent more than ``retention`` ago from the outbox
    (their dedup keys with them); return how many. Unsent ones stay."""
    purged = await outbox.purge_sent(engine, sent_before=(now or utc_now()) - retention)
    if purged:
        log.info("purged %d emails sent more than %d days ago", purged, retention.days)
    return purged
