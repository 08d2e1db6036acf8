"""The thin ARI client: REST requests and the event websocket, on aiohttp.

We own this instead of using a library because the Python ARI libraries
fail in the ways that matter here: ari-py does not import on Python 3,
ari-client 0.9.0 spins at 100 % CPU when the websocket closes and asyncari
hangs silently after a drop.

REST: ``await client.request("POST", "/channels", params=...)`` or a typed
helper (``client.originate(...)``). Every request has a timeout; failures
raise one of ``ari_app.errors`` (``AriError`` with ARI's status and message,
``AriConnectionError``, ``AriTimeout``).

Events: ``client.on("StasisStart", handler)`` then ``client.start()`` (or
``await client.run()``). The client keeps one websocket to
``/ari/events?app=<app>``; opening it (re-)registers the Stasis application.
When the websocket drops, the client reconnects with a capped, jittered
exponential backoff (``ari_app.backoff``) — every failed attempt sleeps, so
it never spins while Asterisk is down. After every (re)connect it asks ARI
which channels are in the application and dispatches a synthetic
``RESYNC`` event before any other, because events that happened while it
was away are lost. ``client.connected`` is set while the websocket is up
and the resync is done.

Handlers run as separate tasks: a slow handler does not hold up the reader,
and events for one channel may be handled concurrently — a call flow that
needs order keeps its own queue. A handler's exception is logged, never
fatal.

Cost: every REST request costs Asterisk an HTTP parse and a check of the
ARI password (a crypt(3) hash: milliseconds of CPU each), and every event
a JSON encoding and a websocket write. So ``set_variables`` sets several
channel variables in one request, and ``ignore_events`` asks Asterisk not
to send event types nobody here handles by name (kept on every
reconnect).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json as _json
import logging
from typing import Any, Awaitable, Callable, Iterable, Mapping, Union
from urllib.parse import quote

import aiohttp

from .backoff import Backoff
from .errors import AriClientClosed, AriConnectionError, AriError, AriFailure, AriTimeout

log = logging.getLogger(__name__)

RESYNC = "ClickPhoneResync"
"""Type of the synthetic event dispatched after every (re)connect. Its dict:
``{"type": RESYNC, "application": app, "connection": n (1 for the first),
"channel_ids": [...], "bridge_ids": [...], "channels": [channel dicts in the
application, as GET /channels returns them]}``."""

ANY_EVENT = "*"
"""Register a handler under this type to receive every event."""

Event = dict[str, Any]
Handler = Callable[[Event], Union[Awaitable[None], None]]
Params = Mapping[str, Any]

# A connection that held this long was healthy: the next drop starts the
# backoff again from its initial delay.
STABLE_AFTER_S = 5.0
# Right after the websocket opens, Asterisk may still be registering the
# application; the resync retries a 404 this often before giving up.
REGISTRATION_RETRIES = 10
REGISTRATION_RETRY_DELAY_S = 0.05
CLOSE_TIMEOUT_S = 1.0


def _segment(value: str) -> str:
    """Quote one path segment (ids and names go into URLs)."""
    return quote(str(value), safe="")


def _query(params: Params | None) -> dict[str, str]:
    """ARI query parameters: drop None, booleans as true/false, lists
    comma-joined (ARI's allowMultiple)."""
    query: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            query[name] = ",".join(str(v) for v in value)
        else:
            query[name] = str(value)
    return query


def _event_filter_body(allowed: Iterable[str], disallowed: Iterable[str]) -> dict:
    return {"allowed": [{"type": t} for t in allowed], "disallowed": [{"type": t} for t in disallowed]}


def _variables_body(variables: Mapping[str, str] | None) -> dict | None:
    return None if variables is None else {"variables": dict(variables)}


class AriClient:
    """One ARI connection for one Stasis application.

    ``base_url`` is Asterisk's HTTP server (``http://127.0.0.1:8088``,
    without ``/ari``). ``request_timeout`` bounds every REST request,
    ``connect_timeout`` the websocket handshake; ``heartbeat`` is the
    websocket ping interval (a peer that stops answering is dropped after
    1.5 × heartbeat). ``backoff`` builds the reconnect schedule.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        heartbeat: float = 5.0,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self._backoff_factory = backoff
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._handlers: dict[str, list[Handler]] = {}
        self._handler_tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None
        self._events_session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._loop_task: asyncio.Task | None = None
        self._closed = False
        self._closed_event = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while the event websocket is up and resynchronised."""
        self.connect_attempts = 0
        """How many times the client tried to open the websocket."""
        self.connections = 0
        """How many times the websocket opened and resynchronised."""
        self._ignored: frozenset[str] = frozenset()
        self._multi_variables = True  # POST /channels/{id}/variables (Asterisk 20.20, 22.10, 23.4+)

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> "AriClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> asyncio.Task:
        """Start keeping the event websocket in a background task (once)
        and return that task."""
        if self._closed:
            raise AriClientClosed("the ARI client is closed")
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._keep_connected(), name=f"ari-events-{self.app}")
        return self._loop_task

    async def run(self) -> None:
        """Keep the event websocket until ``close()``. Cancelling ``run()``
        closes the client."""
        task = self.start()
        closed = asyncio.ensure_future(self._closed_event.wait())
        try:
            await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self.close()
            raise
        finally:
            closed.cancel()
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()

    async def wait_connected(self, timeout: float) -> None:
        """Return once the websocket is up and resynchronised; raise
        ``AriTimeout`` after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self.connected.wait()
        except TimeoutError:
            raise AriTimeout(f"not connected to ARI events within {timeout} s") from None

    async def close(self) -> None:
        """Stop the websocket, the reconnect loop and running handlers, and
        close the HTTP session. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.connected.clear()
        if self._loop_task is not None and self._loop_task is not asyncio.current_task():
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._ws is not None:
            await self._close_websocket(self._ws)
            self._ws = None
        handlers = [t for t in self._handler_tasks if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for session in (self._session, self._events_session):
            if session is not None:
                await session.close()
        self._session = self._events_session = None
        self._closed_event.set()

    # -- events ------------------------------------------------------------

    def on(self, event_type: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for every event of ``event_type`` (or
        every event, for ``ANY_EVENT``); return a function that removes it.
        ``handler`` may be a coroutine function; it runs as its own task.
        A type ``ignore_events`` named is sent again from now on."""
        self._handlers.setdefault(event_type, []).append(handler)
        if event_type in self._ignored:
            self.ignore_events(self._ignored - {event_type})

        def remove() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)

        return remove

    def on_resync(self, handler: Callable[[list[Event]], Awaitable[None] | None]) -> Callable[[], None]:
        """Call ``handler(channels)`` after every (re)connect with the
        channels ARI says are in the application."""
        return self.on(RESYNC, lambda event: handler(event["channels"]))

    def ignore_events(self, event_types: Iterable[str]) -> None:
        """Ask Asterisk not to send these event types to this application
        (its event filter, PUT /applications/{app}/eventFilter), from the
        next connection on and now if connected; types a handler is
        registered for by name are always sent. Unread events cost Asterisk
        a JSON encoding and a websocket write each, and this process a
        parse."""
        self._ignored = frozenset(event_types) - {t for t, h in self._handlers.items() if h}
        if self.connected.is_set():
            task = asyncio.create_task(self._apply_event_filter(), name=f"ari-event-filter-{self.app}")
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)

    @property
    def ignored_events(self) -> frozenset[str]:
        """The event types this client asks Asterisk not to send."""
        return self._ignored

    async def _apply_event_filter(self) -> None:
        # on a fresh connection, like the resync: a pooled one may be a
        # half-open leftover of the websocket that just dropped
        try:
            await self._fresh("PUT", f"/applications/{_segment(self.app)}/eventFilter",
                              json=_event_filter_body((), sorted(self._ignored)))
        except AriFailure as exc:  # only a cost: every event keeps coming
            log.warning("ARI event filter for %s not set: %s", self.app, exc)

    def _dispatch(self, event: Event) -> None:
        event_type = event.get("type", "")
        handlers = [*self._handlers.get(event_type, ()), *self._handlers.get(ANY_EVENT, ())]
        for handler in handlers:
            task = asyncio.create_task(self._run_handler(handler, event), name=f"ari-handler-{event_type}")
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)

    @staticmethod
    async def _run_handler(handler: Handler, event: Event) -> None:
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ARI handler %r failed on %s", handler, event.get("type"))

    async def _keep_connected(self) -> None:
        """Connect, serve, and reconnect after a backoff delay, until closed."""
        loop = asyncio.get_running_loop()
        backoff = self._backoff_factory()
        failures = 0  # in a row; only the first of a series is a warning
        while not self._closed:
            self.connect_attempts += 1
            opened_at = None
            try:
                ws = await self._open_websocket()
                opened_at = loop.time()
                self._ws = ws
                try:
                    await self._serve(ws)
                finally:
                    self.connected.clear()
                    self._ws = None
                    await self._close_websocket(ws)
            except AriFailure as exc:
                failures = 0 if opened_at is not None else failures + 1
                log.log(logging.WARNING if failures <= 1 else logging.DEBUG,
                        "ARI events for %s: %s", self.app, exc)
            except Exception:  # a bug must not end reconnecting; log it loudly
                failures += 1
                log.exception("ARI event loop for %s failed", self.app)
            else:
                failures = 0
            if opened_at is not None and loop.time() - opened_at >= STABLE_AFTER_S:
                backoff.reset()
            delay = backoff.next_delay()
            log.debug("reconnecting ARI events for %s in %.2f s", self.app, delay)
            await asyncio.sleep(delay)

    @staticmethod
    async def _close_websocket(ws: aiohttp.ClientWebSocketResponse) -> None:
        # A dead peer never answers the close frame: do not wait for it.
        with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await ws.close()

    async def _open_websocket(self) -> aiohttp.ClientWebSocketResponse:
        session = self._get_session(events=True)
        url = f"{self.base_url}/ari/events"
        params = {"app": self.app, "subscribeAll": "false"}
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await session.ws_connect(url, params=params, heartbeat=self.heartbeat)
        except aiohttp.WSServerHandshakeError as exc:
            raise AriError(exc.status, exc.message or "websocket handshake refused",
                           method="GET", path="/events") from exc
        except TimeoutError as exc:
            raise AriTimeout(f"websocket handshake took over {self.connect_timeout} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AriConnectionError(f"cannot open the ARI websocket at {self.base_url}: {exc}") from exc

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Resynchronise, then dispatch events until the websocket closes."""
        snapshot = await self._resync_snapshot()
        if self._ignored:  # the filter is the application's in Asterisk: set it on every connection
            await self._apply_event_filter()
        self.connections += 1
        snapshot["connection"] = self.connections
        log.info("ARI events for %s connected (connection %d, %d channels in the application)",
                 self.app, self.connections, len(snapshot["channels"]))
        self.connected.set()
        self._dispatch(snapshot)
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    event = _json.loads(msg.data)
                except ValueError:
                    log.warning("ARI sent a frame that is not JSON: %.200r", msg.data)
                    continue
                if event.get("type") == "ApplicationReplaced":
                    log.warning("another client took over the ARI application %s", self.app)
                self._dispatch(event)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                log.warning("ARI websocket for %s closed (%s %s)", self.app, msg.type.name, msg.extra or "")
                return

    async def _resync_snapshot(self) -> Event:
        """Ask ARI what is in the application now (it registered when the
        websocket opened, possibly a moment after the handshake). Asked on
        fresh connections, like the handshake: pooled ones may be the
        half-open leftovers of what just dropped."""
        for attempt in range(REGISTRATION_RETRIES):
            try:
                application = await self._fresh("GET", f"/applications/{_segment(self.app)}")
                break
            except AriError as exc:
                if exc.status != 404 or attempt == REGISTRATION_RETRIES - 1:
                    raise
                await asyncio.sleep(REGISTRATION_RETRY_DELAY_S)
        channel_ids = list(application.get("channel_ids", []))
        wanted = set(channel_ids)
        channels = [c for c in await self._fresh("GET", "/channels") if c.get("id") in wanted] if wanted else []
        return {
            "type": RESYNC,
            "application": self.app,
            "channel_ids": channel_ids,
            "bridge_ids": list(application.get("bridge_ids", [])),
            "channels": channels,
        }

    # -- REST --------------------------------------------------------------

    def _get_session(self, events: bool = False) -> aiohttp.ClientSession:
        """The pooled session for REST, or (``events``) the one for the
        websocket and the resync, which opens a new connection every time."""
        if self._closed:
            raise AriClientClosed("the ARI client is closed")
        # No session-wide total timeout: it would also cut the websocket.
        if events:
            if self._events_session is None:
                self._events_session = aiohttp.ClientSession(
                    headers={"Authorization": self._auth},
                    connector=aiohttp.TCPConnector(force_close=True),
                )
            return self._events_session
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Authorization": self._auth})
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one ARI request; ``path`` is relative to ``/ari`` (e.g.
        ``/channels``). Return the decoded JSON body, or None when ARI sends
        none (204). Raise ``AriError`` on an HTTP error status,
        ``AriConnectionError`` if Asterisk cannot be reached and
        ``AriTimeout`` after ``timeout`` (default ``request_timeout``)."""
        return _decoded(await self._send(method, path, params=params, json=json, timeout=timeout))

    async def _fresh(self, method: str, path: str, *, json: Any = None) -> Any:
        return _decoded(await self._send(method, path, params=None, json=json, timeout=None, events=True))

    async def _send(
        self, method: str, path: str, *, params: Params | None, json: Any, timeout: float | None,
        events: bool = False,
    ) -> bytes:
        session = self._get_session(events)
        url = f"{self.base_url}/ari{path}"
        limit = aiohttp.ClientTimeout(total=self.request_timeout if timeout is None else timeout)
        try:
            async with session.request(method, url, params=_query(params), json=json, timeout=limit) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise AriError(resp.status, _error_message(body, resp.reason), method=method, path=path)
                return body
        except TimeoutError as exc:  # before ClientError: ServerTimeoutError is both
            raise AriTimeout(f"ARI did not answer {method} {path} within {limit.total} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AriConnectionError(f"cannot reach ARI at {self.base_url} ({method} {path}): {exc}") from exc

    # -- typed helpers: asterisk, applications, endpoints -------------------

    async def ping(self) -> dict:
        """GET /asterisk/ping."""
        return await self.request("GET", "/asterisk/ping")

    async def asterisk_info(self, only: Iterable[str] | None = None) -> dict:
        """GET /asterisk/info (``only``: build, system, config, status)."""
        return await self.request("GET", "/asterisk/info", params={"only": _list(only)})

    async def list_applications(self) -> list[dict]:
        """GET /applications."""
        return await self.request("GET", "/applications")

    async def get_application(self, name: str | None = None) -> dict:
        """GET /applications/{name}; default: this client's application."""
        return await self.request("GET", f"/applications/{_segment(name or self.app)}")

    async def reload_module(self, module: str) -> None:
        """PUT /asterisk/modules/{moduleName}: reload a module's config
        (``res_pjsip.so``, ``pbx_config.so``...) without a restart."""
        await self.request("PUT", f"/asterisk/modules/{_segment(module)}")

    async def set_event_filter(
        self, *, allowed: Iterable[str] | None = None, disallowed: Iterable[str] | None = None
    ) -> dict:
        """PUT /applications/{app}/eventFilter: the event types this client's
        application receives (empty lists: all of them). The filter belongs
        to the application in Asterisk: set it again after a reconnect."""
        body = _event_filter_body(allowed or (), disallowed or ())
        return await self.request("PUT", f"/applications/{_segment(self.app)}/eventFilter", json=body)

    async def get_endpoint(self, tech: str, resource: str) -> dict:
        """GET /endpoints/{tech}/{resource} (``state`` is online/offline)."""
        return await self.request("GET", f"/endpoints/{_segment(tech)}/{_segment(resource)}")

    # -- channels ------------------------------------------------------------

    async def list_channels(self) -> list[dict]:
        """GET /channels: every channel Asterisk has."""
        return await self.request("GET", "/channels")

    async def get_channel(self, channel_id: str) -> dict:
        """GET /channels/{channelId}."""
        return await self.request("GET", f"/channels/{_segment(channel_id)}")

    async def originate(
        self,
        endpoint: str,
        *,
        extension: str | None = None,
        context: str | None = None,
        priority: int | None = None,
        label: str | None = None,
        app: str | None = None,
        app_args: str | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: Iterable[str] | None = None,
    ) -> dict:
        """POST /channels: dial ``endpoint`` and, once it answers, send it to
        ``app`` (or to the dialplan at context/extension/priority). Returns
        the new channel."""
        params = {
            "endpoint": endpoint, "extension": extension, "context": context,
            "priority": priority, "label": label, "app": app, "appArgs": app_args,
            "callerId": caller_id, "timeout": timeout, "channelId": channel_id,
            "otherChannelId": other_channel_id, "originator": originator,
            "formats": _list(formats),
        }
        return await self.request("POST", "/channels", params=params, json=_variables_body(variables))

    async def answer(self, channel_id: str) -> None:
        """POST /channels/{channelId}/answer."""
        await self.request("POST", f"/channels/{_segment(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        """POST /channels/{channelId}/ring: indicate ringing (SIP 180)."""
        await self.request("POST", f"/channels/{_segment(channel_id)}/ring")

    async def progress(self, channel_id: str) -> None:
        """POST /channels/{channelId}/progress: early media (SIP 183) on an
        unanswered channel, so it hears a playback without being answered."""
        await self.request("POST", f"/channels/{_segment(channel_id)}/progress")

    async def hangup(self, channel_id: str, reason: str | None = None, *, reason_code: str | None = None) -> None:
        """DELETE /channels/{channelId}. ``reason``: normal, busy,
        congestion, no_answer, rejected, ...; ``reason_code``: a Q.850 cause."""
        await self.request("DELETE", f"/channels/{_segment(channel_id)}",
                           params={"reason": reason, "reason_code": reason_code})

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """POST /channels/{channelId}/continue: leave Stasis for the dialplan."""
        await self.request("POST", f"/channels/{_segment(channel_id)}/continue", params={
            "context": context, "extension": extension, "priority": priority, "label": label,
        })

    async def play(
        self,
        channel_id: str,
        media: str | Iterable[str],
        *,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
        playback_id: str | None = None,
    ) -> dict:
        """POST /channels/{channelId}/play (``media``: "sound:vm-intro",
        "recording:name", ...). Returns the playback."""
        return await self.request("POST", f"/channels/{_segment(channel_id)}/play", params={
            "media": [media] if isinstance(media, str) else list(media), "lang": lang,
            "offsetms": offsetms, "skipms": skipms, "playbackId": playback_id,
        })

    async def record(
        self,
        channel_id: str,
        name: str,
        format: str = "wav",
        *,
        max_duration_seconds: int | None = None,
        max_silence_seconds: int | None = None,
        if_exists: str | None = None,
        beep: bool | None = None,
        terminate_on: str | None = None,
    ) -> dict:
        """POST /channels/{channelId}/record. Returns the live recording."""
        return await self.request("POST", f"/channels/{_segment(channel_id)}/record", params={
            "name": name, "format": format, "maxDurationSeconds": max_duration_seconds,
            "maxSilenceSeconds": max_silence_seconds, "ifExists": if_exists,
            "beep": beep, "terminateOn": terminate_on,
        })

    async def set_variable(self, channel_id: str, variable: str, value: str | None) -> None:
        """POST /channels/{channelId}/variable (None unsets it)."""
        await self.request("POST", f"/channels/{_segment(channel_id)}/variable",
                           params={"variable": variable, "value": value})

    async def set_variables(self, channel_id: str, variables: Mapping[str, str]) -> None:
        """POST /channels/{channelId}/variables: set several variables (or
        functions: ``CDR(userfield)``, ``TIMEOUT(absolute)``) in one
        request, in order. Where Asterisk predates it (before 20.20, 22.10,
        23.4), one ``set_variable`` request each."""
        if not variables:
            return
        if self._multi_variables:
            try:
                await self.request("POST", f"/channels/{_segment(channel_id)}/variables",
                                   json={"variables": dict(variables)})
                return
            except AriError as exc:
                if not (exc.status == 405 or (exc.status == 404 and "resource" in exc.message.lower())):
                    raise
                log.info("ARI has no POST /channels/{id}/variables: one request per variable from now on")
                self._multi_variables = False
        for name, value in variables.items():
            await self.set_variable(channel_id, name, value)

    async def get_variable(self, channel_id: str, variable: str) -> str:
        """GET /channels/{channelId}/variable: the variable's value."""
        answer = await self.request("GET", f"/channels/{_segment(channel_id)}/variable",
                                    params={"variable": variable})
        return answer["value"]

    # -- bridges ---------------------------------------------------------------

    async def create_bridge(
        self, type: str | Iterable[str] = "mixing", *, bridge_id: str | None = None, name: str | None = None
    ) -> dict:
        """POST /bridges (``type``: mixing, holding, dtmf_events, proxy_media,
        video_sfu, video_single, sdp_label)."""
        return await self.request("POST", "/bridges", params={
            "type": _list([type] if isinstance(type, str) else type),
            "bridgeId": bridge_id, "name": name,
        })

    async def add_channel(
        self,
        bridge_id: str,
        channel: str | Iterable[str],
        *,
        role: str | None = None,
        absorb_dtmf: bool | None = None,
        mute: bool | None = None,
        inhibit_connected_line_updates: bool | None = None,
    ) -> None:
        """POST /bridges/{bridgeId}/addChannel."""
        await self.request("POST", f"/bridges/{_segment(bridge_id)}/addChannel", params={
            "channel": [channel] if isinstance(channel, str) else list(channel), "role": role,
            "absorbDTMF": absorb_dtmf, "mute": mute,
            "inhibitConnectedLineUpdates": inhibit_connected_line_updates,
        })

    async def remove_channel(self, bridge_id: str, channel: str | Iterable[str]) -> None:
        """POST /bridges/{bridgeId}/removeChannel."""
        await self.request("POST", f"/bridges/{_segment(bridge_id)}/removeChannel", params={
            "channel": [channel] if isinstance(channel, str) else list(channel),
        })

    async def destroy_bridge(self, bridge_id: str) -> None:
        """DELETE /bridges/{bridgeId}."""
        await self.request("DELETE", f"/bridges/{_segment(bridge_id)}")

    # -- playbacks and recordings ------------------------------------------------

    async def stop_playback(self, playback_id: str) -> None:
        """DELETE /playbacks/{playbackId}."""
        await self.request("DELETE", f"/playbacks/{_segment(playback_id)}")

    async def stop_recording(self, name: str) -> None:
        """POST /recordings/live/{recordingName}/stop: stop and store it."""
        await self.request("POST", f"/recordings/live/{_segment(name)}/stop")

    async def get_stored_recording(self, name: str) -> dict:
        """GET /recordings/stored/{recordingName}."""
        return await self.request("GET", f"/recordings/stored/{_segment(name)}")

    async def stored_recording_file(self, name: str, *, timeout: float | None = None) -> bytes:
        """GET /recordings/stored/{recordingName}/file: the audio bytes."""
        return await self._send("GET", f"/recordings/stored/{_segment(name)}/file",
                                params=None, json=None, timeout=timeout)

    async def delete_stored_recording(self, name: str) -> None:
        """DELETE /recordings/stored/{recordingName}."""
        await self.request("DELETE", f"/recordings/stored/{_segment(name)}")


def _decoded(body: bytes) -> Any:
    if not body:
        return None
    try:
        return _json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _list(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def _error_message(body: bytes, reason: str | None) -> str:
    """ARI's error text: the JSON body's ``message``, else the body, else
    the HTTP reason phrase."""
    text = body.decode("utf-8", "replace").strip()
    try:
        decoded = _json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return decoded["message"]
    return text or (reason or "")
