"""What a call flow reads from a channel: the endpoint it comes from, the
address its SIP packets come from, the number it dialled — and the
dial strings the flows build, each checked so that no subscriber text can
become dial-string syntax (invariant 7)."""

from __future__ import annotations

import re
from typing import Any

from .client import AriClient
from .errors import AriError

ENDPOINT_VARIABLE = "CP_ENDPOINT"
"""On a channel that is not a PJSIP one (a Local channel our own dialplan
or control plane made, e.g. click-to-call or the benchmark), the endpoint
whose account pays; subscribers cannot set it on their own PJSIP channels,
whose endpoint is always read from the channel's name."""

_PJSIP_NAME = re.compile(r"PJSIP/(?P<endpoint>[A-Za-z0-9_.+\-@]{1,80})-[0-9a-f]{8}\Z")
_NUMBER = re.compile(r"[0-9]{1,24}\Z")
_ENDPOINT = re.compile(r"[A-Za-z0-9_.+\-]{1,80}\Z")


def pjsip_endpoint(channel: dict[str, Any]) -> str | None:
    """Return the PJSIP endpoint of a channel named ``PJSIP/<endpoint>-<seq>``,
    or None for any other channel."""
    match = _PJSIP_NAME.match(channel.get("name", ""))
    return match.group("endpoint") if match else None


async def endpoint_of(client: AriClient, channel: dict[str, Any]) -> str:
    """Return the endpoint the call comes from ('' when unknown)."""
    endpoint = pjsip_endpoint(channel)
    if endpoint is not None:
        return endpoint
    try:
        value = await client.get_variable(channel["id"], ENDPOINT_VARIABLE)
    except AriError:
        return ""
    return value if _ENDPOINT.match(value or "") else ""


def host_of(address: str) -> str:
    """Return the host of ``host:port``, ``[v6]:port`` or a bare address."""
    address = address.strip()
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


async def source_address(client: AriClient, channel: dict[str, Any]) -> str:
    """Return the address the channel's SIP packets come from, without the
    port ('' when the channel is not a PJSIP one)."""
    if pjsip_endpoint(channel) is None:
        return ""
    try:
        return host_of(await client.get_variable(channel["id"], "CHANNEL(pjsip,remote_addr)"))
    except AriError:
        return ""


def dialled(channel: dict[str, Any]) -> str:
    """Return the number the caller dialled: the channel's dialplan extension."""
    return str(channel.get("dialplan", {}).get("exten", ""))


def carrier_dial_string(template: str, number: str) -> str:
    """Return the carrier leg's dial string for a normalised number; refuse
    anything but digits (the number came from a subscriber)."""
    if not _NUMBER.match(number):
        raise ValueError(f"not a number to send to the carrier: {number!r}")
    return template.format(number=number)


def endpoint_contacts_function(endpoint: str) -> str:
    """Return the dialplan function that lists every registered contact of
    ``endpoint`` as dial strings (``PJSIP/ep/sip:...&PJSIP/ep/sip:...``)."""
    if not _ENDPOINT.match(endpoint):
        raise ValueError(f"not an endpoint name: {endpoint!r}")
    return f"PJSIP_DIAL_CONTACTS({endpoint})"


def split_contacts(value: str) -> list[str]:
    """Return the dial strings of a PJSIP_DIAL_CONTACTS value."""
    return [part for part in (value or "").split("&") if part.startswith("PJSIP/")]
