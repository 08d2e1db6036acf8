"""How a call ended, and what the other side is told: tables, not if-chains.

A leg we dial ends with a Q.850 cause (ARI's ``ChannelHangupRequest`` and
``ChannelDestroyed`` carry it); :func:`why_from_cause` names the outcome
(``busy``, ``no_answer``, ...), and :data:`CAUSE_OF` gives the cause the
caller is hung up with for each outcome. The caller's phone sees the SIP
status Asterisk maps that cause to (17 → 486, 19 → 480, 20 → 480, 34 →
503, 1 → 404, 21 → 403).
"""

from __future__ import annotations

# Why a dialled leg did not connect.
BUSY = "busy"
NO_ANSWER = "no_answer"
UNREACHABLE = "unreachable"  # no registered device, or the device cannot be reached
UNALLOCATED = "unallocated"  # the number does not exist
REJECTED = "rejected"
CONGESTION = "congestion"
FAILED = "failed"

NORMAL_CLEARING = 16

# Q.850 cause of a leg's hangup → why it did not connect.
_WHY_BY_CAUSE: dict[int, str] = {
    1: UNALLOCATED, 3: UNALLOCATED, 22: UNALLOCATED, 28: UNALLOCATED,
    17: BUSY,
    18: NO_ANSWER, 19: NO_ANSWER,
    20: UNREACHABLE, 27: UNREACHABLE,
    21: REJECTED,
    34: CONGESTION, 38: CONGESTION, 41: CONGESTION, 42: CONGESTION, 44: CONGESTION,
}

# Why → the cause the caller is hung up with.
CAUSE_OF: dict[str, int] = {
    BUSY: 17,
    NO_ANSWER: 19,
    UNREACHABLE: 20,
    UNALLOCATED: 1,
    REJECTED: 21,
    CONGESTION: 34,
    FAILED: 41,
}

# When several legs fail differently (a subscriber's phones ringing at
# once), the caller hears the most telling outcome: one busy phone means the
# subscriber is busy; one that rang unanswered beats phones that were off.
_PRECEDENCE = (BUSY, NO_ANSWER, REJECTED, UNREACHABLE, UNALLOCATED, CONGESTION, FAILED)


def why_from_cause(cause: int | None) -> str:
    """Return why a leg that ended with this Q.850 cause did not connect."""
    return _WHY_BY_CAUSE.get(cause or 0, FAILED)


def overall_why(whys: list[str]) -> str:
    """Return the outcome the caller is told when every leg failed."""
    for why in _PRECEDENCE:
        if why in whys:
            return why
    return UNREACHABLE  # nothing was dialled: no device to ring


def caller_cause(why: str, leg_cause: int | None = None) -> int:
    """Return the cause the caller is hung up with: the leg's own cause when
    it is a telling one (a carrier's 'unallocated' passes through as it is),
    else the table's cause for ``why``."""
    if leg_cause and leg_cause != NORMAL_CLEARING and why_from_cause(leg_cause) == why:
        return leg_cause
    return CAUSE_OF.get(why, CAUSE_OF[FAILED])
