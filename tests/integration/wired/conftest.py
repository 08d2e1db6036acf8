"""Fixtures of the wired control plane tests.

``wired``    a started ``ControlPlane`` on its own copy of the testbed root
             and a SQLite state folder, relaying to an SMTP server of the
             test's; stopped at the end with no Asterisk process and no
             mount left behind.
``carrier``  the carrier trunk's phone, answering every call it gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from controlplane.runtime import ControlPlane
from tests.fixtures.asterisk import PhoneEndpoint, phone_endpoint
from tests.fixtures.sip_phone import SipPhone
from tests.integration.calls.support import AutoAnswer

from .support import AcceptingHandler, admin_post, running_plane, started_carrier


@dataclass
class Wired:
    """A started ControlPlane, the SMTP server it relays to, and the port
    its carrier trunk points at."""

    plane: ControlPlane
    mail: AcceptingHandler
    carrier_port: int

    async def new_subscriber(self, username: str, email: str, **terms: Any) -> tuple[int, PhoneEndpoint]:
        """Create a subscriber with its endpoint and account through the
        admin API (``terms``: its other fields, e.g. daily_limit, tariff);
        return the account's id and the endpoint as its phone registers."""
        created = await admin_post(self.plane, "/admin/subscribers", {
            "name": username.title(), "email": email, "username": username,
            "caller_id_number": "2101", "account_code": f"{username}01", **terms,
        })
        endpoint = created["endpoint"]
        return created["account"]["id"], phone_endpoint(
            endpoint["username"], endpoint["password"], endpoint["display_name"], endpoint["caller_id_number"],
            endpoint["account_code"], realm=self.plane.settings.sip_realm)

    async def admin_post(self, path: str, body: dict[str, Any], *, status: int = 201) -> dict[str, Any]:
        """POST to the plane's admin API with its admin token (see support.admin_post)."""
        return await admin_post(self.plane, path, body, status=status)

    async def new_top_up(self, account_id: int, euros: str) -> None:
        """Credit the account through the admin API."""
        await self.admin_post(f"/admin/accounts/{account_id}/top-ups", {"amount": euros})

    async def registered_phone(self, sip_phone, endpoint: PhoneEndpoint) -> SipPhone:
        """The endpoint's phone, registered with the plane's Asterisk."""
        phone = await sip_phone(endpoint, registrar_port=self.plane.settings.sip_port)
        await phone.register()
        return phone


@pytest.fixture
async def wired(private_root: Path, tmp_path: Path) -> AsyncIterator[Wired]:
    """The ControlPlane as `make run` wires it, on a private copy of the testbed root."""
    async with running_plane(private_root, tmp_path / "state") as (plane, mail, carrier_port):
        yield Wired(plane, mail, carrier_port)


@pytest.fixture
async def carrier(wired: Wired, tmp_path: Path) -> AsyncIterator[tuple[SipPhone, AutoAnswer]]:
    """The carrier's phone and the AutoAnswer that answers its calls (their
    keys in ``answered``)."""
    phone = await started_carrier(wired.carrier_port, tmp_path / "pjsua-carrier.log")
    answering = AutoAnswer(phone)
    try:
        yield phone, answering
    finally:
        await answering.close()
        await phone.close()
        phone.kill()
