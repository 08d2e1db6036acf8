"""Subscriber and SIP endpoint changes the API and the console share: what
the audit log compares of each, and terminating a subscriber (contract end
recorded, the plan of its own accounts ended after the last day, its
endpoints disabled) as one step on the caller's audited change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from billing import subscriptions
from billing.account_admin import accounts_of_subscriber
from provisioning import lifecycle
from provisioning import services as provisioning
from provisioning.records import Endpoint, Subscriber
from web import admin_operations as operations


def subscriber_view(subscriber: Subscriber) -> dict[str, Any]:
    """What the audit log compares of a subscriber."""
    ended = subscriber.contract_ended_on
    return {"name": subscriber.name, "email": subscriber.email, "language": subscriber.language,
            "contract_ended_on": None if ended is None else ended.isoformat()}


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    """What the audit log compares of a SIP endpoint (never its credential)."""
    return {"username": endpoint.username, "display_name": endpoint.display_name,
            "caller_id_number": endpoint.caller_id_number, "account_code": endpoint.account_code,
            "profile": endpoint.profile, "enabled": endpoint.disabled_at is None}


@dataclass(frozen=True)
class Termination:
    """A terminated subscriber, the endpoints it disabled, the accounts whose plan it ended,
    and the audit entry's fields."""

    subscriber: Subscriber
    endpoints_disabled: list[str]
    plans_ended: list[int]
    before: dict[str, Any]
    after: dict[str, Any]


async def terminate(conn: AsyncConnection, subscriber_id: int, last_day: date) -> Termination:
    """Record ``last_day`` as the contract's last day, end the service plan
    of the subscriber's own accounts after it, and disable their SIP
    endpoints; the owners' errors when unknown or terminated already.
    Asterisk is the caller's to tell, after the commit."""
    before = await provisioning.find_subscriber(conn, subscriber_id)
    endpoints = await provisioning.endpoints_of_subscriber(conn, subscriber_id)
    after = await lifecycle.terminate_subscriber(conn, subscriber_id, last_day=last_day)
    ended = []
    for account in await accounts_of_subscriber(conn, subscriber_id):
        history = await subscriptions.plan_history(conn, account.id)
        if subscriptions.plan_on(history, last_day) is not None:  # no plan that day: none to end
            await operations.end_plan(conn, account.id, last_day)
            ended.append(account.id)
    disabled = [e.username for e in endpoints if e.disabled_at is None]
    return Termination(after, disabled, ended,
                       {**subscriber_view(before), "endpoints_enabled": len(disabled)},
                       {**subscriber_view(after), "endpoints_enabled": 0, "plans_ended": len(ended)})
