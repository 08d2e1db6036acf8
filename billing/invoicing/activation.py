"""An account inactive until its first invoice is paid (contract art. 7.1.1):
made ``inactive`` as its one-off invoice is issued, ``active`` by the
payment that settles that invoice in full, each in the transaction of the
invoice or the payment. Only an ``inactive`` account is activated: a
suspended one stays suspended (reinstatement is the operator's)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.accounts import ACTIVE, INACTIVE
from billing.invoicing.records import ONE_OFF, Invoice
from billing.tables import accounts


async def deactivate_until_paid(conn: AsyncConnection, account_id: int) -> bool:
    """Make an ``active`` account ``inactive``, in ``conn``'s transaction; True when it was."""
    result = await conn.execute(
        update(accounts).where(accounts.c.id == account_id, accounts.c.status == ACTIVE).values(status=INACTIVE)
    )
    return bool(result.rowcount)


async def activate_when_settled(conn: AsyncConnection, invoice: Invoice, unpaid_after_micro: int) -> bool:
    """Make ``invoice``'s account active when the invoice is one-off, now
    paid in full (``unpaid_after_micro`` EUR left: 0) and the account
    ``inactive``; in the payment's transaction. True when it was activated."""
    if invoice.kind != ONE_OFF or unpaid_after_micro > 0:
        return False
    result = await conn.execute(
        update(accounts).where(accounts.c.id == invoice.account_id, accounts.c.status == INACTIVE)
        .values(status=ACTIVE)
    )
    return bool(result.rowcount)
