"""One audited change made from a console form: the session user's actor,
the admin app's notifier, and the owners' refusals turned into AdminErrors
(the console's middleware answers those as pages naming the field)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from aiohttp import web

from web.admin_input import refusals
from web.audited import Change, audited_change

from .context import Viewer, services


@asynccontextmanager
async def console_change(request: web.Request, who: Viewer, *, action: str, resource: str,
                         resource_id: Optional[str | int] = None) -> AsyncIterator[Change]:
    """The change's transaction and its one audit entry by ``who``
    (:func:`web.audited.audited_change`); a refusal rolls both back."""
    svc = services(request)
    with refusals():
        async with audited_change(svc.engine, who.actor, svc.notifier, action=action, resource=resource,
                                  resource_id=resource_id) as change:
            yield change
