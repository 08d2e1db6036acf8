"""Voicemail-to-email and missed-call emails, end to end: a real pjsua2
caller, the real Asterisk testbed recording through ARI, the outbox, a real
SMTP server.

The test's handover stands in for the inbound flow: the caller becomes a
call of a real CallController whose step hands it to the service, as the
flow's ``on_unanswered`` hook does.

Invariant 5: every notification is sent at least once and, by its dedup
key, at most once; SMTP down means delayed, not lost — and a compressed
copy that cannot be made never holds a message back.
Invariant 7: no caller ID name can inject email headers or HTML.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from ari_app.calls import CallEnded
from ari_app.errors import AriError
from ari_app.voicemail import HUNG_UP, MISSED, VOICEMAIL
from ari_app.voicemail_recordings import RECORDING_PREFIX, purge_old_recordings
from controlplane.db import create_engine
from controlplane.invoicing_wiring import invoicing_service
from controlplane.recipients import AccountDirectory
from controlplane.scheduled_jobs import VOICEMAIL_PURGE_JOB_ID, register_jobs
from controlplane.settings import Settings
from notify.catcher import MaildirCatcher
from notify.notifier import Notifier
from notify.render import Renderer
from notify.smtp import SmtpSender
from notify.tables import attachments as attachments_table
from notify.tables import outbox as outbox_table
from tests.integration.notify.support import (
    NOTIFY_HEADERS,
    PATIENT_RETRIES,
    eventually,
    html_part,
    new_dispatcher,
    running,
    smtp_config_for,
    text_part,
)

from .support import (
    DIALLED,
    SUBSCRIBER_EMAIL,
    audio_attachments,
    converter_on_path,
    leave_message,
    loudest_sample,
    new_mailbox,
    ogg_opus_seconds,
    recorded_the_message,
    speak_after_the_beep,
    wav_seconds,
    write_tone,
)

BUCHAREST = ZoneInfo("Europe/Bucharest")
MONTHS_RO = ("ianuarie", "februarie", "martie", "aprilie", "mai", "iunie", "iulie", "august",
             "septembrie", "octombrie", "noiembrie", "decembrie")
# a greeting of one second for the tests that are not about the greeting
SHORT_GREETING = "silence/1"


def bucharest_clock(moment: datetime) -> str:
    """How a Romanian email writes a time: ``1 iulie 2025, 12:00``."""
    local = moment.astimezone(BUCHAREST)
    return f"{local.day} {MONTHS_RO[local.month - 1]} {local.year}, {local:%H:%M}"


async def outbox_keys(engine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(select(outbox_table.c.dedup_key))).scalars())


async def queued_audio(engine) -> bytes:
    """The WAV waiting in the outbox: the first attachment of the one email."""
    async with engine.connect() as conn:
        return (await conn.execute(
            select(attachments_table.c.content).where(attachments_table.c.position == 0)
        )).scalar_one()


async def test_a_message_left_after_the_beep_arrives_by_email_with_the_recording(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path
) -> None:
    """The stock greeting, the beep, 4 s of tone from a real phone, hangup:
    ONE email to the subscriber with the WAV attached, as long as what the
    caller played (by the WAV header), and an Ogg Opus copy of it (opusenc
    is installed) as long and much smaller; the caller's number and name,
    the time in Bucharest; the recording is deleted from Asterisk."""
    dispatcher = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(wake=dispatcher.wake)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    message = write_tone(tmp_path / "message.wav", 4.0)

    async with running(dispatcher):
        before = datetime.now(BUCHAREST)
        hung_up_at = await leave_message(phone, voicemail.log, message)
        assert await handover.result() == VOICEMAIL
        await eventually(lambda: len(catcher.messages()) >= 1)
        latency = time.monotonic() - hung_up_at
        after = datetime.now(BUCHAREST)

    [email] = catcher.messages()
    assert email["To"] == SUBSCRIBER_EMAIL
    assert email["Subject"] == "Mesaj vocal nou de la Test Phone 1001 (1001)"
    text = text_part(email)
    assert "Test Phone 1001 (1001)" in text
    assert f"+{mailbox.did.number}" in text
    assert bucharest_clock(before) in text or bucharest_clock(after) in text
    attached = audio_attachments(email)
    assert list(attached) == ["audio/wav", "audio/ogg"]
    attachment, copy = attached["audio/wav"], attached["audio/ogg"]
    assert attachment.get_filename().startswith("mesaj-vocal-") and attachment.get_filename().endswith(".wav")
    assert copy.get_filename() == attachment.get_filename().removesuffix(".wav") + ".opus"
    audio, compressed = attachment.get_content(), copy.get_content()
    print(f"voicemail: {wav_seconds(audio):.2f} s recorded for 4 s played; "
          f"WAV {len(audio)} bytes, Ogg Opus {len(compressed)} bytes")
    assert abs(wav_seconds(audio) - 4.0) <= 1.0
    assert compressed.startswith(b"OggS") and b"OpusHead" in compressed
    assert abs(ogg_opus_seconds(compressed) - wav_seconds(audio)) <= 0.1
    assert len(compressed) * 4 < len(audio)
    assert f"{round(wav_seconds(audio))} s" in text  # the length the email states is the file's
    assert loudest_sample(audio) > 3000  # the caller's tone, not silence
    greeting = await voicemail.log.wait_for("PlaybackStarted")
    assert greeting["playback"]["media_uri"] == "sound:vm-intro"
    greeted = await voicemail.log.wait_for("PlaybackFinished", lambda e: e["playback"]["id"] == greeting["playback"]["id"])
    assert greeted["playback"]["state"] == "done"
    recording = await voicemail.log.wait_for("RecordingStarted")
    # the whole prompt (5.7 s in Debian's English sounds) and the beep were heard
    assert voicemail.log.time_of(recording) - voicemail.log.time_of(greeting) > 5.5
    assert voicemail.leftover_recordings() == []
    assert await outbox_keys(voicemail.engine) == [f"voicemail:{handover.channels[0]['id']}"]
    print(f"voicemail: hangup to SMTP accept {latency * 1000:.0f} ms")


async def test_a_caller_who_hangs_up_during_the_greeting_gives_one_missed_call_email_and_no_voicemail(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk
) -> None:
    """Gone before the beep: no recording is made, and the subscriber gets
    exactly one missed-call email (key ``missed:<linkedid>``)."""
    dispatcher = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(wake=dispatcher.wake)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    async with running(dispatcher):
        call = await phone.call(DIALLED)
        await phone.wait_state("CONFIRMED", call)
        await voicemail.log.wait_for("PlaybackStarted")
        await phone.hangup(call)
        assert await handover.result() == HUNG_UP
        await eventually(lambda: len(catcher.messages()) >= 1)
        await asyncio.sleep(0.3)  # time for a second email, if there were one

    [email] = catcher.messages()
    assert email["Subject"] == "Apel nepreluat de la Test Phone 1001 (1001)"
    assert list(email.iter_attachments()) == []
    assert await outbox_keys(voicemail.engine) == [f"missed:{handover.channels[0]['id']}"]
    assert not [e for e in voicemail.log.events if e["type"] == "RecordingStarted"]
    assert voicemail.leftover_recordings() == []


async def test_a_message_shorter_than_the_minimum_counts_as_a_missed_call(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path
) -> None:
    """Half a second after the beep is no message: a missed-call email,
    no voicemail email, and the short recording is deleted."""
    service = voicemail.service(greeting=SHORT_GREETING, min_message_seconds=2)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "busy"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    await leave_message(phone, voicemail.log, write_tone(tmp_path / "short.wav", 0.5))

    assert await handover.result() == HUNG_UP
    assert await outbox_keys(voicemail.engine) == [f"missed:{handover.channels[0]['id']}"]
    assert voicemail.leftover_recordings() == []


async def test_the_voicemail_email_is_in_the_accounts_language_over_the_subscribers(
    voicemail, engine, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path
) -> None:
    """Defect (one language rule, notify.notifier.recipient_for): a
    Romanian-speaking subscriber whose account is set to English gets the
    voicemail email in English, as admin alerts and invoices are sent."""
    mailbox = await new_mailbox(engine, language="ro", account_language="en")
    dispatcher = new_dispatcher(engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(greeting=SHORT_GREETING, wake=dispatcher.wake)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    async with running(dispatcher):
        await leave_message(phone, voicemail.log, write_tone(tmp_path / "message.wav", 2.0))
        assert await handover.result() == VOICEMAIL
        await eventually(lambda: len(catcher.messages()) >= 1)

    [email] = catcher.messages()
    assert email["Subject"] == "New voicemail from Test Phone 1001 (1001)"
    assert "You have a new voicemail." in text_part(email)


async def test_a_caller_who_presses_hash_ends_the_message_and_is_hung_up_after_a_goodbye(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path
) -> None:
    """``#`` ends the recording; the caller hears goodbye and the service
    hangs up."""
    dispatcher = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(greeting=SHORT_GREETING, wake=dispatcher.wake)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    async with running(dispatcher):
        call = await phone.call(DIALLED)
        await phone.wait_state("CONFIRMED", call)
        await voicemail.log.wait_for("RecordingStarted", timeout=10)
        await phone.play(write_tone(tmp_path / "message.wav", 2.0), call, wait=True)
        await phone.send_dtmf("#", call)
        record = await phone.wait_state("DISCONNECTED", call, timeout=10)  # hung up by the service
        assert await handover.result() == VOICEMAIL
        await eventually(lambda: len(catcher.messages()) >= 1)

    assert record.states[-1] == "DISCONNECTED"
    finished = await voicemail.log.wait_for("RecordingFinished")
    assert finished["recording"]["state"] == "done"
    goodbye = await voicemail.log.wait_for(
        "PlaybackStarted", lambda e: e["playback"]["media_uri"] == "sound:vm-goodbye")
    assert goodbye
    [email] = catcher.messages()
    assert recorded_the_message(audio_attachments(email)["audio/wav"].get_content(), 2.0)


async def test_silence_ends_the_message(
    voicemail, mailbox, sip_phone, asterisk, tmp_path
) -> None:
    """A caller who falls silent for max_silence_seconds has finished: the
    service says goodbye and hangs up, and the message is emailed (what
    the caller said, give or take the silence that ended it)."""
    service = voicemail.service(greeting=SHORT_GREETING, max_silence_seconds=1)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    call = await speak_after_the_beep(phone, voicemail.log, write_tone(tmp_path / "message.wav", 2.0))
    # ... and says nothing more
    await phone.wait_state("DISCONNECTED", call, timeout=10)

    assert await handover.result() == VOICEMAIL
    assert await outbox_keys(voicemail.engine) == [f"voicemail:{handover.channels[0]['id']}"]
    seconds = wav_seconds(await queued_audio(voicemail.engine))
    print(f"silence-ended message: {seconds:.2f} s for 2 s of tone")
    assert 1.0 <= seconds <= 3.5


async def test_the_subscribers_own_greeting_is_played_when_stored(
    voicemail, mailbox, sip_phone, asterisk, tmp_path
) -> None:
    """A stored recording ``greeting-<DID>`` replaces the stock prompt."""
    own = voicemail.recording_dir / f"greeting-{mailbox.did.number}.wav"
    write_tone(own, 0.5, frequency=660)
    try:
        service = voicemail.service()
        handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
        phone = await sip_phone(asterisk.endpoints[0])
        await phone.register()

        call = await phone.call(DIALLED)
        await phone.wait_state("CONFIRMED", call)
        started = await voicemail.log.wait_for("PlaybackStarted")
        await phone.hangup(call)
        assert await handover.result() == HUNG_UP
    finally:
        own.unlink(missing_ok=True)
    assert started["playback"]["media_uri"] == f"recording:greeting-{mailbox.did.number}"


async def test_a_did_without_voicemail_gets_a_missed_call_email_and_the_caller_is_not_answered(
    voicemail, engine, sip_phone, asterisk
) -> None:
    mailbox = await new_mailbox(engine, voicemail=False)
    service = voicemail.service()

    # the caller is hung up by the controller's teardown: the flow's part
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    call = await phone.call(DIALLED)
    assert await handover.result() == MISSED
    record = await phone.wait_state("DISCONNECTED", call)
    assert "CONFIRMED" not in record.states
    assert await outbox_keys(engine) == [f"missed:{handover.channels[0]['id']}"]


async def test_a_call_forked_to_two_devices_reported_missed_twice_gives_one_email(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk
) -> None:
    """Two devices of the subscriber rang and both report the miss: the
    dedup key is the call's linkedid, so the subscriber gets one email."""
    dispatcher = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(wake=dispatcher.wake)
    linkedids = []

    async def two_devices_miss_it(call):
        linkedids.append(await voicemail.client.get_variable(call.call_ref, "CHANNEL(linkedid)"))
        # the caller is then hung up by the controller's teardown
        return await asyncio.gather(
            service.report_missed_call(call.caller, mailbox.did, 25),
            service.report_missed_call(call.caller, mailbox.did, 25),
        )

    handover = voicemail.handover(two_devices_miss_it)
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    async with running(dispatcher):
        call = await phone.call(DIALLED)
        first, second = await handover.result()
        await phone.wait_state("DISCONNECTED", call)
        await eventually(lambda: len(catcher.messages()) >= 1)
        await asyncio.sleep(0.3)  # time for a second email, if there were one
        # the same call reported again later (a retried flow) changes nothing
        assert await service.report_missed_call(handover.channels[0], mailbox.did, 25) == first
        await dispatcher.dispatch_due()

    assert first == second
    assert await outbox_keys(voicemail.engine) == [f"missed:{linkedids[0]}"]
    [email] = catcher.messages()
    assert email["Subject"] == "Apel nepreluat de la Test Phone 1001 (1001)"
    assert "25 s" in text_part(email)


HOSTILE_NAME = 'Ion\r\nBcc: victim@example.com <b>Pop</b> =?utf-8?q?x=0D=0AX-Injected:_yes?='


async def test_a_hostile_caller_id_name_adds_no_header_and_its_html_is_escaped(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path
) -> None:
    """Invariant 7, through a real call: CALLERID(name) set on the channel
    (a carrier passes whatever the caller sent) with CR/LF, an encoded-word
    and HTML."""
    dispatcher = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(greeting=SHORT_GREETING, wake=dispatcher.wake)
    seen = []

    async def with_hostile_name(call):
        await voicemail.client.set_variable(call.call_ref, "CALLERID(name)", HOSTILE_NAME)
        seen.append((await voicemail.client.get_channel(call.call_ref))["caller"]["name"])
        return await service.take_message(call, mailbox.did, "no_answer")

    handover = voicemail.handover(with_hostile_name)
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    async with running(dispatcher):
        await leave_message(phone, voicemail.log, write_tone(tmp_path / "message.wav", 1.5))
        assert await handover.result() == VOICEMAIL
        await eventually(lambda: len(catcher.messages()) >= 1)

    assert seen == [HOSTILE_NAME]  # the channel really carried it
    [email] = catcher.messages()
    assert list(email.keys()) == NOTIFY_HEADERS
    assert email["Bcc"] is None and email["X-Injected"] is None
    assert "\n" not in email["Subject"] and "\r" not in email["Subject"]
    assert "Bcc: victim@example.com" in email["Subject"]  # shown as text
    html = html_part(email)
    assert "<b>Pop</b>" not in html
    assert "&lt;b&gt;Pop&lt;/b&gt;" in html
    assert "=?utf-8?q?x=0D=0AX-Injected:_yes?=" in text_part(email)  # as the caller wrote it
    assert "audio/wav" in audio_attachments(email)


async def test_smtp_down_while_a_voicemail_is_left_delays_it_and_it_arrives_once_across_a_dispatcher_restart(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path, db_url
) -> None:
    """Invariant 5: the voicemail waits in the outbox while SMTP is down,
    survives the dispatcher stopping (a restart: new engine, new
    dispatcher, same database) and is delivered exactly once when SMTP is
    back, recording and its compressed copy intact."""
    await catcher.stop()  # the relay is down: connections refused
    first = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)), policy=PATIENT_RETRIES)
    service = voicemail.service(greeting=SHORT_GREETING, wake=first.wake)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    async def attempts() -> int:
        async with voicemail.engine.connect() as conn:
            return (await conn.execute(select(outbox_table.c.attempts))).scalar_one()

    async with running(first):
        await leave_message(phone, voicemail.log, write_tone(tmp_path / "message.wav", 1.5))
        assert await handover.result() == VOICEMAIL
        await eventually(lambda: attempts_at_least(attempts, 2))
    assert catcher.messages() == []

    await catcher.start()  # the relay is back, on the same port
    restarted_engine = create_engine(db_url)
    try:
        second = new_dispatcher(restarted_engine, SmtpSender(smtp_config_for(catcher.port)), policy=PATIENT_RETRIES)
        async with running(second):
            await eventually(lambda: len(catcher.messages()) >= 1)
            await asyncio.sleep(0.3)
            counts = await second.dispatch_due()
        assert counts.sent == 0
    finally:
        await restarted_engine.dispose()

    [email] = catcher.messages()
    attached = audio_attachments(email)
    assert recorded_the_message(attached["audio/wav"].get_content(), 1.5)
    assert abs(ogg_opus_seconds(attached["audio/ogg"].get_content()) - 1.5) <= 1.0
    async with voicemail.engine.connect() as conn:
        state = (await conn.execute(select(outbox_table.c.state))).scalar_one()
    assert state == "sent"


async def attempts_at_least(attempts, n: int) -> bool:
    return await attempts() >= n


async def test_a_kept_recording_is_removed_by_the_retention_purge(
    voicemail, mailbox, sip_phone, asterisk, tmp_path
) -> None:
    """keep_recording leaves the message in Asterisk; the purge removes
    voicemail recordings older than the retention period, over ARI, and
    leaves younger ones and greetings alone."""
    service = voicemail.service(greeting=SHORT_GREETING, keep_recording=True)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()

    await leave_message(phone, voicemail.log, write_tone(tmp_path / "message.wav", 1.5))
    assert await handover.result() == VOICEMAIL
    channel_id = handover.channels[0]["id"]
    [kept] = [name for name in (p.removesuffix(".wav") for p in voicemail.leftover_recordings())
              if name.endswith(f"-{channel_id}")]
    assert await voicemail.client.get_stored_recording(kept)

    assert kept not in await purge_old_recordings(voicemail.client, timedelta(days=30))
    later = datetime.now().astimezone() + timedelta(days=31)
    assert kept in await purge_old_recordings(voicemail.client, timedelta(days=30), now=later)
    with pytest.raises(AriError) as gone:
        await voicemail.client.get_stored_recording(kept)
    assert gone.value.status == 404


async def test_a_message_that_cannot_be_recorded_still_gives_a_missed_call_email(
    voicemail, mailbox, sip_phone, asterisk, recording_dir
) -> None:
    """Asterisk cannot record (its recording folder is gone and the
    service was not told where it is): the subscriber still learns of the
    call."""
    service = voicemail.service(greeting=SHORT_GREETING, recording_dir=None)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    aside = recording_dir.with_name("recording-aside")
    recording_dir.rename(aside)
    try:
        call = await phone.call(DIALLED)
        await phone.wait_state("CONFIRMED", call)
        assert await handover.result() == MISSED
        await phone.wait_state("DISCONNECTED", call)  # hung up by the service
    finally:
        if recording_dir.exists():
            recording_dir.rmdir()
        aside.rename(recording_dir)
    assert await outbox_keys(voicemail.engine) == [f"missed:{handover.channels[0]['id']}"]


async def test_the_service_creates_the_recording_folder_it_is_given(
    voicemail, mailbox, sip_phone, asterisk, recording_dir, tmp_path
) -> None:
    service = voicemail.service(greeting=SHORT_GREETING)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    aside = recording_dir.with_name("recording-aside")
    recording_dir.rename(aside)
    try:
        await leave_message(phone, voicemail.log, write_tone(tmp_path / "message.wav", 1.5))
        assert await handover.result() == VOICEMAIL
    finally:
        if recording_dir.exists():
            for leftover in recording_dir.iterdir():
                leftover.unlink()
            recording_dir.rmdir()
        aside.rename(recording_dir)
    assert await outbox_keys(voicemail.engine) == [f"voicemail:{handover.channels[0]['id']}"]


# Why an email may carry the WAV alone: (the service's compressed_audio,
# the opusenc on PATH: "installed" is the real one, None none, else a script)
WAV_ALONE = {
    "compression_off": ("none", "installed"),
    "no_opusenc_on_path": ("opus", None),
    "opusenc_exits_1": ("opus", "exit 1"),
}


@pytest.mark.parametrize(("compressed_audio", "converter"), WAV_ALONE.values(), ids=WAV_ALONE.keys())
async def test_without_a_working_converter_the_voicemail_is_emailed_with_the_wav_alone(
    voicemail, mailbox, catcher: MaildirCatcher, sip_phone, asterisk, tmp_path, monkeypatch,
    compressed_audio: str, converter: str | None,
) -> None:
    """Compression off, no opusenc on PATH, or an opusenc that fails: the
    message is not held back for its copy — ONE email arrives, with the
    WAV alone (invariant 5)."""
    dispatcher = new_dispatcher(voicemail.engine, SmtpSender(smtp_config_for(catcher.port)))
    service = voicemail.service(greeting=SHORT_GREETING, wake=dispatcher.wake, compressed_audio=compressed_audio)
    handover = voicemail.handover(lambda call: service.take_message(call, mailbox.did, "no_answer"))
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    if converter != "installed":
        converter_on_path(monkeypatch, tmp_path / "bin", converter)

    async with running(dispatcher):
        await leave_message(phone, voicemail.log, write_tone(tmp_path / "message.wav", 1.5))
        assert await handover.result() == VOICEMAIL
        await eventually(lambda: len(catcher.messages()) >= 1)

    [email] = catcher.messages()
    attached = audio_attachments(email)
    assert list(attached) == ["audio/wav"]
    assert recorded_the_message(attached["audio/wav"].get_content(), 1.5)
    assert voicemail.leftover_recordings() == []


async def test_the_daily_purge_job_deletes_recordings_older_than_the_retention_over_ari(
    voicemail, recording_dir, tmp_path
) -> None:
    """The job the control plane schedules with its ARI client, run by the
    scheduler: voicemail recordings older than voicemail_retention_days
    (their age is in their names) are deleted from Asterisk; a younger
    one and a subscriber's greeting stay."""
    day = 24 * 3600
    now = int(time.time())
    old = f"{RECORDING_PREFIX}{now - 8 * day}-purge-old"
    young = f"{RECORDING_PREFIX}{now - 6 * day}-purge-young"
    greeting = f"greeting-purge-test-{now}"
    for name in (old, young, greeting):
        write_tone(recording_dir / f"{name}.wav", 0.2)
    settings = Settings(state_dir=tmp_path, voicemail_retention_days=7)
    scheduler = AsyncIOScheduler(timezone=settings.timezone)
    invoicing = invoicing_service(voicemail.engine, Notifier(Renderer(), AccountDirectory()))
    register_jobs(scheduler, voicemail.engine, settings, invoicing, ari=voicemail.client)
    ran: asyncio.Future = asyncio.get_running_loop().create_future()
    scheduler.add_listener(lambda event: ran.done() or ran.set_result(event), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    scheduler.start()
    try:
        scheduler.get_job(VOICEMAIL_PURGE_JOB_ID).modify(next_run_time=datetime.now(BUCHAREST))  # now, not at 03:30
        event = await asyncio.wait_for(ran, timeout=10)
    finally:
        scheduler.shutdown(wait=False)
        (recording_dir / f"{greeting}.wav").unlink(missing_ok=True)

    assert event.job_id == VOICEMAIL_PURGE_JOB_ID and event.exception is None
    assert old in event.retval and young not in event.retval
    with pytest.raises(AriError) as gone:
        await voicemail.client.get_stored_recording(old)
    assert gone.value.status == 404
    assert await voicemail.client.get_stored_recording(young)


# Two ways a call is asked to end (ari_app.calls.LiveCall.request_end): the
# controller stopping with its calls hung up, and end_calls for an account
# (suspension ends paid calls only; with paid_only=False it ends them all).
END_REQUESTS = {
    "controller_stopping": (lambda rig, mailbox: rig.controller.stop(), "shutdown"),
    "end_calls": (lambda rig, mailbox: rig.controller.end_calls(mailbox.account_id, paid_only=False),
                  "account_suspended"),
}


@pytest.mark.parametrize(("request_end", "why"), END_REQUESTS.values(), ids=END_REQUESTS.keys())
async def test_a_call_asked_to_end_while_recording_is_hung_up_at_once_and_its_message_is_emailed(
    voicemail, mailbox, sip_phone, asterisk, tmp_path, request_end, why: str
) -> None:
    """An end request reaches voicemail through the call's queue while the
    caller records: the caller is hung up at once (well before the 5 s the
    controller waits for a call before cancelling it), which stops the
    recording; the 2 s said so far are queued as the voicemail email, and
    take_message then ends the call with the request (CallEnded)."""
    service = voicemail.service(greeting=SHORT_GREETING, max_silence_seconds=0)  # silence does not end it

    async def from_the_account(call):
        call.account_id = mailbox.account_id  # as the outbound flow marks an on-net call
        return await service.take_message(call, mailbox.did, "no_answer")

    handover = voicemail.handover(from_the_account)
    phone = await sip_phone(asterisk.endpoints[0])
    await phone.register()
    call = await speak_after_the_beep(phone, voicemail.log, write_tone(tmp_path / "message.wav", 2.0))

    disconnected = asyncio.create_task(phone.wait_state("DISCONNECTED", call, timeout=10))
    asked_at = time.monotonic()
    await request_end(voicemail, mailbox)
    await disconnected
    took = time.monotonic() - asked_at

    with pytest.raises(CallEnded) as ended:
        await handover.result()
    assert ended.value.why == why
    assert took < 2.0, f"hung up {took:.2f} s after the request"
    finished = await voicemail.log.wait_for("RecordingFinished")
    assert voicemail.log.time_of(finished) - asked_at < 2.0
    assert await outbox_keys(voicemail.engine) == [f"voicemail:{handover.channels[0]['id']}"]
    assert recorded_the_message(await queued_audio(voicemail.engine), 2.0)
    assert voicemail.leftover_recordings() == []
