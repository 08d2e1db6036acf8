"""Ring one or several destinations for a caller; the first to answer wins.

Each destination becomes a leg: a channel created in the application (its
StasisStart carries the argument ``leg``) with ``originator`` the caller,
so it shares the caller's linkedid, and with its own CDR disabled — the
caller's CDR is the call's one billable record. The legs are dialled with
the caller as ``caller`` (its caller ID goes out) and a ring timeout; the
caller hears ringing as soon as one leg rings. When one answers, the others
are hung up ("answered elsewhere"); when all fail, the outcome names why.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Callable

from . import causes
from .calls import LiveCall, channel_id
from .client import AriClient
from .errors import AriError, AriFailure

log = logging.getLogger(__name__)

LEG_FLOW = "leg"
"""Stasis argument of the legs the flows create (the controller's no-op flow)."""

# Extra time past the ring timeout before the flow stops waiting on its own.
RING_GRACE_S = 3.0
# How long a leg that left the application may take to report its cause.
LEG_CAUSE_WAIT_S = 0.5


@dataclass
class RingOutcome:
    """The leg that answered, or why none did (and the most telling cause)."""

    answered: str | None = None
    why: str = ""
    cause: int | None = None
    leg_causes: dict[str, int | None] = field(default_factory=dict)


async def ring(
    client: AriClient,
    call: LiveCall,
    destinations: list[str],
    *,
    timeout: int,
    hard_cap: float,
    on_dialled: Callable[[], None] | None = None,
) -> RingOutcome:
    """Dial every destination (dial strings) at once for ``timeout`` seconds;
    return the first leg to answer, with the others hung up. Each leg is
    created with TIMEOUT(absolute) = ``hard_cap`` seconds, so Asterisk ends
    it even if this process is gone. ``on_dialled()`` is called once the
    first leg is dialled (work that must not delay the dial). Raises
    CallEnded (from the call's queue) if the caller leaves; the legs are
    then the caller's teardown's."""
    outcome = RingOutcome()
    undialled: set[str] = set()  # created, waiting for their StasisStart before the dial

    async def create(leg_id: str, destination: str) -> None:
        call.legs.add(leg_id)  # before it exists: its first events must find the call
        try:
            await client.create_channel(
                destination, app_args=LEG_FLOW, channel_id=leg_id, originator=call.call_ref,
                variables={"CDR_PROP(disable)": "1", "TIMEOUT(absolute)": f"{hard_cap:.3f}"},
            )
        except AriFailure as exc:
            log.info("leg could not be created: %s", exc, extra={"call": call.call_ref, "leg": leg_id,
                                                               "destination": destination})
            call.legs.discard(leg_id)
            outcome.leg_causes[leg_id] = 20  # nothing to reach there
            if not isinstance(exc, AriError):  # timed out: it may exist all the same
                await _hang_up_quietly(client, leg_id)
        else:
            undialled.add(leg_id)

    await asyncio.gather(*(create(f"{call.call_ref}-{index}", destination)
                           for index, destination in enumerate(destinations, start=1)))
    pending = set(undialled)
    dialled_at: dict[str, float] = {}
    ending: dict[str, float] = {}  # legs that left the app before their cause was known: since when

    def drop(leg_id: str, cause: int | None) -> None:
        if cause:
            outcome.leg_causes[leg_id] = cause
        else:
            outcome.leg_causes.setdefault(leg_id, None)
        pending.discard(leg_id)
        undialled.discard(leg_id)
        ending.pop(leg_id, None)
        call.legs.discard(leg_id)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout + RING_GRACE_S
    ringing = False
    while pending:
        wake = min([deadline, *(since + LEG_CAUSE_WAIT_S for since in ending.values())])
        event = await call.next_event(wake - loop.time())
        now = loop.time()
        if event is None:
            for leg_id, since in list(ending.items()):
                if now >= since + LEG_CAUSE_WAIT_S:  # its ChannelDestroyed is not coming
                    rang_out = now - dialled_at.get(leg_id, now) >= timeout - 1
                    drop(leg_id, 19 if rang_out else None)
            if now >= deadline:  # Asterisk should have timed the legs out by now
                for leg_id in list(pending):
                    drop(leg_id, 19)
                    await _hang_up_quietly(client, leg_id, "no_answer")
            continue
        leg_id = channel_id(event)
        if leg_id not in pending:
            continue
        kind = event["type"]
        state = event.get("peer", event.get("channel", {})).get("state")
        if kind == "Dial":
            state = {"RINGING": "Ringing", "ANSWER": "Up"}.get(event.get("dialstatus", ""), state)
        if kind == "StasisStart" and leg_id in undialled:
            # a created channel may be dialled only once it is in the application
            undialled.discard(leg_id)
            try:
                await client.dial(leg_id, caller=call.call_ref, timeout=timeout)
                dialled_at[leg_id] = loop.time()
                if on_dialled is not None and len(dialled_at) == 1:
                    on_dialled()
            except AriFailure as exc:
                log.info("leg could not be dialled: %s", exc, extra={"call": call.call_ref, "leg": leg_id})
                drop(leg_id, 20)
                await _hang_up_quietly(client, leg_id)
        elif kind in ("ChannelStateChange", "Dial") and state == "Ringing":
            if not ringing:
                ringing = True
                await _quietly(client.ring(call.call_ref))
        elif kind in ("ChannelStateChange", "Dial") and state == "Up" and leg_id not in ending:
            outcome.answered = leg_id
            pending.discard(leg_id)
            break
        elif kind == "ChannelHangupRequest" and not event.get("soft") and event.get("cause"):
            outcome.leg_causes[leg_id] = event["cause"]  # the far end's own cause
        elif kind == "ChannelDestroyed":
            drop(leg_id, event.get("cause"))
        elif kind == "StasisEnd":
            if outcome.leg_causes.get(leg_id):
                drop(leg_id, None)
            else:  # the cause comes with ChannelDestroyed, if at all
                ending[leg_id] = now
    # the losers (if any) are cancelled
    for leg_id in pending:
        call.legs.discard(leg_id)
        await _hang_up_quietly(client, leg_id, "answered_elsewhere")
    if outcome.answered is None:
        return _failed(outcome)
    return outcome


def _failed(outcome: RingOutcome) -> RingOutcome:
    whys = [causes.why_from_cause(cause) for cause in outcome.leg_causes.values()]
    outcome.why = causes.overall_why(whys)
    telling = [c for c in outcome.leg_causes.values() if c and causes.why_from_cause(c) == outcome.why]
    outcome.cause = causes.caller_cause(outcome.why, telling[0] if telling else None)
    return outcome


async def _quietly(request) -> None:
    try:
        await request
    except AriFailure as exc:
        log.debug("ARI request failed (channel gone?): %s", exc)


async def _hang_up_quietly(client: AriClient, channel: str, reason: str | None = None) -> None:
    await _quietly(client.hangup(channel, reason))
