"""Alembic migrations for every package's tables, run through
``controlplane.migrate`` (there is no alembic.ini).

One migration history for the whole database: each package declares its
tables on its own ``MetaData`` (with a constraint naming convention, which
Alembic's batch mode needs on SQLite) and adds its revisions to
``versions/``, named ``NNNN_<what>.py`` with ``revision = "NNNN"``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData

from access.tables import metadata as access_metadata
from billing.invoicing.tables import metadata as invoicing_metadata
from billing.tables import metadata as billing_metadata
from admission.tables import metadata as admission_metadata
from notify.tables import metadata as notify_metadata
from provisioning.tables import metadata as provisioning_metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Every package's MetaData, compared by autogenerate and by the schema test.
TARGET_METADATA: tuple[MetaData, ...] = (
    provisioning_metadata, billing_metadata, notify_metadata, admission_metadata,
    invoicing_metadata, access_metadata,
)
