"""The outbox delivers through a real SMTP server, on SQLite and PostgreSQL.

Invariant 5: every notification is sent at least once and, by its dedup
key, at most once; SMTP down means delayed, not lost.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from controlplane import migrate
from controlplane.db import create_engine
from controlplane.scheduled_jobs import outbox_purge_job
from notify import outbox
from notify.catcher import MaildirCatcher, SmtpServer, read_maildir
from notify.dispatcher import Dispatcher
from notify.outbox import RetryPolicy
from notify.smtp import SmtpConfig, SmtpSender
from notify.tables import attachments
from notify.tables import outbox as outbox_table
from sqlbase import utc_now
from tests.integration.notify.support import (
    FAST_RETRIES,
    PATIENT_RETRIES,
    SlowMaildirHandler,
    alert,
    eventually,
    new_dispatcher,
    running,
    smtp_config_for,
    voicemail_email,
    wav_bytes,
)


async def test_an_enqueued_email_is_delivered_once(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    email_id = await outbox.enqueue(engine, alert())

    counts = await dispatcher.dispatch_due()

    assert counts.sent == 1
    [received] = catcher.messages()
    assert received["To"] == "ana@example.ro"
    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "sent" and entry.sent_at is not None
    assert await dispatcher.dispatch_due() == type(counts)()  # nothing more to send
    assert len(catcher.messages()) == 1


async def test_the_same_dedup_key_enqueued_twice_sends_one_email(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    first = await outbox.enqueue(engine, alert("invoice:CP-2025-0001"))
    second = await outbox.enqueue(engine, alert("invoice:CP-2025-0001", subject="Altceva"))

    await dispatcher.dispatch_due()

    assert first == second
    assert [message["Subject"] for message in catcher.messages()] == ["Credit scăzut"]


async def test_a_dedup_key_already_sent_is_not_sent_again(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    await outbox.enqueue(engine, alert("missed:1751360400.7"))
    await dispatcher.dispatch_due()

    await outbox.enqueue(engine, alert("missed:1751360400.7"))
    await dispatcher.dispatch_due()

    assert len(catcher.messages()) == 1


async def test_concurrent_enqueues_of_one_key_store_one_email(
    db_url: str, engine: AsyncEngine
) -> None:
    """Two processes reporting the same event at once."""
    other = create_engine(db_url)
    try:
        ids = await asyncio.gather(
            *(outbox.enqueue(db, alert("voicemail:1751360400.9")) for db in (engine, other) * 4)
        )
    finally:
        await other.dispose()

    assert len(set(ids)) == 1


async def test_enqueue_wakes_the_dispatcher_long_before_its_poll_interval(
    engine: AsyncEngine, catcher: MaildirCatcher, smtp_config: SmtpConfig
) -> None:
    dispatcher = new_dispatcher(engine, SmtpSender(smtp_config), poll_interval=60)
    async with running(dispatcher):
        await asyncio.sleep(0.1)  # idle, waiting on its wake-up event

        await outbox.enqueue(engine, alert(), wake=dispatcher.wake)

        await eventually(lambda: len(catcher.messages()) == 1, timeout=2)


async def test_an_email_queued_in_a_rolled_back_transaction_is_never_sent(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    """The email commits with what caused it, or not at all."""
    try:
        async with engine.begin() as conn:
            await outbox.enqueue(conn, alert())
            raise RuntimeError("the payment failed to register")
    except RuntimeError:
        pass

    await dispatcher.dispatch_due()

    assert catcher.messages() == []


async def test_smtp_down_leaves_the_email_pending_with_its_next_attempt_later(
    engine: AsyncEngine, catcher: MaildirCatcher, smtp_config: SmtpConfig
) -> None:
    await catcher.stop()
    dispatcher = new_dispatcher(engine, SmtpSender(smtp_config), policy=PATIENT_RETRIES)
    email_id = await outbox.enqueue(engine, alert())

    counts = await dispatcher.dispatch_due()

    entry = await outbox.outbox_entry(engine, email_id)
    assert counts.retrying == 1
    assert entry is not None and entry.state == "pending" and entry.attempts == 1
    assert entry.next_attempt_at is not None and entry.next_attempt_at > entry.created_at
    assert entry.last_error is not None and "unavailable" in entry.last_error


async def test_an_email_delayed_by_smtp_down_is_delivered_exactly_once_when_it_returns(
    engine: AsyncEngine, catcher: MaildirCatcher, smtp_config: SmtpConfig
) -> None:
    await catcher.stop()
    dispatcher = new_dispatcher(engine, SmtpSender(smtp_config), policy=PATIENT_RETRIES)
    email_id = await outbox.enqueue(engine, alert())
    async with running(dispatcher):
        await eventually(lambda: _attempts_at_least(engine, email_id, 3))

        await catcher.start()  # same port

        await eventually(lambda: len(catcher.messages()) == 1)
        await asyncio.sleep(0.3)  # several more polls

    assert len(catcher.messages()) == 1
    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "sent"


@pytest.mark.usefixtures("engine")  # the database, migrated
async def test_an_email_queued_before_a_restart_is_sent_by_the_next_process(
    db_url: str, catcher: MaildirCatcher, smtp_config: SmtpConfig
) -> None:
    before = create_engine(db_url)
    await outbox.enqueue(before, alert())
    await before.dispose()

    after = create_engine(db_url)
    try:
        await new_dispatcher(after, SmtpSender(smtp_config)).dispatch_due()
    finally:
        await after.dispose()

    assert len(catcher.messages()) == 1


async def test_an_email_claimed_by_a_dead_process_is_sent_after_its_lease(
    db_url: str, engine: AsyncEngine, catcher: MaildirCatcher, smtp_config: SmtpConfig
) -> None:
    """At least once: a claim is a lease, not a promise."""
    lease = timedelta(milliseconds=400)
    doomed = create_engine(db_url)
    email_id = await outbox.enqueue(doomed, alert())
    [claim] = await outbox.claim_due(
        doomed, limit=10, policy=RetryPolicy(lease=lease, max_attempts=3)
    )
    await doomed.dispose()  # the process died holding the claim
    survivor = new_dispatcher(engine, SmtpSender(smtp_config))

    early = await survivor.dispatch_due()
    await asyncio.sleep((claim.lease_expires_at - utc_now()).total_seconds() + 0.05)
    late = await survivor.dispatch_due()

    assert (early.sent, late.sent) == (0, 1)
    assert len(catcher.messages()) == 1
    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "sent" and entry.attempts == 2


async def test_a_sender_whose_lease_ran_out_cannot_reschedule_the_email(
    engine: AsyncEngine,
) -> None:
    short = RetryPolicy(lease=timedelta(milliseconds=100), max_attempts=5)
    email_id = await outbox.enqueue(engine, alert())
    [stale] = await outbox.claim_due(engine, limit=1, policy=short)
    await asyncio.sleep(0.15)
    [current] = await outbox.claim_due(engine, limit=1, policy=FAST_RETRIES)

    outcome = await outbox.record_failure(engine, stale, "late news", policy=short)

    assert outcome is None
    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "sending" and entry.last_error is None
    assert current.attempts == 2


async def test_an_email_whose_senders_keep_dying_is_given_up_after_the_last_attempt(
    engine: AsyncEngine,
) -> None:
    """At-least-once is bounded: a message that kills its sender is not
    claimed forever."""
    short = RetryPolicy(lease=timedelta(milliseconds=50), max_attempts=2)
    email_id = await outbox.enqueue(engine, alert())
    for _ in range(2):
        assert len(await outbox.claim_due(engine, limit=1, policy=short)) == 1
        await asyncio.sleep(0.08)

    assert await outbox.claim_due(engine, limit=1, policy=short) == []
    [dead] = await outbox.list_dead(engine)
    assert dead.id == email_id and dead.last_error == outbox.SENDER_LOST


async def test_an_email_refused_by_the_server_every_time_is_dead_after_the_last_attempt(
    engine: AsyncEngine, refusing_server: SmtpServer
) -> None:
    dispatcher = new_dispatcher(
        engine, SmtpSender(smtp_config_for(refusing_server.port)), policy=FAST_RETRIES
    )
    email_id = await outbox.enqueue(engine, alert())
    async with running(dispatcher):
        await eventually(lambda: _state_is(engine, email_id, "dead"))

    [dead] = await outbox.list_dead(engine)
    assert dead.id == email_id
    assert dead.attempts == FAST_RETRIES.max_attempts
    assert dead.last_error is not None and "550" in dead.last_error
    assert refusing_server.handler.refused == FAST_RETRIES.max_attempts


async def test_a_dead_email_requeued_is_delivered(
    engine: AsyncEngine, catcher: MaildirCatcher, refusing_server: SmtpServer
) -> None:
    refused = new_dispatcher(
        engine,
        SmtpSender(smtp_config_for(refusing_server.port)),
        policy=RetryPolicy(max_attempts=1),
    )
    email_id = await outbox.enqueue(engine, alert())
    await refused.dispatch_due()
    assert [entry.id for entry in await outbox.list_dead(engine)] == [email_id]

    assert await outbox.requeue_dead(engine, email_id)
    await new_dispatcher(engine, SmtpSender(smtp_config_for(catcher.port))).dispatch_due()

    assert len(catcher.messages()) == 1
    assert await outbox.list_dead(engine) == []


async def test_two_dispatchers_sharing_one_database_send_each_email_once(
    db_url: str, engine: AsyncEngine, catcher: MaildirCatcher, smtp_config: SmtpConfig
) -> None:
    """Several control planes on one database (on PostgreSQL, FOR UPDATE
    SKIP LOCKED; on SQLite, BEGIN IMMEDIATE)."""
    second_engine = create_engine(db_url)
    try:
        first = new_dispatcher(engine, SmtpSender(smtp_config), batch_size=3)
        second = new_dispatcher(second_engine, SmtpSender(smtp_config), batch_size=3)
        for n in range(30):
            await outbox.enqueue(engine, alert(f"missed:1751360400.{n}"))

        counts = await asyncio.gather(first.dispatch_due(), second.dispatch_due())
    finally:
        await second_engine.dispose()

    assert sum(count.sent for count in counts) == 30
    message_ids = [message["Message-ID"] for message in catcher.messages()]
    assert len(message_ids) == len(set(message_ids)) == 30


async def test_stopping_the_dispatcher_returns_promptly_when_idle(
    engine: AsyncEngine, smtp_config: SmtpConfig
) -> None:
    dispatcher = new_dispatcher(engine, SmtpSender(smtp_config), poll_interval=60)
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(0.1)

    dispatcher.stop()

    await asyncio.wait_for(task, timeout=1)


async def test_stopping_mid_batch_hands_the_unsent_rest_back_due_at_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with SmtpServer(SlowMaildirHandler(tmp_path / "slow", delay=0.2)) as slow:
        dispatcher = new_dispatcher(engine, SmtpSender(smtp_config_for(slow.port)))
        ids = [await outbox.enqueue(engine, alert(f"missed:1751360400.{n}")) for n in range(5)]
        task = asyncio.create_task(dispatcher.run())
        await eventually(lambda: len(read_maildir(tmp_path / "slow")) == 1)

        dispatcher.stop()
        await asyncio.wait_for(task, timeout=2)

    entries = [await outbox.outbox_entry(engine, email_id) for email_id in ids]
    states = [(entry.state, entry.attempts) for entry in entries if entry is not None]
    sent = len(read_maildir(tmp_path / "slow"))
    assert states == [("sent", 1)] * sent + [("pending", 0)] * (5 - sent)
    assert sent < 5


async def test_a_claim_whose_lease_would_not_outlast_a_send_is_handed_back_unsent(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """A send never starts unless it can finish within the claim: no second
    dispatcher can be sending the same email meanwhile."""
    tight = RetryPolicy(lease=timedelta(seconds=1.35), max_attempts=3)
    async with SmtpServer(SlowMaildirHandler(tmp_path / "slow", delay=0.45)) as slow:
        sender = SmtpSender(smtp_config_for(slow.port, send_timeout=1.0))
        dispatcher = new_dispatcher(engine, sender, policy=tight)
        for n in range(3):
            await outbox.enqueue(engine, alert(f"missed:1751360400.{n}"))

        counts = await dispatcher.dispatch_due()

    # one sent per claim: after 0.45 s a claim has less than 1 s of lease left
    assert counts.sent == 3 and counts.released >= 2
    assert len(read_maildir(tmp_path / "slow")) == 3


async def test_the_dispatcher_outlives_database_errors_and_resumes(
    db_url: str, catcher: MaildirCatcher, smtp_config: SmtpConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that fails (here: not migrated yet) is logged and retried,
    not fatal to the loop."""
    engine = create_engine(db_url)
    try:
        dispatcher = new_dispatcher(engine, SmtpSender(smtp_config))
        async with running(dispatcher):
            await eventually(lambda: "outbox dispatch failed" in caplog.text)

            await migrate.upgrade(db_url)
            await outbox.enqueue(engine, alert(), wake=dispatcher.wake)

            await eventually(lambda: len(catcher.messages()) == 1)
    finally:
        await engine.dispose()


async def test_released_claims_are_due_again_at_once_without_counting_an_attempt(
    engine: AsyncEngine,
) -> None:
    """What a stopping dispatcher does with the rest of its batch."""
    email_id = await outbox.enqueue(engine, alert())
    claims = await outbox.claim_due(engine, limit=5, policy=FAST_RETRIES)

    assert await outbox.release(engine, claims) == 1

    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "pending" and entry.attempts == 0
    assert len(await outbox.claim_due(engine, limit=5, policy=FAST_RETRIES)) == 1


async def test_a_voicemail_recording_arrives_byte_for_byte(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    audio = wav_bytes(seconds=2.0)
    await outbox.enqueue(engine, voicemail_email(audio=audio))

    await dispatcher.dispatch_due()

    [received] = catcher.messages()
    [attached] = list(received.iter_attachments())
    assert attached.get_content_type() == "audio/wav"
    assert attached.get_filename() == "mesaj-vocal.wav"
    assert attached.get_content() == audio


async def test_a_sent_emails_attachments_are_deleted_from_the_outbox(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    await outbox.enqueue(engine, voicemail_email())

    await dispatcher.dispatch_due()

    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(attachments)) == 0


async def test_purging_old_sent_emails_keeps_the_unsent_ones(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    await outbox.enqueue(engine, alert("payment:7:P-1"))
    await dispatcher.dispatch_due()
    waiting = await outbox.enqueue(engine, alert("payment:7:P-2"))

    purged = await outbox.purge_sent(engine, sent_before=utc_now() + timedelta(seconds=1))

    assert purged == 1
    assert await outbox.outbox_entry(engine, waiting) is not None


async def test_the_daily_outbox_purge_deletes_only_emails_sent_before_its_cut_off(
    engine: AsyncEngine, catcher: MaildirCatcher, dispatcher: Dispatcher
) -> None:
    """The scheduled purge (notify_sent_retention_days, here 90) deletes an
    email sent 91 days ago and keeps one sent 89 days ago; an email not sent
    yet stays however old it is (invariant 5: delayed, never lost)."""
    old = await outbox.enqueue(engine, alert("payment:7:P-1"))
    recent = await outbox.enqueue(engine, alert("payment:7:P-2"))
    await dispatcher.dispatch_due()
    waiting = await outbox.enqueue(engine, alert("payment:7:P-3"))
    now = utc_now()
    async with engine.begin() as conn:
        for email_id, days in ((old, 91), (recent, 89)):
            await conn.execute(update(outbox_table).where(outbox_table.c.id == email_id)
                               .values(sent_at=now - timedelta(days=days)))  # fmt: skip
        await conn.execute(update(outbox_table).where(outbox_table.c.id == waiting)
                           .values(created_at=now - timedelta(days=200)))  # fmt: skip

    purged = await outbox_purge_job(engine, timedelta(days=90), now=now)

    assert purged == 1
    assert await outbox.outbox_entry(engine, old) is None
    assert await outbox.outbox_entry(engine, recent) is not None
    assert await outbox.outbox_entry(engine, waiting) is not None


# -- helpers -------------------------------------------------------------------


async def _attempts_at_least(engine: AsyncEngine, email_id: int, attempts: int) -> bool:
    entry = await outbox.outbox_entry(engine, email_id)
    return entry is not None and entry.attempts >= attempts


async def _state_is(engine: AsyncEngine, email_id: int, state: str) -> bool:
    entry = await outbox.outbox_entry(engine, email_id)
    return entry is not None and entry.state == state
