"""A connected call: answer the caller, bridge it with the leg that
answered, and hold the call to its grant until one side hangs up.

The hard cap lives in Asterisk: TIMEOUT(absolute) on both channels is kept
at the end of the last granted second, so if this process dies the call
still ends there (invariant 2). The caller channel also carries a
:class:`~ari_app.calls.CallRecord` (``CP_CALL``) from which a restarted
control plane adopts the call.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .calls import CALL_VARIABLE, OUTBOUND, CallEnded, CallRecord, CallServices, LiveCall, channel_id
from .errors import AriError, AriFailure
from .grant import END, EXTEND, WARN, GrantSchedule

log = logging.getLogger(__name__)

DAILY_LIMIT = "daily_limit_reached"
# TIMEOUT(absolute)=0 would *remove* the cap: never write less than this.
MIN_CAP_S = 0.05
# How soon a hard cap that did not reach Asterisk is sent again.
CAPS_RETRY_S = 0.5


def bridge_id_for(call_ref: str) -> str:
    return f"{call_ref}-bridge"


async def connect(svc: CallServices, call: LiveCall, leg_id: str, schedule: GrantSchedule) -> None:
    """Answer the caller and bridge it with ``leg_id``; start the grant's
    clock (``schedule.talk_started``) just before the answer, so the CDR's
    billable seconds never exceed what was granted."""
    client = svc.client
    loop = asyncio.get_running_loop()
    call.peer = leg_id
    call.talk_started_at, call.talk_started = time.time(), loop.time()
    schedule.talk_started = call.talk_started
    call.bridge = bridge_id_for(call.call_ref)  # the teardown destroys it, whatever happens next
    # the far end is talking already: the caller is answered while its
    # bridge is made, then both go in
    results = await asyncio.gather(
        client.answer(call.call_ref),
        client.create_bridge("mixing", bridge_id=call.bridge, name=call.call_ref[:60]),
        return_exceptions=True,  # both done before the teardown may destroy the bridge
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    await client.add_channel(call.bridge, [call.call_ref, leg_id])
    record = CallRecord(call.direction, leg_id, call.bridge, call.talk_started_at, call.account_id, call.free)
    await set_caps(svc, call, schedule, caller_variables={CALL_VARIABLE: record.encode()})
    log.info("call connected", extra={"call": call.call_ref, "peer": leg_id, "granted_seconds": schedule.granted})


async def set_caps(svc: CallServices, call: LiveCall, schedule: GrantSchedule,
                   caller_variables: dict[str, str] | None = None) -> bool:
    """Set Asterisk's hard cap on both channels to the end of the grant
    (one request each); ``caller_variables`` go on the caller in the same
    request, and its failure then ends the call (AriFailure). Return False
    when a cap may not have reached Asterisk (no answer: unreachable, timed
    out), True when each was set or its channel is gone."""
    remaining = f"{max(schedule.remaining(asyncio.get_running_loop().time()), MIN_CAP_S):.3f}"
    client = svc.client

    async def cap(channel: str) -> None:
        if channel == call.call_ref and caller_variables:
            await client.set_variables(channel, {"TIMEOUT(absolute)": remaining, **caller_variables})
        else:
            await client.set_variable(channel, "TIMEOUT(absolute)", remaining)

    channels = [c for c in (call.call_ref, call.peer) if c]
    results = await asyncio.gather(*(cap(c) for c in channels), return_exceptions=True)
    in_asterisk = True
    for channel, result in zip(channels, results):
        if isinstance(result, AriFailure) and not (caller_variables and channel == call.call_ref):
            log.info("hard cap not set", extra={"call": call.call_ref, "channel": channel, "error": str(result)})
            in_asterisk = in_asterisk and isinstance(result, AriError)  # Asterisk answered: the channel is gone
        elif isinstance(result, BaseException):
            raise result
    return in_asterisk


async def hold(svc: CallServices, call: LiveCall, schedule: GrantSchedule) -> None:
    """Run the connected call until it must end: extend its grant chunk by
    chunk, warn before the last second, end it at the grant's end. Raises
    CallEnded (the caller left, the peer hung up, the grant ran out, or an
    end was requested)."""
    loop = asyncio.get_running_loop()
    caps_again_at: float | None = None  # an extended cap that did not reach Asterisk: when to resend it
    while True:
        action, at = schedule.next_action()
        event = await call.next_event(min(at, caps_again_at or at) - loop.time())
        if event is not None:
            if event["type"] in ("StasisEnd", "ChannelDestroyed") and channel_id(event) == call.peer:
                raise CallEnded("peer_hangup")
            continue
        if caps_again_at is not None and loop.time() >= caps_again_at:
            # else Asterisk would end the call at the previous chunk's end
            caps_again_at = None if await set_caps(svc, call, schedule) else loop.time() + CAPS_RETRY_S
            continue
        if loop.time() < at:  # woke a hair early
            continue
        if action == END:
            raise CallEnded("grant_exhausted")
        if action == WARN:
            schedule.warned = True
            await _warn(svc, call)
        elif action == EXTEND and not await _extend(svc, call, schedule):
            caps_again_at = loop.time() + CAPS_RETRY_S


async def _extend(svc: CallServices, call: LiveCall, schedule: GrantSchedule) -> bool:
    """Ask admission for the next chunk and move the hard caps to the new
    end; return False when a cap may not have reached Asterisk."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(svc.timing.hook_timeout):
            grant = await svc.admission.extend(call.call_ref)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("cannot extend the call's grant", extra={"call": call.call_ref})
        schedule.extension_failed(loop.time(), svc.timing.extend_retry)
        return True
    in_asterisk = True
    if schedule.extended(grant.seconds, grant.limited_by is None):
        call.granted = schedule.granted
        in_asterisk = await set_caps(svc, call, schedule)
    if schedule.final:
        log.info("call's grant is final", extra={"call": call.call_ref, "granted_seconds": schedule.granted,
                                                  "limited_by": grant.limited_by})
    if grant.limited_by == DAILY_LIMIT and svc.on_daily_limit is not None and call.account_id is not None:
        svc.spawn(svc.on_daily_limit(call.account_id), name=f"on_daily_limit-{call.account_id}")
    return in_asterisk


async def _warn(svc: CallServices, call: LiveCall) -> None:
    """Our subscriber (the caller of an outbound call, the answering phone of
    an inbound one) hears that the call is about to end."""
    target = call.call_ref if call.direction == OUTBOUND else call.peer
    try:
        await svc.client.play(target, svc.timing.warning_media)
    except AriFailure as exc:
        log.info("end-of-call warning not played", extra={"call": call.call_ref, "error": str(exc)})
