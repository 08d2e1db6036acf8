"""The daily spend limit alert through the wired control plane: the call
controller `make run` starts hears from admission that a call is stopped by
its account's daily limit, and the runtime's hook emails the subscriber
through the Notifier, the outbox and the SMTP relay.

Contract: paid calls stop at the account's daily spend limit until
midnight (Romania's time) and the subscriber is told, once a day.
Invariant 5: every notification is sent at least once and, by its dedup
key, at most once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from billing import ledger, reservations
from notify.outbox import next_due_at
from tests.integration.calls.support import PER_SECOND_MICRO, per_second_tariff, wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]

SUBSCRIBER_EMAIL = "ana.pop@example.ro"
PAID_NUMBER = "0712345678"  # a Romanian mobile: 0.01 EUR a second on the test plan
DAILY_LIMIT = "0.06"  # EUR: six seconds of talk a day
DAILY_LIMIT_MICRO = 6 * PER_SECOND_MICRO
ALERT_SUBJECT = "Limita zilnică de cheltuieli a fost atinsă"  # notify/templates/ro/daily_limit.txt
FIRST_CALL_TALKS_S = 2.0  # hung up by the caller, leaving part of the day's limit
EMAIL_ARRIVES_S = 15.0
CDR_SETTLED_S = 15.0  # Asterisk writes the CDR, the plane's tailer reads it each second


def daily_limit_emails(wired) -> list:
    """What the SMTP server accepted with the daily limit alert's subject."""
    return [a for a in wired.mail.accepted if a.message["Subject"] == ALERT_SUBJECT]


async def settled(wired, timeout: float = 15.0) -> None:
    """Return once no call is live, no daily-limit hook is still running and
    the outbox has nothing left to send."""
    deadline = time.monotonic() + timeout
    while True:
        hooks = [t for t in asyncio.all_tasks() if t.get_name().startswith("on_daily_limit-") and not t.done()]
        if not wired.plane.calls.live() and not hooks and await next_due_at(wired.plane.engine) is None:
            return
        assert time.monotonic() < deadline, f"not settled: calls {wired.plane.calls.live()}, hooks {hooks}"
        await asyncio.sleep(0.05)


async def test_reaching_the_daily_limit_emails_the_subscriber_once_a_day(wired, carrier, sip_phone):
    """Daily limit 0.06 EUR at 0.01 EUR/s. A first call's grant is the
    whole limit, so the controller's next extension is refused for the
    daily limit: the subscriber gets the alert by email (to her address,
    in Romanian, naming the limit). She hangs up after 2 s; a second call
    is granted what is left and cut at the limit, its extension refused
    for the daily limit again; a third call is refused at once. The SMTP
    server still has exactly one alert: one email a day."""
    carrier_phone, answering = carrier
    plan = await per_second_tariff(wired.plane.engine)
    account_id, endpoint = await wired.new_subscriber("ana", SUBSCRIBER_EMAIL, daily_limit=DAILY_LIMIT, tariff=plan)
    await wired.new_top_up(account_id, "1.00")
    phone = await wired.registered_phone(sip_phone, endpoint)

    first = await phone.call(PAID_NUMBER)
    await phone.wait_state("CONFIRMED", first)
    await asyncio.sleep(FIRST_CALL_TALKS_S)
    await phone.hangup(first)
    await phone.wait_state("DISCONNECTED", first)
    await wait_until(lambda: daily_limit_emails(wired), timeout=EMAIL_ARRIVES_S)
    (alert,) = daily_limit_emails(wired)
    assert alert.recipients == (SUBSCRIBER_EMAIL,) and alert.message["To"] == SUBSCRIBER_EMAIL
    assert "0,06 EUR" in alert.message.get_body(preferencelist=("plain",)).get_content()

    # the first call is charged and its reservation settled: the rest of the limit is free again
    async def first_call_settled() -> bool:
        return (await reservations.live_reservations(wired.plane.engine, account_id) == []
                and await ledger.spent_today_micro(wired.plane.engine, account_id) > 0)

    await wait_until(first_call_settled, timeout=CDR_SETTLED_S)
    spent = await ledger.spent_today_micro(wired.plane.engine, account_id)
    assert 0 < spent < DAILY_LIMIT_MICRO

    second = await phone.call(PAID_NUMBER)
    await phone.wait_state("CONFIRMED", second)
    answered_at = time.monotonic()
    await phone.wait_state("DISCONNECTED", second, timeout=15)  # ended by the control plane, at the limit
    left_s = (DAILY_LIMIT_MICRO - spent) // PER_SECOND_MICRO  # whole seconds: per-second billing
    assert abs(time.monotonic() - answered_at - left_s) < 2

    third = await phone.call(PAID_NUMBER)
    refused = await phone.wait_state("DISCONNECTED", third, timeout=15)
    assert "CONFIRMED" not in refused.states and refused.code == 403
    assert len(answering.answered) == 2  # the third never reached the carrier

    await settled(wired)
    assert len(daily_limit_emails(wired)) == 1
