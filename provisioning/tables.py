"""The tables provisioning owns: subscribers and their SIP endpoints.

Schema changes go through a migration in controlplane/migrations/versions;
a test checks that the migrated schema matches what is declared here.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

from sqlbase.columns import created_at
from sqlbase.types import UtcDateTime
from sqlbase.naming import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("email", String(254), nullable=False),
    Column("language", String(8), nullable=False, default="ro", server_default="ro"),
    created_at(),
    # Termination: the contract's last day (retention is counted from it)
    # and when it was recorded; both null while the contract runs.
    Column("contract_ended_on", Date, nullable=True),
    Column("terminated_at", UtcDateTime(), nullable=True),
)


def _owned_by_subscriber() -> Column[int]:
    # an endpoint or a DID has no meaning without its subscriber: deleted with it
    return Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
                  nullable=False, index=True)


sip_endpoints = Table(
    "sip_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    _owned_by_subscriber(),
    Column("username", String(64), nullable=False, unique=True),
    # Never the password: HA1 = MD5(username:realm:password) in hex, what
    # Asterisk's digest auth needs, and the realm it was made with
    # (provisioning.credentials).
    Column("md5_cred", String(32), nullable=False),
    Column("realm", String(64), nullable=False),
    Column("display_name", String(64), nullable=False),
    Column("caller_id_number", String(20), nullable=False),
    # billing's account code: the CDR's accountcode, and whose credit pays
    Column("account_code", String(40), nullable=True, index=True),
    created_at(),
    # the dialplan profile its calls go through (provisioning.endpoints.DIALPLAN_PROFILES)
    Column("profile", String(32), nullable=False, default="standard", server_default="standard"),
    # set: left out of Asterisk's configuration, so it no longer registers
    Column("disabled_at", UtcDateTime(), nullable=True),
)

# Our own numbers: calls from the carrier to a DID ring its subscriber's
# endpoints; calls between DIDs are on-net.
dids = Table(
    "dids",
    metadata,
    Column("number", String(20), primary_key=True),  # normalised E.164 digits, no '+'
    _owned_by_subscriber(),
    Column("ring_seconds", Integer, nullable=False, default=25, server_default="25"),
    Column("voicemail_enabled", Boolean, nullable=False, default=True, server_default="1"),
    created_at(),
)
