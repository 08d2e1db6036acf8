"""The tables admission owns: each account's call policy, the calls
live right now (for the concurrent-call limit, and so a restarted control
plane knows what it was doing), and how many calls were refused a day, by
account and reason (what the console's dashboard shows)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, Integer, MetaData, String, Table, Text

from sqlbase import UtcDateTime, utc_now
from sqlbase.naming import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

account_policies = Table(
    "account_policies",
    metadata,
    # billing's accounts.id (no cross-package foreign key: each package owns its tables)
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    # space-separated addresses and CIDRs; empty: any source address
    Column("allowed_networks", Text, nullable=False, default="", server_default=""),
    Column("premium_enabled", Boolean, nullable=False, default=False, server_default="0"),
    Column("international_enabled", Boolean, nullable=False, default=True, server_default="1"),
    # space-separated prefixes of normalised numbers (e.g. 4021 44)
    Column("blocked_prefixes", Text, nullable=False, default="", server_default=""),
    Column("max_concurrent_calls", Integer, nullable=False, default=2, server_default="2"),
    Column("updated_at", UtcDateTime(), nullable=False, default=utc_now),
)

live_calls = Table(
    "live_calls",
    metadata,
    # the channel's uniqueid: also the reservation's call reference, which
    # CDR ingestion settles
    Column("call_ref", String(64), primary_key=True),
    Column("account_id", Integer, nullable=False),
    Column("number_class", String(24), nullable=False),
    Column("normalised", String(32), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False, default=utc_now),
    Column("reservation_id", Integer, nullable=True),
    Column("reserved_seconds", Integer, nullable=False, default=0),
    Column("free", Boolean, nullable=False),
    # when the call stops counting toward max_concurrent_calls even if
    # nobody said it ended (a FastAGI hangup lost): its start + the seconds
    # granted + admission's settle grace; NULL (rows older than the column):
    # counts until reconciliation finishes it
    Column("expires_at", UtcDateTime(), nullable=True),
    Index("ix_live_calls_account_id", "account_id"),
)

NO_ACCOUNT = 0
"""The account id a refusal is counted under when no account was found (an unknown endpoint)."""

# calls refused per Europe/Bucharest day, account and reason; counted in the
# refusing decision's own transaction (a refusal rolled back is not counted)
refusals_by_day = Table(
    "refusals_by_day",
    metadata,
    Column("day", Date, primary_key=True),
    # billing's accounts.id, or NO_ACCOUNT
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("reason", String(32), primary_key=True),
    Column("refusals", Integer, nullable=False),
)
