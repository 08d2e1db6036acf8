"""Wiring between the settings, the subscriber directory and asterisk_conf:
builds the Asterisk config and the testbed the control plane runs against."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import replace
from typing import Iterable
from urllib.parse import urlsplit

from asterisk_conf.password import crypt_sha512
from asterisk_conf.render import AsteriskConfig, AsteriskDirs, CarrierConf, EndpointConf
from asterisk_conf.testbed import Testbed, instance_dirs

from .settings import LOOPBACK_NETWORKS, Settings, agi_allowed_networks

log = logging.getLogger(__name__)

DEFAULT_INSTANCE = "main"

# Debian's own paths, for an Asterisk installed from the package (production).
DEBIAN_DIRS = AsteriskDirs(
    etc="/etc/asterisk", run="/var/run/asterisk", log="/var/log/asterisk",
    spool="/var/spool/asterisk", varlib="/var/lib/asterisk", db="/var/lib/asterisk",
    cache="/var/cache/asterisk",
)


def carrier_conf(settings: Settings) -> CarrierConf | None:
    """Return the carrier trunk from ``carrier_host`` (host[:port]), or None."""
    if not settings.carrier_host:
        return None
    host = settings.carrier_host.rsplit(":", 1)[0] if settings.carrier_host.count(":") == 1 else settings.carrier_host
    return CarrierConf(host=settings.carrier_host, match=host)


def asterisk_config(
    settings: Settings, endpoints: Iterable[EndpointConf], instance: str = DEFAULT_INSTANCE
) -> AsteriskConfig:
    """Return the config set's inputs for ``settings`` and these endpoints:
    the one place settings become an AsteriskConfig (``clickphone run``,
    ``clickphone asterisk up`` and ``render`` all come through here)."""
    return AsteriskConfig(
        system_name=settings.asterisk_system_name,
        dirs=instance_dirs(instance),
        ari_username=settings.ari_username,
        ari_password_crypt=crypt_sha512(settings.ari_password),
        ari_app=settings.ari_app,
        http_bind_address=settings.asterisk_http_bind_address,
        http_port=settings.asterisk_http_port,
        sip_port=settings.sip_port,
        sip_bind_address=settings.sip_bind_address,
        rtp_start=settings.rtp_port_start,
        rtp_end=settings.rtp_port_end,
        endpoints=tuple(endpoints),
        carrier=carrier_conf(settings),
        agi_host=settings.effective_agi_dialplan_host,
        agi_port=settings.agi_port,
        agi_secret=settings.agi_secret,
    )


def external_asterisk_config(settings: Settings) -> AsteriskConfig:
    """Return the config set's inputs (no endpoints yet) for a production
    Asterisk installed from Debian's package (its own paths)."""
    return replace(asterisk_config(settings, []), dirs=DEBIAN_DIRS)


def testbed_for(
    settings: Settings, endpoints: Iterable[EndpointConf], instance: str = DEFAULT_INSTANCE
) -> Testbed:
    """Return the local testbed Asterisk for these settings (not started)."""
    return Testbed(
        root=settings.effective_asterisk_root.resolve(),
        instance=instance,
        config=asterisk_config(settings, endpoints, instance),
        ari_password=settings.ari_password,
    )


async def agi_peer_networks(settings: Settings) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Return the networks the FastAGI server accepts connections from:
    ``agi_allowed_peers``, or when it is empty loopback plus, with an
    external Asterisk, the addresses ARI's host name resolves to now."""
    if settings.agi_allowed_peers.strip():
        return agi_allowed_networks(settings)
    networks = list(LOOPBACK_NETWORKS)
    if settings.asterisk_mode == "external":
        host = urlsplit(settings.effective_ari_url).hostname or ""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            log.warning("cannot resolve Asterisk's host for the FastAGI allowlist; loopback only",
                        extra={"host": host, "error": str(exc)})
            infos = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            networks.append(ipaddress.ip_network(address))
    return tuple(dict.fromkeys(networks))
