"""SQLAlchemy building blocks every package's tables and services share:
an aware-UTC timestamp type, the engine-or-connection convention, and the
INSERT … ON CONFLICT DO NOTHING both databases speak; the constraint naming
convention (:mod:`sqlbase.naming`), the ``created_at`` column
(:mod:`sqlbase.columns`) and the bulk INSERT/SELECT helpers
(:mod:`sqlbase.bulk`) live beside them. Depends on SQLAlchemy only, so
every package may use it."""

from .sessions import Db, dialect_insert, reading, transaction
from .types import UtcDateTime, utc_now

__all__ = ["Db", "UtcDateTime", "dialect_insert", "reading", "transaction", "utc_now"]
