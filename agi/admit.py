"""FastAGI routes for dialplan-driven calls: the same admission as the ARI app.

The dialplan context ``clickphone-agi`` (asterisk_conf's extensions.conf
template) runs::

    Set(CHANNEL(hangup_handler_push)=clickphone-agi-hangup,s,1)  ; → AGI(.../hangup?secret=...)
    AGI(agi://host:4573/admit?secret=<agi_secret>,<dialled number>)

(the server checks the peer and the secret before a route runs).

``admit`` reads who is calling and from where from the channel itself
(``CHANNEL(endpoint)`` and ``CHANNEL(pjsip,remote_addr)``), never from
anything the caller sent as text, asks :meth:`admission.service.Admission.decide`
and answers in channel variables the dialplan branches on:

==================  =====================================================
``CP_ADMIT``        ``yes`` or ``no``
``CP_REASON``       the refusal reason's code (empty when allowed)
``CP_MAXSECONDS``   seconds granted (the ``Dial`` ``L()`` hard cap); 0 refused
``CP_RESERVATION``  the credit reservation's id (empty for free or refused)
``CP_CLASS``        the destination's number class (``ro_mobile``...)
``CP_SOUND``        the announcement to play before a refusal's hangup
``CP_CAUSE``        the refusal's Q.850 cause for ``Hangup()``
``CDR(userfield)``  :func:`userfield` — what was decided, for the CDR
``CDR(cp_class)``   the number class, for the CDR
==================  =====================================================

``hangup`` (run from the channel's hangup handler) forgets the live call:
:meth:`Admission.finish`. Its reservation waits for the CDR, as on the ARI
path.

Every value goes through :meth:`agi.server.AgiSession.set_variable`, which
quotes it (no CR/LF, quotes escaped): nothing a caller dials can add an AGI
command. A dialplan-driven call has nobody to extend its grant mid-call:
give these routes an :class:`Admission` whose ``chunk_seconds`` is the
longest call you want to allow in one go (its first grant is then all the
credit pays for, up to that).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from admission.service import Admission, CallRequest, Decision

from .server import AgiError, AgiSession, Handler

log = logging.getLogger(__name__)

ADMIT_SCRIPT = "admit"
HANGUP_SCRIPT = "hangup"

# Channel variables an admin's dialplan may set on a channel that has no
# PJSIP endpoint (a Local channel originated for a click-to-call); a PJSIP
# channel's own endpoint and address always win over them.
ENDPOINT_FALLBACK_VARIABLE = "CP_ENDPOINT"
SOURCE_FALLBACK_VARIABLE = "CP_SOURCE"

DecisionHook = Callable[[Decision], Awaitable[None]]


class MissingCallReferenceError(AgiError):
    """The AGI header carries no ``agi_uniqueid``: nothing to key the call on."""


def userfield(decision: Decision) -> str:
    """Return the CDR userfield recording ``decision``:
    ``allowed;max=300;reservation=17``, ``allowed;free;max=14400`` or
    ``refused;reason=insufficient_credit``."""
    if not decision.allowed:
        assert decision.reason is not None
        return f"refused;reason={decision.reason.code}"
    if decision.free:
        return f"allowed;free;max={decision.max_seconds}"
    return f"allowed;max={decision.max_seconds};reservation={decision.reservation_id}"


def decision_variables(decision: Decision) -> dict[str, str]:
    """Return the channel variables (in the order they are set) that tell
    the dialplan ``decision``."""
    refusal = decision.reason
    return {
        "CP_ADMIT": "yes" if decision.allowed else "no",
        "CP_REASON": refusal.code if refusal else "",
        "CP_MAXSECONDS": str(decision.max_seconds if decision.allowed else 0),
        "CP_RESERVATION": "" if decision.reservation_id is None else str(decision.reservation_id),
        "CP_CLASS": decision.number_class,
        "CP_SOUND": refusal.sound if refusal else "",
        "CP_CAUSE": str(refusal.q850_cause) if refusal else "",
        "CDR(userfield)": userfield(decision),
        "CDR(cp_class)": decision.number_class,
    }


def address_without_port(remote: str) -> str:
    """Return the address of ``host:port``, ``[v6]:port`` or a bare address."""
    remote = remote.strip()
    if remote.startswith("["):
        return remote[1:].split("]", 1)[0]
    if remote.count(":") == 1:
        return remote.rsplit(":", 1)[0]
    return remote


@dataclass
class AdmitRoutes:
    """The ``admit`` and ``hangup`` FastAGI routes over one Admission.

    ``on_decision`` (optional) is awaited after the dialplan has its
    answer, e.g. to queue the daily-limit alert when a call is refused with
    ``daily_limit_reached``; its failure is logged, never the call's.
    """

    admission: Admission
    on_decision: DecisionHook | None = None

    def routes(self) -> dict[str, Handler]:
        """Return ``{script name: handler}`` for :class:`agi.server.AgiServer`."""
        return {ADMIT_SCRIPT: self.admit, HANGUP_SCRIPT: self.hangup}

    async def admit(self, session: AgiSession) -> None:
        """Decide the channel's call and set the CP_* variables."""
        request = await self.call_request(session)
        decision = await self.admission.decide(request)
        for name, value in decision_variables(decision).items():
            await session.set_variable(name, value)
        if self.on_decision is not None:
            try:
                await self.on_decision(decision)
            except Exception:  # the call has its answer; the hook is bookkeeping
                log.exception("admission decision hook failed", extra={"call": decision.call_ref})

    async def hangup(self, session: AgiSession) -> None:
        """Forget the channel's live call (its reservation waits for the CDR)."""
        call_ref = _call_ref(session)
        await self.admission.finish(call_ref)
        log.info("call finished", extra={"call": call_ref, "path": "agi"})

    async def call_request(self, session: AgiSession) -> CallRequest:
        """Return the call asking to go ahead, read from the channel."""
        request = session.request
        endpoint = await session.get_variable("CHANNEL(endpoint)")
        remote = await session.get_variable("CHANNEL(pjsip,remote_addr)")
        if not endpoint:
            endpoint = await session.get_variable(ENDPOINT_FALLBACK_VARIABLE)
            remote = remote or await session.get_variable(SOURCE_FALLBACK_VARIABLE)
        dialled = request.args[0] if request.args and request.args[0] else request.env.get("agi_extension", "")
        return CallRequest(
            call_ref=_call_ref(session),
            endpoint=endpoint or "",
            source_address=address_without_port(remote or ""),
            dialled=dialled,
        )


def admission_routes(admission: Admission, on_decision: DecisionHook | None = None) -> dict[str, Handler]:
    """Return the ``admit`` and ``hangup`` routes for ``AgiServer(routes=...)``."""
    return AdmitRoutes(admission, on_decision).routes()


def _call_ref(session: AgiSession) -> str:
    call_ref = session.request.uniqueid
    if not call_ref:
        raise MissingCallReferenceError("AGI header without agi_uniqueid")
    return call_ref
