"""Query fragments of provisioning's tables, for a statement that must span
packages in one round trip (admission's decision reads the endpoint's
account with its money and policy at once). Everything else calls
:mod:`provisioning.services`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from provisioning.tables import sip_endpoints


def endpoint_account_code(username: Any) -> Any:
    """The billing account code of the SIP endpoint ``username`` (a value or
    a bind parameter) as a scalar subquery: NULL when there is no such
    endpoint or it has no account."""
    return (
        select(sip_endpoints.c.account_code)
        .where(sip_endpoints.c.username == username)
        .scalar_subquery()
    )
