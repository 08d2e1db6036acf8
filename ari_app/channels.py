"""What a call flow reads from a channel: the endpoint it comes from, the
address its SIP packets come from, the number it dialled — and the
dial strings the flows build, each checked so that no subscriber text can
become dial-string syntax (invariant 7).

The dialplan may hand the first two over as ``name=value`` arguments of
the flow, which saves a request per call (each one costs Asterisk
milliseconds of CPU)::

    Stasis(app,outbound,src=${CHANNEL(pjsip,remote_addr)})   ; a PJSIP caller
    Stasis(app,outbound,endpoint=<endpoint>)                 ; a Local one

They are only as trusted as ``CP_ENDPOINT``: written by our dialplan, never
by a subscriber (a PJSIP channel's endpoint is always its name's). Without
them, the channel is asked.
"""

from __future__ import annotations

import re
from typing import Any

from .client import AriClient
from .errors import AriError

ENDPOINT_ARG = "endpoint"
SOURCE_ARG = "src"

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


def flow_hints(args: list[str]) -> dict[str, str]:
    """The ``name=value`` arguments of a flow (others are left out)."""
    hints: dict[str, str] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if sep and name:
            hints.setdefault(name.strip(), value.strip())
    return hints


async def endpoint_of(client: AriClient, channel: dict[str, Any], hints: dict[str, str] | None = None) -> str:
    """Return the endpoint the call comes from ('' when unknown): a PJSIP
    channel's from its name; another's from the flow's ``endpoint=``
    argument, else its ``CP_ENDPOINT`` variable."""
    endpoint = pjsip_endpoint(channel)
    if endpoint is not None:
        return endpoint
    if hints and ENDPOINT_ARG in hints:
        value = hints[ENDPOINT_ARG]
        return value if _ENDPOINT.match(value) else ""
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


async def source_address(client: AriClient, channel: dict[str, Any], hints: dict[str, str] | None = None) -> str:
    """Return the address the channel's SIP packets come from, without the
    port ('' when the channel is not a PJSIP one): the flow's ``src=``
    argument when the dialplan gave one, else the channel is asked."""
    if pjsip_endpoint(channel) is None:
        return ""
    if hints and hints.get(SOURCE_ARG):
        return host_of(hints[SOURCE_ARG])
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
