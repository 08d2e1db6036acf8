"""One live call as the control plane holds it: its channels, its bridge,
its grant, and the ordered queue of the ARI events about its channels.

The ARI client runs every handler as its own task, so events of one channel
may be handled concurrently; the controller instead puts each event into
the queue of the call whose channel it names, synchronously and in arrival
order, and the call's one task reads them in that order. That task is the
only code that changes the call: no locks.

:meth:`LiveCall.next_event` raises :class:`CallEnded` when the caller has
left the application or someone asked the call to end (``end_calls`` of an
account suspension, a shutdown), so a flow is written as straight-line code
and its ``finally`` tears down whatever is still there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine

from .causes import NORMAL_CLEARING
from .client import AriClient

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from admission.service import Admission
    from provisioning.records import Did

log = logging.getLogger(__name__)

DailyLimitHook = Callable[[int], Awaitable[None]]
"""``on_daily_limit(account_id)``: a call was stopped by the account's daily limit."""

MissedHook = Callable[[dict[str, Any], "Did", int], Awaitable[Any]]
"""``on_missed(caller_channel, did, ring_seconds)``: the caller of a DID hung
up while it was ringing (a missed call)."""

UnansweredHook = Callable[["LiveCall", "Did", str], Awaitable[None]]
"""``on_unanswered(call, did, why)``: a call to a DID was not answered
(``why``: busy, no_answer, unreachable, ...). The hook is a step of the
call's flow, run in its task: it owns the caller channel (still unanswered,
in the application) until it returns, reads the call's events with
``call.next_event`` (its ``CallEnded`` ends the call), and then whatever is
left of the call is hung up."""

END_REQUEST = "ClickPhoneEndCall"
"""Type of the synthetic event that asks a call to end (``why``, ``cause``)."""

CALLER_HANGUP = "caller_hangup"
"""``CallEnded.why`` when the caller left the application."""

CALL_VARIABLE = "CP_CALL"
"""Channel variable on the caller of a connected call: what a restarted
control plane needs to adopt it (:class:`CallRecord`, as JSON)."""

OUTBOUND = "outbound"
INBOUND = "inbound"


class CallEnded(Exception):
    """The call must end now; ``cause`` is the Q.850 cause the remaining
    channels are hung up with."""

    def __init__(self, why: str, cause: int = NORMAL_CLEARING) -> None:
        super().__init__(why)
        self.why = why
        self.cause = cause


@dataclass(frozen=True)
class CallTiming:
    """The flows' timeouts and lead times, in seconds.

    ``extend_before``: ask admission for the next chunk this long before the
    grant runs out; ``warn_before``: when no more can be granted, play the
    warning this long before the end. ``dial_timeout``: how long a carrier
    call may ring. ``announcement_timeout``: longest wait for a refusal
    announcement to finish. ``orphan_grace``: after a reconnect, how long a
    channel in the app may stay unclaimed before it is hung up (a call that
    entered just as the websocket opened is claimed by its StasisStart).
    """

    extend_before: float = 20.0
    warn_before: float = 10.0
    dial_timeout: int = 60
    announcement_timeout: float = 15.0
    extend_retry: float = 2.0
    orphan_grace: float = 2.0
    hook_timeout: float = 10.0
    warning_media: str = "sound:beep"

    def __post_init__(self) -> None:
        if not self.extend_before >= self.warn_before >= 0:
            raise ValueError("extend_before must be >= warn_before >= 0: the warning "
                             "comes only once no more time can be granted")
        if self.dial_timeout <= 0:
            raise ValueError("dial_timeout must be positive")


@dataclass(frozen=True)
class CallRecord:
    """What the caller channel of a connected call carries for a restart."""

    direction: str
    peer: str
    bridge: str
    talk_started_at: float  # epoch seconds, just before the caller was answered
    account_id: int | None = None
    free: bool = False

    def encode(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> "CallRecord | None":
        """Return the record in ``text``, or None if it is not one."""
        try:
            data = json.loads(text)
            return cls(
                direction=str(data["direction"]), peer=str(data["peer"]), bridge=str(data["bridge"]),
                talk_started_at=float(data["talk_started_at"]),
                account_id=None if data.get("account_id") is None else int(data["account_id"]),
                free=bool(data.get("free", False)),
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(eq=False)
class LiveCall:
    """A call this process owns; ``call_ref`` is the caller channel's id
    (its uniqueid: the reservation's reference, the CDR's uniqueid)."""

    call_ref: str
    caller: dict[str, Any]
    direction: str
    account_id: int | None = None
    free: bool = False
    admitted: bool = False  # admission holds a live call (finish it at the end)
    number_class: str = ""
    legs: set[str] = field(default_factory=set)
    peer: str | None = None
    bridge: str | None = None
    talk_started_at: float | None = None  # epoch seconds
    talk_started: float | None = None  # the event loop's clock
    granted: int = 0
    entered_at: float = field(default_factory=time.monotonic)
    abandoned: bool = False  # the controller stopped without hanging up: leave everything
    gone: set[str] = field(default_factory=set)  # channels seen leaving the application
    task: asyncio.Task | None = None
    _events: asyncio.Queue = field(default_factory=asyncio.Queue, repr=False)

    @property
    def channel_ids(self) -> set[str]:
        return {self.call_ref, *self.legs}

    def deliver(self, event: dict[str, Any]) -> None:
        """Queue an event about one of the call's channels (synchronous, so
        the arrival order is kept)."""
        if event.get("type") in ("StasisEnd", "ChannelDestroyed"):
            gone = channel_id(event)
            if gone is not None:
                self.gone.add(gone)
        self._events.put_nowait(event)

    def request_end(self, why: str, cause: int = NORMAL_CLEARING) -> None:
        """Ask the call to end as soon as its task reads its queue."""
        self.deliver({"type": END_REQUEST, "why": why, "cause": cause})

    async def next_event(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Return the next event about the call's channels, or None after
        ``timeout`` seconds. Raise :class:`CallEnded` when the caller has
        left the application or an end was requested."""
        try:
            if timeout is None:
                event = await self._events.get()
            else:
                event = await asyncio.wait_for(self._events.get(), max(timeout, 0))
        except TimeoutError:
            return None
        if event["type"] == END_REQUEST:
            raise CallEnded(event["why"], event["cause"])
        if event["type"] == "StasisEnd" and channel_id(event) == self.call_ref:
            raise CallEnded(CALLER_HANGUP)
        return event


def channel_id(event: dict[str, Any]) -> str | None:
    """The id of the channel an event is about (the dialled one for Dial)."""
    for key in ("peer", "channel"):
        channel = event.get(key)
        if isinstance(channel, dict) and "id" in channel:
            return channel["id"]
    return None


def channel_ids_of(event: dict[str, Any]) -> list[str]:
    """Every channel id an event names (channel, peer, caller, the target
    of a playback or a recording)."""
    ids = []
    for key in ("channel", "peer", "caller"):
        channel = event.get(key)
        if isinstance(channel, dict) and "id" in channel:
            ids.append(channel["id"])
    for key in ("playback", "recording"):
        media = event.get(key)
        if isinstance(media, dict):
            target = str(media.get("target_uri", ""))
            if target.startswith("channel:"):
                ids.append(target.removeprefix("channel:"))
    return ids


@dataclass
class CallServices:
    """What the call flows use, injected by the controller."""

    client: AriClient
    admission: "Admission"
    engine: "AsyncEngine"
    timing: CallTiming
    carrier_dial: str  # e.g. "PJSIP/{number}@carrier"
    on_daily_limit: DailyLimitHook | None = None
    on_unanswered: UnansweredHook | None = None
    on_missed: MissedHook | None = None
    background: set[asyncio.Task] = field(default_factory=set)
    # account id -> the latest end_calls order (monotonic time, paid_only, why, cause)
    end_orders: dict[int, tuple[float, bool, str, int]] = field(default_factory=dict)

    def check_end_order(self, call: LiveCall) -> None:
        """Raise CallEnded if the call's account was told to end its calls
        after this call entered (it was being decided at that moment)."""
        order = self.end_orders.get(call.account_id) if call.account_id is not None else None
        if order is None:
            return
        at, paid_only, why, cause = order
        if at >= call.entered_at and not (paid_only and call.free):
            raise CallEnded(why, cause)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run a hook in the background, logged if it fails, never blocking the call."""
        task = asyncio.create_task(self._logged(coro, name), name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _logged(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            async with asyncio.timeout(self.timing.hook_timeout):
                await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", name)
