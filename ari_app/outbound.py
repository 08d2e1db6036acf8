"""The outbound flow: a subscriber's call entering ``Stasis(app,outbound)``.

1. admission decides (caller uniqueid, endpoint, SIP source address,
   dialled number); the decision goes on the caller's CDR
   (``CDR(userfield)`` = ``allowed`` | ``refused:<reason>``, ``CDR(cp_class)``);
2. refused → the caller hears the reason's announcement as early media (it
   is never answered, so its CDR bills nothing) and is hung up with the
   reason's cause (the phone sees e.g. 403 for cause 21, 503 for 34);
3. allowed → a hard cap on the caller (ring time + grant), then:
   - on-net (one of our DIDs): the callee subscriber's registered phones
     ring at once, the first to answer wins; free;
   - else the carrier trunk is dialled with the normalised number
     (112, 116xxx and 0800 too, free, capped only by the maximum length);
4. answered → bridged and held to the grant (:mod:`ari_app.talk`); busy,
   no answer or failure → the caller is hung up with the matching cause
   (an unanswered on-net call goes to the DID's handover hook, like an
   inbound one).
"""

from __future__ import annotations

import asyncio
import logging

from admission.service import CallRequest, Decision
from billing.numbering import ON_NET
from provisioning import services as provisioning

from . import causes
from .calls import CallEnded, CallServices, LiveCall
from .channels import (
    carrier_dial_string,
    dialled,
    endpoint_contacts_function,
    endpoint_of,
    flow_hints,
    source_address,
    split_contacts,
)
from .errors import AriFailure
from .grant import GrantSchedule
from .ringing import RingOutcome, ring
from .talk import connect, hold

log = logging.getLogger(__name__)


async def run_outbound(svc: CallServices, call: LiveCall, args: list[str] | None = None) -> None:
    """Decide the call, then refuse it or connect it and hold it to its
    grant; raises CallEnded when it is over (the caller's teardown hangs up
    what is left). ``args``: the flow's arguments (``endpoint=``, ``src=``:
    see :mod:`ari_app.channels`)."""
    client = svc.client
    hints = flow_hints(args or [])
    # one after the other: with the dialplan's hints neither makes a request,
    # and gathering them would cost a turn of the event loop per call
    endpoint = await endpoint_of(client, call.caller, hints)
    source = await source_address(client, call.caller, hints)
    decision = await svc.admission.decide(CallRequest(call.call_ref, endpoint, source, dialled(call.caller)))
    call.account_id, call.free, call.number_class = decision.account_id, decision.free, decision.number_class
    call.admitted = decision.allowed
    if not decision.allowed:
        await _record_decision(svc, call, decision)
        await refuse(svc, call, decision)
    svc.check_end_order(call)
    if decision.number_class == ON_NET:
        await _on_net(svc, call, decision)
    else:
        await _to_carrier(svc, call, decision)


async def _record_decision(svc: CallServices, call: LiveCall, decision: Decision, hard_cap: int | None = None) -> None:
    """The decision on the caller's CDR and, for an allowed call, the hard
    cap of its ringing time plus grant on the caller (one request)."""
    verdict = "allowed" if decision.allowed else f"refused:{decision.reason.code}"
    variables = {"CDR(userfield)": verdict, "CDR(cp_class)": decision.number_class}
    if hard_cap:
        variables["TIMEOUT(absolute)"] = str(hard_cap)
    await svc.client.set_variables(call.call_ref, variables)


async def refuse(svc: CallServices, call: LiveCall, decision: Decision) -> None:
    """Play the refusal's announcement as early media, then end the call
    with its cause (raises CallEnded)."""
    reason = decision.reason
    assert reason is not None
    client = svc.client
    try:
        await client.progress(call.call_ref)
        playback = await client.play(call.call_ref, f"sound:{reason.sound}")
    except AriFailure as exc:
        log.info("refusal announcement not played", extra={"call": call.call_ref, "error": str(exc)})
    else:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + svc.timing.announcement_timeout
        while (event := await call.next_event(deadline - loop.time())) is not None:
            if event["type"] == "PlaybackFinished" and event["playback"]["id"] == playback["id"]:
                break
    raise CallEnded(f"refused:{reason.code}", reason.q850_cause)


async def _to_carrier(svc: CallServices, call: LiveCall, decision: Decision) -> None:
    try:
        destination = carrier_dial_string(svc.carrier_dial, decision.destination.normalised)
    except ValueError:
        raise CallEnded("invalid_number", causes.CAUSE_OF[causes.UNALLOCATED]) from None
    await _ring_and_talk(svc, call, decision, [destination], svc.timing.dial_timeout, did=None)


async def _on_net(svc: CallServices, call: LiveCall, decision: Decision) -> None:
    did = await provisioning.find_did(svc.engine, decision.destination.normalised)
    if did is None:  # released since admission cached our numbers
        raise CallEnded("unallocated", causes.CAUSE_OF[causes.UNALLOCATED])
    destinations = await subscriber_destinations(svc, call, did.subscriber_id)
    await _ring_and_talk(svc, call, decision, destinations, did.ring_seconds, did=did)


async def _ring_and_talk(svc: CallServices, call: LiveCall, decision: Decision, destinations: list[str],
                         ring_seconds: int, did) -> None:
    granted = decision.max_seconds
    ring_cap = ring_seconds + granted
    # the CDR marks and the caller's cap go out once the first leg is
    # dialled: nothing is billable before the answer, and the request does
    # not compete with the leg's origination
    marking: asyncio.Task | None = None

    def mark() -> None:
        nonlocal marking
        marking = asyncio.create_task(_record_decision(svc, call, decision, ring_cap))

    try:
        outcome = await ring(svc.client, call, destinations, timeout=ring_seconds, hard_cap=ring_cap,
                             on_dialled=mark)
    except BaseException:
        if marking is None:
            mark()
        await asyncio.gather(marking, return_exceptions=True)
        raise
    if marking is None:  # no leg was dialled
        mark()
    await marking  # an ARI failure here ends the call like any other
    if outcome.answered is None:
        await unanswered(svc, call, did, outcome)
    loop = asyncio.get_running_loop()
    schedule = GrantSchedule(loop.time(), granted, svc.timing.extend_before, svc.timing.warn_before,
                             final=decision.free)
    call.granted = granted
    await connect(svc, call, outcome.answered, schedule)
    await hold(svc, call, schedule)


async def subscriber_destinations(svc: CallServices, call: LiveCall, subscriber_id: int) -> list[str]:
    """Dial strings of every registered device of the subscriber's endpoints."""
    endpoints = await provisioning.endpoints_of_subscriber(svc.engine, subscriber_id)
    functions = []
    for endpoint in endpoints:
        try:
            functions.append(endpoint_contacts_function(endpoint.username))
        except ValueError:
            log.warning("endpoint name unusable in a dial string", extra={"endpoint": endpoint.username})
    values = await asyncio.gather(*(svc.client.get_variable(call.call_ref, f) for f in functions),
                                  return_exceptions=True)
    destinations: list[str] = []
    for value in values:
        if isinstance(value, str):
            destinations.extend(split_contacts(value))
        elif not isinstance(value, AriFailure):
            raise value
    return destinations


async def unanswered(svc: CallServices, call: LiveCall, did, outcome: RingOutcome) -> None:
    """Nobody answered: a call to a DID goes to the handover hook (voicemail
    comes there); then, or for any other call at once, it ends with the
    outcome's cause (raises CallEnded)."""
    if did is not None and svc.on_unanswered is not None:
        log.info("call unanswered: handing over", extra={"call": call.call_ref, "did": did.number,
                                                         "why": outcome.why})
        await svc.on_unanswered(call, did, outcome.why)
    raise CallEnded(outcome.why, outcome.cause or causes.CAUSE_OF[causes.FAILED])
