"""The inbound flow: a carrier call to one of our numbers entering
``Stasis(app,inbound[,did])``.

The DID comes as the flow's argument when the dialplan knows it (the
rendered from-carrier context has one extension per DID), else from the
dialled extension, normalised. Unknown → hung up "unallocated" (cause 1,
SIP 404). Known → the subscriber's registered phones ring at once for the
DID's ring time; the first to answer is bridged with the caller; busy, no
answer or no reachable phone → the handover hook
``on_unanswered(call, did, why)`` (voicemail comes there: a step of this
flow), then the caller is hung up with the matching cause.

Inbound calls are free for the subscriber and hold no reservation; their
CDR (the carrier channel's) says ``inbound`` in userfield and cp_class.
"""

from __future__ import annotations

import asyncio
import logging

from billing.numbering import ON_NET
from provisioning import services as provisioning

from . import causes
from .calls import CALLER_HANGUP, CallEnded, CallServices, LiveCall
from .channels import dialled
from .grant import GrantSchedule
from .outbound import subscriber_destinations, unanswered
from .ringing import ring
from .talk import connect, hold

log = logging.getLogger(__name__)

INBOUND_CLASS = "inbound"


async def run_inbound(svc: CallServices, call: LiveCall, args: list[str]) -> None:
    """Ring the DID's subscriber; bridge, hand over, or refuse (raises
    CallEnded when the call is over)."""
    client = svc.client
    number = await _did_number(svc, call, args)
    did = await provisioning.find_did(svc.engine, number) if number else None
    if did is None:
        await client.set_variables(call.call_ref, {"CDR(userfield)": "refused:unallocated",
                                                   "CDR(cp_class)": INBOUND_CLASS})
        log.info("inbound call to a number that is not ours", extra={"call": call.call_ref, "number": number})
        raise CallEnded("unallocated", causes.CAUSE_OF[causes.UNALLOCATED])
    call.free = True
    granted = svc.admission.max_seconds
    ring_cap = did.ring_seconds + granted
    # one request: the CDR's marks, its account (the called subscriber's:
    # rated on-net, free, instead of quarantined for want of an account
    # code) and the caller's hard cap
    variables = {"CDR(userfield)": INBOUND_CLASS, "CDR(cp_class)": INBOUND_CLASS}
    account_code = await _account_code(svc, did.subscriber_id)
    if account_code:
        variables["CHANNEL(accountcode)"] = account_code
    variables["TIMEOUT(absolute)"] = str(ring_cap)
    await client.set_variables(call.call_ref, variables)
    destinations = await subscriber_destinations(svc, call, did.subscriber_id)
    ring_started = asyncio.get_running_loop().time()
    try:
        outcome = await ring(client, call, destinations, timeout=did.ring_seconds, hard_cap=ring_cap)
    except CallEnded as ended:
        if ended.why == CALLER_HANGUP and svc.on_missed is not None:
            rang = round(asyncio.get_running_loop().time() - ring_started)
            svc.spawn(svc.on_missed(call.caller, did, rang), "missed-call")
        raise
    if outcome.answered is None:
        await unanswered(svc, call, did, outcome)
    schedule = GrantSchedule(asyncio.get_running_loop().time(), granted, svc.timing.extend_before,
                             svc.timing.warn_before, final=True)
    call.granted = granted
    await connect(svc, call, outcome.answered, schedule)
    await hold(svc, call, schedule)


async def _account_code(svc: CallServices, subscriber_id: int) -> str | None:
    """The billing account code of the subscriber's first endpoint that has one."""
    endpoints = await provisioning.endpoints_of_subscriber(svc.engine, subscriber_id)
    return next((e.account_code for e in endpoints if e.account_code), None)


async def _did_number(svc: CallServices, call: LiveCall, args: list[str]) -> str:
    """The called DID in canonical form ('' when it is not one of ours)."""
    if args and args[0].isdigit():
        return args[0]
    classification = await svc.admission.classify(dialled(call.caller))
    return classification.normalised if classification.number_class == ON_NET else ""
