"""The live calls of this control-plane process, and the StasisApp flows
that create them.

    controller = CallController(client, admission, engine, on_daily_limit=..., on_unanswered=...)
    controller.start()                      # before client.start(): it reconciles on every RESYNC
    StasisApp(client, controller.flows())   # "outbound", "inbound", and "leg" (the legs it dials)
    ...
    await controller.end_calls(account_id)  # suspension: its paid calls end now
    await controller.stop(hang_up=False)    # leave calls to Asterisk's hard caps and the next start

Each call runs as one task reading its own ordered event queue
(:class:`~ari_app.calls.LiveCall`); whatever way it ends, its teardown hangs
up the channels still there (again, briefly, when a hangup does not reach
ARI: a caller must not be left in the application), destroys its bridge
and tells admission the call is over (the reservation then waits for its
CDR). A flow's steps — voicemail's among them — read the call's events
from that queue; :meth:`CallController.flow` runs other steps the same way.

Reconciliation, after every (re)connect of the event websocket (the
client's RESYNC event, which lists the channels still in the application):

- a connected call this process does not own (a previous process's) is
  adopted when its caller carries a call record (``CP_CALL``), its peer is
  still there and — for an outbound call — admission still has it live: its
  timers are re-armed from the seconds it holds in admission (the next
  chunk is reserved when due, as before the restart) and the call's talk
  start;
- any other channel of these flows, or leg still ringing, that stays
  unclaimed for ``timing.orphan_grace`` is hung up (a call caught ringing
  or deciding);
- admission's live calls of this Asterisk (uniqueids carry its system
  name), of the Stasis and the FastAGI path alike, whose channel Asterisk
  no longer has (``GET /channels``) are finished, and those past their
  expiry forgotten; CDR ingestion settles their reservations.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from admission.reasons import REASONS
from admission.service import Admission

from .calls import (
    CALL_VARIABLE,
    INBOUND,
    OUTBOUND,
    CallEnded,
    CallRecord,
    CallServices,
    CallTiming,
    DailyLimitHook,
    LiveCall,
    MissedHook,
    UnansweredHook,
    channel_ids_of,
)
from .causes import NORMAL_CLEARING
from .client import ANY_EVENT, RESYNC, AriClient
from .errors import AriConnectionError, AriError, AriFailure, AriTimeout
from .grant import GrantSchedule
from .inbound import run_inbound
from .outbound import run_outbound
from .ringing import LEG_FLOW, call_ref_of_leg
from .stasis import Flow
from .talk import hold, set_caps

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = 41
CONGESTION = 34
END_WAIT_S = 5.0
END_ORDER_MEMORY_S = 60.0
FINISH_RETRIES_S = (0.5, 2.0, 5.0)
# A hangup that did not reach ARI is sent again after each of these delays:
# an ARI restart or a dropped connection lasts seconds, not minutes.
HANGUP_RETRIES_S = (0.2, 1.0, 3.0)
OUR_FLOWS = frozenset({OUTBOUND, INBOUND, LEG_FLOW})
# Events no flow reads, which Asterisk would send for every call: one
# ChannelVarset per variable (or function: CDR(...), TIMEOUT(...)) set,
# one ChannelDialplan per dialplan step... A handler registered for one by
# name gets it all the same (AriClient.ignore_events).
UNREAD_EVENTS = ("ChannelVarset", "ChannelDialplan", "ChannelConnectedLine", "ChannelCallerId")


@dataclass(frozen=True)
class CallInfo:
    """A snapshot of one live call, for admin views and tests."""

    call_ref: str
    direction: str
    account_id: int | None
    free: bool
    connected: bool
    granted_seconds: int
    channels: frozenset[str]


class CallController:
    """Owns the live calls of this process: their channels, bridges and timers."""

    def __init__(
        self,
        client: AriClient,
        admission: Admission,
        engine: AsyncEngine,
        *,
        carrier_endpoint: str = "carrier",
        carrier_dial: str | None = None,
        on_daily_limit: DailyLimitHook | None = None,
        on_unanswered: UnansweredHook | None = None,
        on_missed: MissedHook | None = None,
        timing: CallTiming | None = None,
    ) -> None:
        """``carrier_dial`` (default ``PJSIP/{number}@<carrier_endpoint>``)
        is the carrier leg's dial string with ``{number}`` for the
        normalised digits; ``on_daily_limit(account_id)`` is called when a
        call is stopped by its account's daily limit;
        ``on_unanswered(call, did, why)`` takes an unanswered call to a DID
        as a step of its flow (default: it is hung up with the matching
        cause)."""
        self.client = client
        self.admission = admission
        self._svc = CallServices(
            client=client, admission=admission, engine=engine, timing=timing or CallTiming(),
            carrier_dial=carrier_dial or f"PJSIP/{{number}}@{carrier_endpoint}",
            on_daily_limit=on_daily_limit, on_unanswered=on_unanswered, on_missed=on_missed,
        )
        self._calls: dict[str, LiveCall] = {}
        self._removers: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        self._system_name: str | None = None

    # -- wiring ---------------------------------------------------------------------
    def flows(self) -> dict[str, Flow]:
        """The StasisApp flows this controller runs: ``outbound``, ``inbound``
        and ``leg`` (the legs its own calls dial)."""
        return {
            OUTBOUND: self.flow(OUTBOUND, lambda call, args: run_outbound(self._svc, call, args)),
            INBOUND: self.flow(INBOUND, lambda call, args: run_inbound(self._svc, call, args)),
            LEG_FLOW: self._leg_flow,
        }

    def flow(self, direction: str, steps: Callable[[LiveCall, list[str]], Awaitable[None]]) -> Flow:
        """A StasisApp flow whose every channel becomes a call of this
        controller running ``steps(call, args)``: the call's events come
        through its queue (``call.next_event``), ``end_calls`` and
        ``stop`` reach it, and its teardown hangs up what is left whatever
        way the steps end. ``direction`` is the call's (``outbound`` or
        ``inbound``)."""

        async def run(client: AriClient, channel: dict[str, Any], args: list[str]) -> None:
            if self._begin(channel, direction, lambda call: steps(call, args)) is None:
                await self._refuse_while_stopping(channel)

        return run

    def start(self) -> None:
        """Start routing ARI events to calls and reconciling on every RESYNC
        (register before ``client.start()`` to reconcile the first connection),
        and ask Asterisk not to send the events no flow reads."""
        if not self._removers:
            self._removers = [self.client.on(ANY_EVENT, self._route), self.client.on(RESYNC, self._on_resync)]
            self.client.ignore_events(self.client.ignored_events | set(UNREAD_EVENTS))

    async def stop(self, *, hang_up: bool = True) -> None:
        """Stop. ``hang_up``: end every live call now; otherwise leave the
        calls to Asterisk (their hard caps end them) and to the next
        controller's reconciliation."""
        self._stopping = True
        calls = list(self._calls.values())
        if hang_up:
            # the calls' events are still routed while they end: a step that
            # finishes its work on the way out (voicemail closing a
            # recording) hears its end
            for call in calls:
                call.request_end("shutdown")
            await self._wait_for(calls, END_WAIT_S)
        for remove in self._removers:
            remove()
        for call in calls:
            if call.task is not None and not call.task.done():
                call.abandoned = not hang_up
                call.task.cancel()
        pending = [t for t in (*self._tasks, *self._svc.background) if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*(c.task for c in calls if c.task), *pending, return_exceptions=True)

    # -- what the admin side uses ----------------------------------------------------
    def live(self) -> list[CallInfo]:
        """Snapshots of the calls this process owns."""
        return [
            CallInfo(c.call_ref, c.direction, c.account_id, c.free, c.peer is not None, c.granted,
                     frozenset(c.channel_ids))
            for c in self._calls.values()
        ]

    async def end_calls(self, account_id: int, *, paid_only: bool = True, reason: str = "account_suspended") -> int:
        """End the account's live calls at once (only its paid ones with
        ``paid_only``: 112, 116xxx, 0800 and on-net calls go on); return how
        many. ``reason`` is a refusal reason code (its cause is what the
        channels are hung up with) or any word (normal clearing). A call
        still being decided when this is called ends as soon as it is."""
        now = time.monotonic()
        cause = _cause_of(reason)
        orders = self._svc.end_orders
        for stale in [a for a, order in orders.items() if now - order[0] > END_ORDER_MEMORY_S]:
            del orders[stale]
        orders[account_id] = (now, paid_only, reason, cause)
        ending = [c for c in self._calls.values()
                  if c.account_id == account_id and not (paid_only and c.free)]
        await self._end(ending, reason, cause)
        log.info("account's calls ended", extra={"account": account_id, "calls": len(ending), "reason": reason})
        return len(ending)

    async def end_call(self, call_ref: str, *, reason: str = "admin_hangup") -> bool:
        """End one call this process owns (by its reference or any of its
        channels' ids) at once, whatever it costs; return False when this
        process owns no such call (another instance's, or already ended)."""
        call = self._owner(call_ref)
        if call is None:
            return False
        await self._end([call], reason, _cause_of(reason))
        log.info("call ended on request", extra={"call": call.call_ref, "reason": reason})
        return True

    async def _end(self, calls: list[LiveCall], reason: str, cause: int) -> None:
        """Ask the calls to end and wait (up to END_WAIT_S) until they have."""
        for call in calls:
            call.request_end(reason, cause)
        await self._wait_for(calls, END_WAIT_S)

    # -- flows --------------------------------------------------------------------------
    async def _refuse_while_stopping(self, channel: dict[str, Any]) -> None:
        if self._stopping:  # no call may be left in the application unattended
            await _hang_up_surely(self.client, channel["id"], CONGESTION)

    async def _leg_flow(self, client: AriClient, channel: dict[str, Any], args: list[str]) -> None:
        # a leg one of our calls created: that call handles it; one whose call
        # is gone already is hung up
        if self._owner(channel["id"]) is None:
            await _hang_up_surely(self.client, channel["id"])

    def _begin(self, channel: dict[str, Any], direction: str, runner: Callable[[LiveCall], Awaitable[None]],
               prepare: Callable[[LiveCall], None] | None = None) -> LiveCall | None:
        call_ref = channel["id"]
        if self._stopping or call_ref in self._calls:
            return None
        call = LiveCall(call_ref, channel, direction)
        if prepare is not None:
            prepare(call)
        self._calls[call_ref] = call  # synchronously: its next events must find it
        call.task = asyncio.create_task(self._run(call, runner), name=f"call-{call_ref}")
        return call

    async def _run(self, call: LiveCall, runner: Callable[[LiveCall], Awaitable[None]]) -> None:
        why, cause = "completed", NORMAL_CLEARING
        try:
            await runner(call)
        except CallEnded as ended:
            why, cause = ended.why, ended.cause
        except asyncio.CancelledError:
            why, cause = "cancelled", NORMAL_CLEARING
            if call.abandoned:
                raise
        except AriFailure as exc:
            log.warning("call failed on an ARI request", extra={"call": call.call_ref, "error": str(exc)})
            why, cause = "ari_failure", TEMPORARY_FAILURE
        except Exception:
            log.exception("call flow failed", extra={"call": call.call_ref})
            why, cause = "flow_error", TEMPORARY_FAILURE
        finally:
            try:
                if not call.abandoned:
                    await self._teardown(call, why, cause)
            finally:
                if self._calls.get(call.call_ref) is call:
                    del self._calls[call.call_ref]

    async def _teardown(self, call: LiveCall, why: str, cause: int) -> None:
        """Hang up what is left of the call, destroy its bridge, and tell
        admission it is over."""
        client = self.client
        channels = [c for c in call.channel_ids if c not in call.gone]  # no request for what is gone
        await asyncio.gather(*(
            _hang_up_surely(client, c, cause if c == call.call_ref else NORMAL_CLEARING) for c in channels
        ))
        if call.bridge is not None:
            try:
                await client.destroy_bridge(call.bridge)
            except AriFailure:
                pass
        if call.admitted:
            await self._finish(call.call_ref)
        talk = time.time() - call.talk_started_at if call.talk_started_at else 0.0
        log.info("call ended", extra={"call": call.call_ref, "why": why, "cause": cause,
                                      "talk_seconds": round(talk, 1), "granted_seconds": call.granted})

    async def _finish(self, call_ref: str) -> None:
        """Tell admission the call is over, retrying a busy database a few
        times: a live call left behind counts against its account's
        concurrent-call limit until the next reconciliation finishes it."""
        for delay in (*FINISH_RETRIES_S, None):
            try:
                await self.admission.finish(call_ref)
                return
            except Exception:
                if delay is None:
                    log.exception("admission could not forget the call", extra={"call": call_ref})
                    return
                log.warning("admission could not forget the call yet; retrying", extra={"call": call_ref})
                await asyncio.sleep(delay)

    # -- events ---------------------------------------------------------------------------
    def _owner(self, channel_id: str) -> LiveCall | None:
        call = self._calls.get(channel_id) or self._calls.get(call_ref_of_leg(channel_id) or "")
        if call is not None and channel_id in call.channel_ids:
            return call
        return None

    def _route(self, event: dict[str, Any]) -> None:
        """Queue the event for the call(s) whose channels it names (sync: keeps order)."""
        delivered: set[int] = set()
        for channel_id in channel_ids_of(event):
            call = self._owner(channel_id)
            if call is not None and id(call) not in delivered:
                delivered.add(id(call))
                call.deliver(event)

    # -- reconciliation ------------------------------------------------------------------
    async def _on_resync(self, event: dict[str, Any]) -> None:
        if self._stopping:
            return
        try:
            await self.reconcile(event.get("channels", []))
        except AriFailure as exc:
            log.warning("reconciliation interrupted", extra={"error": str(exc)})

    async def reconcile(self, channels: list[dict[str, Any]]) -> None:
        """Adopt, hang up or finish what a previous process (or a dropped
        websocket) left; ``channels`` are those ARI lists in the application."""
        in_app = {c["id"]: c for c in channels}
        for call in list(self._calls.values()):
            # events lost while the websocket was down: a connected call's
            # caller or peer that is no longer in the application has left it
            for gone in (c for c in (call.call_ref, call.peer) if c and c not in in_app and c not in call.gone):
                call.deliver({"type": "StasisEnd", "channel": {"id": gone}, "synthetic": True})
        unowned = [c for c in channels if self._owner(c["id"]) is None and _is_ours(c)]
        callers = [c for c in unowned if _flow_of(c) in (OUTBOUND, INBOUND)]
        try:
            live = set(await self.admission.live_call_refs())
        except Exception:
            log.exception("reconciliation cannot read admission's live calls")
            live = None
        records = await asyncio.gather(*(self._call_record(c["id"]) for c in callers))
        for channel, record in zip(callers, records):
            call_ref = channel["id"]
            admitted = live is not None and call_ref in live
            if record is None or record.peer not in in_app or (record.direction == OUTBOUND and not admitted):
                continue  # not recoverable: an orphan (and finished below)
            self._adopt(channel, record, admitted)
        if live is not None:
            await self._finish_gone(live, in_app)
        orphans = [c["id"] for c in unowned]
        task = asyncio.create_task(self._hang_up_orphans(orphans, live or set()), name="ari-orphans")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call_record(self, channel_id: str) -> CallRecord | None:
        try:
            return CallRecord.decode(await self.client.get_variable(channel_id, CALL_VARIABLE))
        except AriError:
            return None

    def _adopt(self, channel: dict[str, Any], record: CallRecord, admitted: bool) -> None:
        log.info("adopting a call left by a previous control plane",
                 extra={"call": channel["id"], "peer": record.peer, "direction": record.direction})

        def prepare(call: LiveCall) -> None:
            call.account_id, call.free, call.admitted = record.account_id, record.free, admitted
            call.legs.add(record.peer)
            call.peer, call.bridge, call.talk_started_at = record.peer, record.bridge, record.talk_started_at

        self._begin(channel, record.direction, self._resume, prepare)

    async def _resume(self, call: LiveCall) -> None:
        """Hold an adopted call to its grant, re-armed from admission."""
        loop = asyncio.get_running_loop()
        call.talk_started = loop.time() - (time.time() - (call.talk_started_at or time.time()))
        timing = self._svc.timing
        if call.admitted:
            grant = await self.admission.granted(call.call_ref)
            if grant.seconds <= 0:
                raise CallEnded("not_live")
            final = call.free or grant.limited_by is not None
            granted = grant.seconds
        else:  # an inbound call: free, bounded only by the longest call
            granted, final = self.admission.max_seconds, True
        call.granted = granted
        schedule = GrantSchedule(call.talk_started, granted, timing.extend_before, timing.warn_before, final=final)
        if schedule.remaining(loop.time()) <= 0:
            raise CallEnded("grant_exhausted")
        await set_caps(self._svc, call, schedule)
        await hold(self._svc, call, schedule)

    async def _finish_gone(self, live: set[str], in_app: dict[str, Any]) -> None:
        """Finish admission's live calls of this Asterisk that no call of
        this process owns and whose channel Asterisk no longer has.

        Both paths key a live call on its channel's uniqueid (the ARI
        channel id), but a FastAGI call's channel is never in the Stasis
        application: existence is checked against every channel Asterisk
        has (``GET /channels``, read after ``live``, so a call decided
        meanwhile has its channel in the list), never against the
        application's alone. Calls past their expiry are forgotten too."""
        prefix = await self._own_prefix()
        candidates = [ref for ref in live
                      if ref not in self._calls and ref not in in_app and ref.startswith(prefix)]
        if candidates:
            try:
                existing = {c.get("id") for c in await self.client.list_channels()}
            except AriFailure as exc:
                log.warning("reconciliation cannot list Asterisk's channels; finishing nothing",
                            extra={"error": str(exc)})
                existing = None
            for call_ref in candidates:
                if existing is None or call_ref in existing:
                    continue
                log.info("finishing a live call whose channels are gone", extra={"call": call_ref})
                await self._finish(call_ref)
        try:
            await self.admission.forget_expired()
        except Exception:
            log.exception("reconciliation cannot forget expired live calls")

    async def _own_prefix(self) -> str:
        """Uniqueids of this Asterisk start with ``<systemname>-`` ('' when it has none)."""
        if self._system_name is None:
            try:
                info = await self.client.asterisk_info(["config"])
                self._system_name = str(info.get("config", {}).get("name") or "")
            except AriFailure:
                return "\0"  # unknown: finish nothing this time
        return f"{self._system_name}-" if self._system_name else ""

    async def _hang_up_orphans(self, channel_ids: list[str], live: set[str]) -> None:
        """Hang up the channels still unclaimed after the grace (a call caught
        ringing or deciding cannot be resumed); finish their live calls."""
        await asyncio.sleep(self._svc.timing.orphan_grace)
        for channel_id in channel_ids:
            if self._owner(channel_id) is not None:
                continue
            log.info("hanging up a channel no call owns", extra={"channel": channel_id})
            await _hang_up_surely(self.client, channel_id, NORMAL_CLEARING)
            if channel_id in live:
                await self._finish(channel_id)

    async def _wait_for(self, calls: list[LiveCall], timeout: float) -> None:
        tasks = [c.task for c in calls if c.task is not None and not c.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def _cause_of(reason: str) -> int:
    """The Q.850 cause a refusal reason code hangs up with (any other word: normal clearing)."""
    return REASONS[reason].q850_cause if reason in REASONS else NORMAL_CLEARING


def _is_ours(channel: dict[str, Any]) -> bool:
    """A channel one of our flows runs, or a leg one of our calls dialled
    (subscribed since its origination, in no flow until it answers)."""
    flow = _flow_of(channel)
    return flow in OUR_FLOWS or (flow == "" and call_ref_of_leg(channel.get("id", "")) is not None)


def _flow_of(channel: dict[str, Any]) -> str:
    """The Stasis flow a channel entered with (its first app argument)."""
    data = str(channel.get("dialplan", {}).get("app_data", ""))
    parts = data.split(",")
    return parts[1] if len(parts) > 1 else ""


async def _hang_up_surely(client: AriClient, channel_id: str, cause: int = NORMAL_CLEARING) -> bool:
    """Hang up a channel that must not stay in the application: a request
    that did not reach Asterisk (connection error, timeout: ARI briefly
    unavailable) is sent again after each of ``HANGUP_RETRIES_S``, or the
    caller would wait in Stasis until its hard cap, if it has one. Return
    True once the channel is gone (hung up, or 404: it was gone already),
    False when Asterisk refused or never answered (logged)."""
    retries = iter(HANGUP_RETRIES_S)
    while True:
        try:
            await client.hangup(channel_id, reason_code=str(cause))
            return True
        except AriError as exc:
            if exc.status == 404:
                return True
            log.warning("channel not hung up", extra={"channel": channel_id, "error": str(exc)})
            return False
        except (AriConnectionError, AriTimeout) as exc:
            delay = next(retries, None)
            if delay is None:
                log.error("channel not hung up: ARI unreachable", extra={"channel": channel_id, "error": str(exc)})
                return False
            log.warning("hangup did not reach ARI; retrying", extra={"channel": channel_id, "error": str(exc)})
            await asyncio.sleep(delay)
        except AriFailure as exc:  # the client is closed: nothing more can be sent
            log.warning("channel not hung up", extra={"channel": channel_id, "error": str(exc)})
            return False
