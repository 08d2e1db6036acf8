"""The demo subscriber of the embedded default: a SIP endpoint and a
prepaid account with a little credit, so a newcomer's first call through
`make run` is decided, connected and rated like any other.

The demo account also has a small monthly fee (``DEMO_MONTHLY_FEE_MICRO``)
and is opened as of the 1st of the previous month (Europe/Bucharest), so
that last month can be invoiced on the first day: README's "A first
invoice" issues the demo statement with ``clickphone invoice run`` (an
account opened after a period has nothing to invoice for it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger
from billing.errors import AccountCodeTakenError
from billing.tariffs import CONTRACT_TZ
from provisioning import services as provisioning
from provisioning.credentials import DEFAULT_REALM
from provisioning.records import Endpoint

DEMO_CREDIT_MICRO = 5_000_000  # 5 EUR
DEMO_MONTHLY_FEE_MICRO = 1_000_000  # 1 EUR, invoiced (in arrears) with VAT from the credit
DEMO_TOPUP_KEY = "demo:initial-credit"


def demo_opened_at(now: datetime | None = None) -> datetime:
    """Return midnight of the 1st of the month before ``now``'s, in Europe/Bucharest."""
    today = (now or datetime.now(CONTRACT_TZ)).astimezone(CONTRACT_TZ).date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return datetime(first.year, first.month, first.day, tzinfo=CONTRACT_TZ)


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
            account = await ledger.open_account(
                engine, code=code, subscriber_id=endpoint.subscriber_id,
                monthly_fee_micro=DEMO_MONTHLY_FEE_MICRO, now=demo_opened_at(),
            )  # fmt: skip
        except AccountCodeTakenError:  # another process opened it first
            account = await ledger.find_account(engine, code)
    await ledger.top_up(engine, account.id, DEMO_CREDIT_MICRO, reference="demo credit",
                        idempotency_key=DEMO_TOPUP_KEY)
    return endpoint
