"""/api/v1's shapes for the email outbox (:mod:`web.api.outbox_routes`):
where each email stands, never its content."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import Field

from .schemas import PageQuery, _Out


class OutboxQuery(PageQuery):
    state: Literal["pending", "dead"] = Field("dead", description="dead (given up on, default) or pending")


class OutboxEntryOut(_Out):
    id: int
    kind: str
    recipient: str
    account_id: Optional[int]
    state: str
    attempts: int
    next_attempt_at: Optional[datetime]
    last_error: Optional[str] = Field(description="the last failure (SMTP's answer), at most 2,000 characters")
    created_at: datetime
    sent_at: Optional[datetime]


class OutboxPage(_Out):
    items: list[OutboxEntryOut]
    next_cursor: Optional[str]
