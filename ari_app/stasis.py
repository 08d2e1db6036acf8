"""The Stasis application: routes each channel entering the app to the call
flow named by its first Stasis argument (``Stasis(app,outbound)``).

Flows are registered by the composition root; a channel whose flow is not
known is hung up at once and logged, never left hanging in the app.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping

from .client import AriClient
from .errors import AriError

log = logging.getLogger(__name__)

Flow = Callable[[AriClient, dict[str, Any], list[str]], Awaitable[None]]


class StasisApp:
    """Dispatches StasisStart events to call flows by name."""

    def __init__(self, client: AriClient, flows: Mapping[str, Flow] | None = None):
        self.client = client
        self.flows = dict(flows or {})
        client.on("StasisStart", self._on_stasis_start)

    async def _on_stasis_start(self, event: dict[str, Any]) -> None:
        channel = event["channel"]
        args = list(event.get("args") or [])
        flow_name = args[0] if args else ""
        flow = self.flows.get(flow_name)
        log.info(
            "call entered the app",
            extra={"channel": channel["id"], "flow": flow_name,
                   "caller": channel.get("caller", {}).get("number")},
        )
        if flow is None:
            log.warning("no call flow for this call; hanging up",
                        extra={"channel": channel["id"], "flow": flow_name})
            try:
                await self.client.hangup(channel["id"], reason="congestion")
            except AriError as exc:
                log.info("channel already gone", extra={"channel": channel["id"], "error": str(exc)})
            return
        await flow(self.client, channel, args[1:])
