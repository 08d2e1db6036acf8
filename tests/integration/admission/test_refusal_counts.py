"""Refused calls are counted by day, account and reason in the refusing
decision's transaction (the console dashboard's "calls refused by
reason"); allowed calls, 112 included, are not counted."""

from __future__ import annotations

from datetime import timedelta

from admission.refusals import refusals_on
from admission.service import Admission
from admission.tables import NO_ACCOUNT
from billing import ledger
from billing.accounts import SUSPENDED
from billing.subscriptions import contract_day

from .test_decide import EUR, T0, call, subscriber_with_account


async def test_each_refusal_is_counted_under_its_day_account_and_reason(engine) -> None:
    """Two credit refusals and one unknown endpoint today, one suspension
    refusal tomorrow: each counted where it belongs; 112 is not a refusal."""
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    try:
        _, account = await subscriber_with_account(engine)
        for _ in range(2):
            assert (await admission.decide(call("0712345678"), now=T0)).reason.code == "insufficient_credit"
        assert (await admission.decide(call("0712345678", endpoint="ep-nobody"), now=T0)).reason.code \
            == "unknown_endpoint"
        assert (await admission.decide(call("112"), now=T0)).allowed
        await ledger.set_account_status(engine, account.id, SUSPENDED)
        tomorrow = T0 + timedelta(days=1)
        assert (await admission.decide(call("0712345678"), now=tomorrow)).reason.code == "account_suspended"
    finally:
        admission.close()
    today = contract_day(T0)
    assert await refusals_on(engine, today) == {"insufficient_credit": 2, "unknown_endpoint": 1}
    assert await refusals_on(engine, today, account_id=account.id) == {"insufficient_credit": 2}
    assert await refusals_on(engine, today, account_id=NO_ACCOUNT) == {"unknown_endpoint": 1}
    assert await refusals_on(engine, contract_day(tomorrow)) == {"account_suspended": 1}


async def test_an_allowed_call_counts_no_refusal(engine) -> None:
    """A paid call that goes ahead leaves the day's refusals empty."""
    admission = Admission(engine, chunk_seconds=300, max_seconds=3600)
    try:
        await subscriber_with_account(engine, balance=5 * EUR)
        assert (await admission.decide(call("0712345678"), now=T0)).allowed
    finally:
        admission.close()
    assert await refusals_on(engine, contract_day(T0)) == {}
