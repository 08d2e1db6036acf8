"""The demo subscriber of the embedded default: a SIP endpoint and a
prepaid account with a little credit, so a newcomer's first call through
`make run` is decided, connected and rated like any other."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.errors import AccountCodeTakenError
from provisioning import services as provisioning
from provisioning.credentials import DEFAULT_REALM
from provisioning.records import Endpoint

DEMO_CREDIT_MICRO = 5_000_000  # 5 EUR
DEMO_TOPUP_KEY = "demo:initial-credit"


async def ensure_demo_subscriber(engine: AsyncEngine, realm: str = DEFAULT_REALM) -> Endpoint:
    """Return the demo endpoint, creating it (its credential in ``realm``),
    its account and its first top-up once (idempotent; safe from several
    processes). Its ``password`` is set only when this call created it: it is
    shown that once and is not stored."""
    endpoint = await provisioning.ensure_demo_subscriber(engine, realm)
    code = endpoint.account_code or provisioning.DEMO_ACCOUNT_CODE
    account = await ledger.find_account(engine, code)
    if account is None:
        try:
            account = await ledger.open_account(engine, code=code, subscriber_id=endpoint.subscriber_id)
        except AccountCodeTakenError:  # another process opened it first
            account = await ledger.find_account(engine, code)
    await ledger.top_up(engine, account.id, DEMO_CREDIT_MICRO, reference="demo credit",
                        idempotency_key=DEMO_TOPUP_KEY)
    return endpoint
