"""Marketing email is never sent to an account without recorded consent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from notify import outbox
from notify.consent import (
    CONSENT_WITHDRAWN,
    has_marketing_consent,
    record_marketing_consent,
    withdraw_marketing_consent,
)
from notify.errors import MarketingConsentMissingError
from notify.messages import OutgoingEmail
from notify.tables import outbox as outbox_table
from tests.integration.notify.support import alert


def newsletter(account_id: int = 7) -> OutgoingEmail:
    return alert(
        f"newsletter:2025-07:{account_id}",
        kind="newsletter",
        subject="Noutăți ClickPhone",
        marketing=True,
        account_id=account_id,
    )


async def stored_emails(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(outbox_table))


async def test_marketing_email_to_an_account_without_consent_is_refused(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(MarketingConsentMissingError):
        await outbox.enqueue(engine, newsletter())

    assert await stored_emails(engine) == 0


async def test_marketing_email_to_an_account_with_recorded_consent_is_queued(
    engine: AsyncEngine,
) -> None:
    await record_marketing_consent(engine, 7, source="web form, 2025-06-30")

    email_id = await outbox.enqueue(engine, newsletter())

    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "pending"


async def test_consent_of_another_account_does_not_count(engine: AsyncEngine) -> None:
    await record_marketing_consent(engine, 8, source="web form")

    with pytest.raises(MarketingConsentMissingError):
        await outbox.enqueue(engine, newsletter(account_id=7))


async def test_marketing_email_after_consent_is_withdrawn_is_refused(
    engine: AsyncEngine,
) -> None:
    await record_marketing_consent(engine, 7, source="web form")
    await withdraw_marketing_consent(engine, 7)

    with pytest.raises(MarketingConsentMissingError):
        await outbox.enqueue(engine, newsletter())
    assert not await has_marketing_consent(engine, 7)


async def test_withdrawing_consent_cancels_the_marketing_email_still_waiting(
    engine: AsyncEngine,
) -> None:
    await record_marketing_consent(engine, 7, source="web form")
    email_id = await outbox.enqueue(engine, newsletter())
    service_id = await outbox.enqueue(engine, alert())

    cancelled = await withdraw_marketing_consent(engine, 7)

    assert cancelled == 1
    entry = await outbox.outbox_entry(engine, email_id)
    assert entry is not None and entry.state == "dead" and entry.last_error == CONSENT_WITHDRAWN
    service = await outbox.outbox_entry(engine, service_id)
    assert service is not None and service.state == "pending"


async def test_consent_recorded_again_after_withdrawal_allows_marketing_email(
    engine: AsyncEngine,
) -> None:
    await record_marketing_consent(engine, 7, source="web form")
    await withdraw_marketing_consent(engine, 7)

    await record_marketing_consent(engine, 7, source="phone call, 2025-07-02")

    assert await has_marketing_consent(engine, 7)
    await outbox.enqueue(engine, newsletter())


async def test_service_email_needs_no_consent(engine: AsyncEngine) -> None:
    await outbox.enqueue(engine, alert())

    assert await stored_emails(engine) == 1
