"""A payment registered by ``clickphone payments add`` is confirmed by email,
through the outbox and a real SMTP server (aiosmtpd), on both databases.

Issue 10, defect 17: the privacy policy lists "confirmation that a payment
was registered" among the emails; the CLI recorded the payment and sent
nothing. Dedup keys come from identifiers the system owns (the payment id).
"""

from __future__ import annotations

import asyncio
from datetime import date

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from controlplane.cli import main
from notify.catcher import MaildirCatcher
from notify.smtp import SmtpSender
from notify.tables import outbox
from provisioning import services as provisioning
from tests.integration.notify.support import new_dispatcher, smtp_config_for, text_part

from .support import AUGUST_1, SUPPLIER, bnr_rate, invoicing, open_account, run_time


async def test_payments_add_emails_a_confirmation_per_payment(engine: AsyncEngine, db_url: str, tmp_path) -> None:
    subscriber = await provisioning.create_subscriber(engine, name="Ana Popescu", email="ana@example.ro")
    await open_account(engine, subscriber_id=subscriber.id)
    await bnr_rate(engine, date(2025, 7, 31), "5.0720")
    await invoicing(engine).issue_month("2025-07", AUGUST_1, supplier=SUPPLIER, now=run_time(AUGUST_1))
    env = {"CLICKPHONE_DATABASE_URL": db_url, "CLICKPHONE_STATE_DIR": str(tmp_path / "state")}

    for _ in range(2):  # two payments with the same free-text reference: two emails
        result = await asyncio.to_thread(
            CliRunner().invoke, main,
            ["payments", "add", "--invoice", "CP-000001", "--amount", "1.50", "--currency", "EUR", "--date", "2025-08-05",
             "--reference", "OP 123 Plată"],
            env=env,
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    async with engine.connect() as conn:
        keys = (await conn.scalars(select(outbox.c.dedup_key).where(outbox.c.kind == "payment"))).all()
    assert sorted(keys) == ["payment:1", "payment:2"]
    catcher = MaildirCatcher(tmp_path / "maildir")
    await catcher.start()
    try:
        counts = await new_dispatcher(engine, SmtpSender(smtp_config_for(catcher.port))).dispatch_due()
        assert counts.sent == 3, counts  # the invoice and both confirmations
        confirmations = [m for m in catcher.messages() if "Plată înregistrată" in m["Subject"]]
    finally:
        await catcher.stop()
    assert len(confirmations) == 2
    for message in confirmations:
        assert message["To"] == "ana@example.ro"
        body = text_part(message)
        assert "1,50 EUR" in body and "CP-000001" in body and "OP 123 Plată" in body
