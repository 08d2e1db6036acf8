"""Voicemail and missed-call emails for calls to our numbers that nobody
answered.

The inbound flow hands an unanswered call to the service through its hook
``on_unanswered(call, did, why)``; :meth:`VoicemailService.on_unanswered`
is that hook, ready to wire, and runs as a step of the call's flow:

- the DID has voicemail on → :meth:`VoicemailService.take_message`: answer,
  play the greeting (the subscriber's own ``recording:greeting-<did>`` when
  it is stored, else the stock prompt) and a beep, record through ARI (WAV,
  at most ``max_message_seconds``, ended by ``#``, by
  ``max_silence_seconds`` of silence or by the caller hanging up), fetch the
  recording's bytes over ARI and queue ONE voicemail email with the WAV
  attached (dedup key ``voicemail:<uniqueid>``), and an Ogg Opus copy
  beside it when ``opusenc`` is on PATH (see :func:`ari_app.voicemail_audio.ogg_opus_of`); a caller who hangs up
  before the beep, or leaves less than ``min_message_seconds``, gets the
  subscriber a missed-call email instead;
- voicemail off → :meth:`VoicemailService.report_missed_call`: one
  missed-call email per call (dedup key ``missed:<linkedid>``, so a call
  forked to several devices of one subscriber gives one email).

Answered calls get no email: whoever calls ``report_missed_call`` decides
the call was missed (the inbound flow calls it only when no device
answered). Both emails go through the outbox (``notify.events``): a call
flow never waits for SMTP, and SMTP down means the email is late, not lost
(invariant 5).

Everything goes over ARI, so the control plane needs no access to
Asterisk's disks: the recording is fetched with
``GET /recordings/stored/{name}/file`` and deleted after the email is
queued (``keep_recording`` keeps it). Kept recordings, and those the
service could not email (the database was down), stay stored;
:func:`ari_app.voicemail_recordings.purge_old_recordings`, run daily by the scheduler, removes them
after the retention period.

The caller ID name and number are the caller's own text (invariant 7): they
are kept as plain text — control characters become spaces, the length is
capped — and the email layer escapes them in headers and HTML.

Events: voicemail reads the call's own event queue, which the call
controller fills in order (:class:`ari_app.calls.LiveCall`): the end of
its playbacks and of its recording, the caller's hangup. Every wait is
bounded, so a lost event (a websocket reconnect) delays a message, never
hangs it. A caller who hangs up ends the recording at once (Asterisk
closes the file); so does a request to end the call (``end_calls``, a
shutdown): the caller is hung up with the request's cause as soon as it is
read, what was recorded is emailed as for a caller who hung up, and
:meth:`VoicemailService.take_message` then raises the request's
``CallEnded`` for the flow's teardown.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from notify.events import MissedCall, Recipient, VoicemailReceived
from notify.notifier import Notifier
from provisioning.records import Did

from .calls import CALLER_HANGUP, CallEnded, LiveCall, channel_id
from .client import AriClient
from .errors import AriError, AriFailure
from .voicemail_audio import COMPRESSED_FORMATS, OPUSENC, ogg_opus_of, wav_duration_seconds
from .voicemail_recordings import recording_name

log = logging.getLogger(__name__)

# What take_message did, for the flow's logs and metrics. Every outcome but
# VOICEMAIL queued a missed-call email.
VOICEMAIL = "voicemail"  # a voicemail email with the recording was queued
HUNG_UP = "hung_up"  # the caller hung up before leaving a message (during the
#                      greeting, or after less than min_message_seconds)
MISSED = "missed"  # no message for another reason: voicemail off, the
#                    caller stayed silent, the recording failed

GREETING_PREFIX = "greeting-"
"""A subscriber's own greeting is the stored recording ``greeting-<DID>``."""
BEEP = "sound:beep"
GOODBYE = "sound:vm-goodbye"
RECORDING_FORMAT = "wav"  # 16-bit linear PCM: what the email attaches
AUDIO_CONTENT_TYPE = "audio/wav"
TERMINATE_ON = "#"

CALLER_TEXT_LENGTH = 80  # a caller ID name is at most a few dozen characters

# Bounds of the waits for events that may be lost (see the module docstring).
GREETING_TIMEOUT_S = 120.0  # the longest greeting we expect to play
RECORDING_GRACE_S = 10.0  # on top of max_message_seconds
FINISH_TIMEOUT_S = 5.0  # from the caller's hangup to the recording stored
GOODBYE_TIMEOUT_S = 5.0
CALL_CAP_SLACK_S = 150  # greeting, beep and goodbye on top of the message


# -- the service --------------------------------------------------------------


@dataclass(frozen=True)
class _Caller:
    """What the emails say about the call, read once from the channel."""

    uniqueid: str
    linkedid: str
    number: str
    name: str
    arrived_at: datetime  # when the caller's channel was created


class VoicemailService:
    """Takes voicemail for unanswered calls to our numbers and sends the
    subscriber a voicemail or missed-call email (see the module docstring).

    ``client`` is the process's ARI client (its events reach the service
    through the call controller's per-call queues), ``engine`` the database of
    provisioning, billing and the outbox, ``notifier`` the Notifier that
    finds the subscriber's recipient (one language rule) and queues the
    emails. ``greeting`` is the stock prompt (a sound name) for subscribers
    without their own greeting. ``recording_dir``: Asterisk's recording
    folder when it is on this machine, created if missing (ARI refuses to
    record into a folder that does not exist); None when Asterisk runs
    elsewhere and its packaging provides the folder.
    ``compressed_audio``: ``opus`` attaches an Ogg Opus copy beside the
    WAV when opusenc is on PATH, ``none`` the WAV alone.
    """

    def __init__(
        self,
        client: AriClient,
        engine: AsyncEngine,
        notifier: Notifier,
        *,
        max_message_seconds: int = 180,
        max_silence_seconds: int = 5,
        keep_recording: bool = False,
        greeting: str = "vm-intro",
        min_message_seconds: float = 1,
        recording_dir: Path | None = None,
        compressed_audio: str = "opus",
    ) -> None:
        if max_message_seconds < 1 or max_silence_seconds < 0 or min_message_seconds < 0:
            raise ValueError("max_message_seconds >= 1, max_silence_seconds >= 0, "
                             "min_message_seconds >= 0")
        if compressed_audio not in COMPRESSED_FORMATS:
            raise ValueError(f"compressed_audio must be one of {', '.join(COMPRESSED_FORMATS)}")
        self.client = client
        self.engine = engine
        self.notifier = notifier
        self.max_message_seconds = max_message_seconds
        self.max_silence_seconds = max_silence_seconds
        self.keep_recording = keep_recording
        self.greeting = greeting
        self.min_message_seconds = min_message_seconds
        self.recording_dir = recording_dir
        self.compressed_audio = compressed_audio
        if compressed_audio == "opus" and shutil.which(OPUSENC) is None:
            log.warning("%s not on PATH (Debian: opus-tools): voicemail emailed as WAV only "
                        "until it is installed", OPUSENC)

    # -- the hook -----------------------------------------------------------

    async def on_unanswered(self, call: LiveCall, did: Did, why: str) -> None:
        """The inbound flow's handover hook (``ari_app.calls.UnansweredHook``):
        voicemail when the DID has it, else a missed-call email; see
        :meth:`take_message`. It returns when the call is over for
        voicemail: up to the greeting plus ``max_message_seconds``."""
        await self.take_message(call, did, why)

    async def take_message(self, call: LiveCall, did: Did, why: str) -> str:
        """Take a voicemail from the unanswered caller of ``did`` (``why``
        it was not answered: busy, no_answer, unreachable...) and queue the
        subscriber's email; a step of the call's flow, reading the call's
        events. Returns ``voicemail`` (voicemail email queued),
        ``hung_up`` (the caller left before leaving a message: missed-call
        email) or ``missed`` (voicemail off, silence or a failed recording:
        missed-call email). The caller it answered is hung up when it
        returns; with voicemail off it answers nothing and leaves the
        caller to the flow.

        Raises the call's ``CallEnded`` when the call was asked to end
        meanwhile (the caller is hung up at once; the emails are queued
        first), and what the database raises if the email cannot be
        queued; the recording is then kept in Asterisk (see
        purge_old_recordings)."""
        handed_over_at = datetime.now(UTC)
        caller_channel = call.caller
        if not did.voicemail_enabled:
            await self.report_missed_call(caller_channel, did, _ring_seconds(caller_channel, did, handed_over_at))
            return MISSED
        recipient = await self.notifier.recipient_for_subscriber(self.engine, did.subscriber_id)
        if recipient is None:
            log.error("no subscriber for DID %s: no voicemail taken", did.number)
            return MISSED
        events = _CallEvents(self.client, call)
        caller = await self._caller(caller_channel)
        ring_seconds = _ring_seconds(caller_channel, did, handed_over_at)
        try:
            outcome = await self._converse(call.call_ref, caller, did, recipient, events)
        except _CallerGone:
            outcome = HUNG_UP
        if outcome != VOICEMAIL:
            await self._enqueue_missed(caller, did, recipient, ring_seconds)
        await self._goodbye(call.call_ref, recipient, events)
        log.info("voicemail for %s: %s", did.number, outcome,
                 extra={"call": call.call_ref, "did": did.number, "why": why})
        if events.end_request is not None:
            raise events.end_request
        return outcome

    async def report_missed_call(self, caller_channel: dict[str, Any], did: Did, ring_seconds: int) -> int | None:
        """Queue the missed-call email for an inbound call to ``did`` that
        rang for ``ring_seconds`` and was not answered (voicemail off, or the
        caller hung up while it rang); return its outbox id (None when the
        DID's subscriber is gone). One email per call whatever the number of
        calls: the dedup key is the call's linkedid, shared by every leg, so
        the forked legs of one call report it once. The caller of this
        function decides the call was missed: an answered call must not
        come here."""
        recipient = await self.notifier.recipient_for_subscriber(self.engine, did.subscriber_id)
        if recipient is None:
            log.error("no subscriber for DID %s: no missed-call email", did.number)
            return None
        caller = await self._caller(caller_channel)
        return await self._enqueue_missed(caller, did, recipient, ring_seconds)

    # -- the conversation -----------------------------------------------------

    async def _converse(
        self, channel_id: str, caller: _Caller, did: Did, recipient: Recipient, events: "_CallEvents"
    ) -> str:
        """Greeting, beep, recording, email. Raises _CallerGone when the
        caller hangs up (or the call is asked to end) before the recording
        starts."""
        client = self.client
        greeting = await self._greeting_of(did)
        await _on_channel(client.answer(channel_id))
        # Asterisk's own cap on the call, from now: room for the greeting and
        # the longest message (the ringing's cap may be shorter), and an end
        # to the call even if this process dies while it records.
        await _quietly(client.set_variable(channel_id, "TIMEOUT(absolute)",
                                           str(self.max_message_seconds + CALL_CAP_SLACK_S)))
        playback_id = uuid.uuid4().hex
        await _on_channel(client.play(channel_id, [greeting, BEEP], lang=_sound_language(recipient),
                                      playback_id=playback_id))
        if await events.until(_playback_finished(playback_id), GREETING_TIMEOUT_S) is None:
            if events.over:
                raise _CallerGone()
            log.warning("greeting %s did not end in time; recording anyway", playback_id)
            await _quietly(client.stop_playback(playback_id))

        name = recording_name(channel_id)
        self._ensure_recording_dir()
        received_at = datetime.now(UTC)
        try:
            await _on_channel(client.record(
                channel_id, name, RECORDING_FORMAT,
                max_duration_seconds=self.max_message_seconds,
                max_silence_seconds=self.max_silence_seconds or None,
                terminate_on=TERMINATE_ON, beep=False, if_exists="overwrite",
            ))
        except _CallerGone:
            raise
        except AriFailure as exc:
            log.error("cannot record voicemail %s: %s", name, exc)
            return MISSED
        ended = await events.until(_recording_ended(name), self.max_message_seconds + RECORDING_GRACE_S)
        if ended is None:
            if not events.over:
                log.warning("recording %s did not end in time: stopping it", name)
                await _quietly(client.stop_recording(name))
            # the caller hung up (or was hung up): Asterisk closes the file, then says so
            ended = await events.until(_recording_ended(name), FINISH_TIMEOUT_S, past_the_end=True)
        if ended is not None and ended.get("type") == "RecordingFailed":
            log.error("voicemail recording %s failed: %s", name, ended.get("recording", {}).get("cause"))
            await self._discard(name)
            return MISSED
        audio = await self._stored_audio(name)
        if audio is None:
            return HUNG_UP if events.over else MISSED
        try:
            seconds = wav_duration_seconds(audio)
        except ValueError as exc:
            log.warning("recording %s is not a WAV file we can measure (%s); using its event", name, exc)
            seconds = float((ended or {}).get("recording", {}).get("duration") or 0)
        if seconds < self.min_message_seconds:
            await self._discard(name)
            return HUNG_UP if events.over else MISSED
        compressed = await ogg_opus_of(audio) if self.compressed_audio == "opus" else None
        await self.notifier.notify(self.engine, VoicemailReceived(
            to=recipient,
            uniqueid=caller.uniqueid,
            caller_number=caller.number,
            caller_name=caller.name,
            received_at=received_at,
            duration_seconds=max(1, round(seconds)),
            audio=audio,
            audio_content_type=AUDIO_CONTENT_TYPE,
            called_number=_shown_number(did.number),
            compressed_audio=compressed,
        ))
        await self._discard(name)
        return VOICEMAIL

    async def _greeting_of(self, did: Did) -> str:
        """The subscriber's own greeting if stored, else the stock prompt."""
        own = GREETING_PREFIX + did.number
        try:
            await self.client.get_stored_recording(own)
        except AriFailure as exc:
            if not (isinstance(exc, AriError) and exc.status == 404):
                log.warning("cannot look up greeting %s: %s", own, exc)
            return f"sound:{self.greeting}"
        return f"recording:{own}"

    async def _stored_audio(self, name: str) -> bytes | None:
        try:
            return await self.client.stored_recording_file(name)
        except AriFailure as exc:
            log.error("cannot fetch voicemail recording %s: %s", name, exc)
            return None

    async def _discard(self, name: str) -> None:
        if not self.keep_recording:
            await _quietly(self.client.delete_stored_recording(name))

    async def _goodbye(self, channel_id: str, recipient: Recipient, events: "_CallEvents") -> None:
        """Say goodbye to a caller still there (who pressed # or fell
        silent), then hang up: the call is over."""
        if events.over:
            return
        playback_id = uuid.uuid4().hex
        try:
            await _on_channel(self.client.play(channel_id, GOODBYE, lang=_sound_language(recipient),
                                               playback_id=playback_id))
            await events.until(_playback_finished(playback_id), GOODBYE_TIMEOUT_S)
        except (_CallerGone, AriFailure):
            pass
        if not events.over:
            await _quietly(self.client.hangup(channel_id, "normal"))

    def _ensure_recording_dir(self) -> None:
        if self.recording_dir is not None:
            self.recording_dir.mkdir(parents=True, exist_ok=True)

    # -- the emails -------------------------------------------------------------

    async def _caller(self, caller_channel: dict[str, Any]) -> _Caller:
        """Who called, from a fresh look at the channel (its caller ID may
        have changed since it entered) and its linkedid; from the channel
        as handed over when it is gone."""
        channel_id = caller_channel["id"]
        channel, linkedid = await asyncio.gather(
            self.client.get_channel(channel_id),
            self.client.get_variable(channel_id, "CHANNEL(linkedid)"),
            return_exceptions=True,
        )
        if not isinstance(channel, dict):
            channel = caller_channel
        if not isinstance(linkedid, str) or not linkedid:
            # the caller of an inbound call is its first channel: its
            # uniqueid is the call's linkedid
            linkedid = channel_id
        caller_id = channel.get("caller") or caller_channel.get("caller") or {}
        return _Caller(
            uniqueid=channel_id,
            linkedid=linkedid,
            number=caller_text(str(caller_id.get("number") or "")),
            name=caller_text(str(caller_id.get("name") or "")),
            arrived_at=channel_created_at(caller_channel) or datetime.now(UTC),
        )

    async def _enqueue_missed(self, caller: _Caller, did: Did, recipient: Recipient, ring_seconds: int) -> int:
        return await self.notifier.notify(self.engine, MissedCall(
            to=recipient,
            linkedid=caller.linkedid,
            caller_number=caller.number,
            caller_name=caller.name,
            called_at=caller.arrived_at,
            ring_seconds=max(0, int(ring_seconds)),
            called_number=_shown_number(did.number),
        ))


# -- small pure helpers --------------------------------------------------------


def caller_text(value: str, max_length: int = CALLER_TEXT_LENGTH) -> str:
    """A caller ID name or number as one line of plain text: characters
    Python does not call printable (CR, LF, other controls, bidi overrides)
    become spaces, runs of spaces one, cut to ``max_length``. Everything
    else, ``<`` or ``=?`` included, stays as the caller sent it: escaping
    is the email layer's job, where the context is known."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return cleaned[:max_length].rstrip()


def channel_created_at(channel: dict[str, Any]) -> datetime | None:
    """The channel's creation time (ARI's ``creationtime``,
    ``2025-07-01T09:00:00.123+0000``) as an aware datetime, or None."""
    text = str(channel.get("creationtime") or "")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _ring_seconds(channel: dict[str, Any], did: Did, until: datetime) -> int:
    """How long the call rang before the handover: from the channel's
    creation; the DID's ring time when the creation time is unknown."""
    created = channel_created_at(channel)
    if created is None:
        return did.ring_seconds
    return max(0, round((until - created).total_seconds()))


def _shown_number(did_number: str) -> str:
    """A DID (E.164 digits) as the subscriber reads it."""
    return f"+{did_number}" if did_number.isdigit() else did_number


def _sound_language(recipient: Recipient) -> str:
    # Asterisk falls back to its default language for prompts it lacks
    return recipient.language or "ro"


# -- ARI plumbing ------------------------------------------------------------------


class _CallerGone(Exception):
    """The caller hung up (or left the application) before the recording."""


async def _on_channel(request: Awaitable[Any]) -> Any:
    """Await a request on the caller's channel; a channel that is gone (404,
    or 409 "not in Stasis") means the caller hung up."""
    try:
        return await request
    except AriError as exc:
        if exc.status in (404, 409):
            raise _CallerGone() from exc
        raise


async def _quietly(request: Awaitable[Any]) -> None:
    """Await a request whose failure changes nothing (cleanup)."""
    try:
        await request
    except AriFailure as exc:
        log.debug("ignored ARI failure: %s", exc)


class _CallEvents:
    """What voicemail reads from its call's event queue: the end of a
    playback or of the recording, and whether the caller is gone
    (``gone``) or the call was asked to end (``end_request``: the caller
    is then hung up with its cause as soon as it is read, which stops a
    recording at once)."""

    _CALLER_LEAVING = ("ChannelHangupRequest", "ChannelDestroyed")  # its StasisEnd raises CallEnded

    def __init__(self, client: AriClient, call: LiveCall) -> None:
        self.client = client
        self.call = call
        self.gone = False
        self.end_request: CallEnded | None = None

    @property
    def over(self) -> bool:
        """The caller is gone or is being hung up: nothing more to play."""
        return self.gone or self.end_request is not None

    async def until(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, *, past_the_end: bool = False
    ) -> dict[str, Any] | None:
        """The call's next event that ``matches``; None after ``timeout``
        seconds or — unless ``past_the_end`` (waiting for a recording to
        be closed) — once the call is over."""
        if self.over and not past_the_end:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                event = await self.call.next_event(deadline - loop.time())
            except CallEnded as ended:
                if ended.why == CALLER_HANGUP:
                    self.gone = True
                elif self.end_request is None:
                    self.end_request = ended
                    await _quietly(self.client.hangup(self.call.call_ref, reason_code=str(ended.cause)))
                if past_the_end:
                    continue
                return None
            if event is None:
                return None
            if event["type"] in self._CALLER_LEAVING and channel_id(event) == self.call.call_ref:
                self.gone = True
                if past_the_end:
                    continue
                return None
            if matches(event):
                return event


def _playback_finished(playback_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: (event["type"] == "PlaybackFinished"
                          and (event.get("playback") or {}).get("id") == playback_id)


def _recording_ended(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: (event["type"] in ("RecordingFinished", "RecordingFailed")
                          and (event.get("recording") or {}).get("name") == name)
