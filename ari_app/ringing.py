"""Ring one or several destinations for a caller; the first to answer wins.

Each destination becomes a leg, originated in one request (created and
dialled at once) with a ring timeout, Asterisk's hard cap and its own CDR
disabled — the caller's CDR is the call's one billable record. Its
``originator`` is the caller: Asterisk gives the leg the caller's linkedid
and presents the caller's identity (name, number and presentation), as
Dial does. The application is subscribed to the leg from its origination, so
its Dial, state and hangup events arrive while it rings; it enters the
application (StasisStart, argument ``leg``) only once answered. The caller
hears ringing as soon as one leg rings. When one answers, the others are
hung up ("answered elsewhere"); when all fail, the outcome names why.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Callable

from . import causes
from .calls import LiveCall, channel_id
from .client import AriClient
from .errors import AriError, AriFailure

log = logging.getLogger(__name__)

LEG_FLOW = "leg"
"""Stasis argument of the legs the flows create (the controller's no-op flow)."""

_LEG_ID = re.compile(r"(?P<call_ref>.+)-[0-9]{1,3}")


def leg_id_for(call_ref: str, index: int) -> str:
    """The channel id of a call's ``index``-th leg: ``<call_ref>-<index>``."""
    return f"{call_ref}-{index}"


def call_ref_of_leg(channel_id: str) -> str | None:
    """The call whose leg ``channel_id`` is named as (None: not a leg's name)."""
    match = _LEG_ID.fullmatch(channel_id)
    return match["call_ref"] if match else None

# Extra time past the ring timeout before the flow stops waiting on its own.
RING_GRACE_S = 3.0


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
    originated with TIMEOUT(absolute) = ``hard_cap`` seconds, so Asterisk ends
    it even if this process is gone. ``on_dialled()`` is called once the
    first leg is dialled (work that must not delay the dial). Raises
    CallEnded (from the call's queue) if the caller leaves; the legs are
    then the caller's teardown's."""
    outcome = RingOutcome()
    pending: set[str] = set()  # dialled, not yet answered or gone
    loop = asyncio.get_running_loop()

    async def originate(leg_id: str, destination: str) -> None:
        call.legs.add(leg_id)  # before it exists: its first events must find the call
        try:
            await client.originate(
                destination, app=client.app, app_args=LEG_FLOW, channel_id=leg_id, originator=call.call_ref,
                timeout=timeout,
                variables={"CDR_PROP(disable)": "1", "TIMEOUT(absolute)": f"{hard_cap:.3f}"},
            )
        except AriFailure as exc:
            log.info("leg could not be dialled: %s", exc, extra={"call": call.call_ref, "leg": leg_id,
                                                               "destination": destination})
            call.legs.discard(leg_id)
            outcome.leg_causes[leg_id] = 20  # nothing to reach there
            if not isinstance(exc, AriError):  # timed out: it may exist all the same
                await _hang_up_quietly(client, leg_id)
            return
        first = not pending
        pending.add(leg_id)  # its events queued meanwhile are read below, in order
        if first and on_dialled is not None:
            on_dialled()

    await asyncio.gather(*(originate(leg_id_for(call.call_ref, index), destination)
                           for index, destination in enumerate(destinations, start=1)))

    def drop(leg_id: str, cause: int | None) -> None:
        if cause:
            outcome.leg_causes[leg_id] = cause
        else:
            outcome.leg_causes.setdefault(leg_id, None)
        pending.discard(leg_id)
        call.legs.discard(leg_id)

    deadline = loop.time() + timeout + RING_GRACE_S
    ringing = False
    while pending:
        event = await call.next_event(deadline - loop.time())
        if event is None:  # Asterisk should have timed the legs out by now
            for leg_id in list(pending):
                drop(leg_id, 19)
                await _hang_up_quietly(client, leg_id, "no_answer")
            break
        leg_id = channel_id(event)
        if leg_id not in pending:
            continue
        kind = event["type"]
        state = event.get("peer", event.get("channel", {})).get("state")
        if kind == "Dial":
            state = {"RINGING": "Ringing"}.get(event.get("dialstatus", ""), state)
        if kind == "StasisStart":  # an originated leg enters the application once answered
            outcome.answered = leg_id
            pending.discard(leg_id)
            break
        if kind in ("ChannelStateChange", "Dial") and state == "Ringing":
            if not ringing:
                ringing = True
                await _quietly(client.ring(call.call_ref))
        elif kind == "ChannelHangupRequest" and not event.get("soft") and event.get("cause"):
            outcome.leg_causes[leg_id] = event["cause"]  # the far end's own cause
        elif kind == "ChannelDestroyed":
            drop(leg_id, event.get("cause"))
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
