"""Columns every package's tables declare the same way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, func

from .types import UtcDateTime, utc_now


def created_at(name: str = "created_at") -> Column[datetime]:
    """A NOT NULL aware-UTC time of when the row was written (``created_at``,
    or ``name``): set by the services (:func:`~sqlbase.types.utc_now`) and by
    the database's ``now()`` for rows inserted any other way."""
    return Column(name, UtcDateTime(), nullable=False, default=utc_now, server_default=func.now())
