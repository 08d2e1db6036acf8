"""One sample of each notify event, for the tests that go over all of them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from notify.events import (
    AllowedIpsChanged,
    DailySpendLimitReached,
    InvoiceIssued,
    LowBalance,
    MissedCall,
    PaymentRegistered,
    Recipient,
    TopUp,
    VoicemailReceived,
)

ANA = Recipient(account_id=7, email="ana@example.ro", language="ro")
AT = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)

VOICEMAIL = VoicemailReceived(ANA, "1751360400.1", "0722123456", "Ion Pop", AT, 42, b"RIFF-WAVE")
MISSED_CALL = MissedCall(ANA, "1751360400.2", "0722123456", "Ion Pop", AT, 25)
INVOICE = InvoiceIssued(
    ANA, "CP-2025-000123", date(2025, 8, 1), date(2025, 8, 15), Decimal("121.00"), "RON",
    "<html><body>Factura</body></html>",
)

SAMPLE_EVENTS = (
    VOICEMAIL,
    MISSED_CALL,
    LowBalance(ANA, Decimal("3.20"), Decimal("5.00"), "EUR", AT),
    DailySpendLimitReached(ANA, Decimal("20.00"), Decimal("20.00"), "EUR", AT),
    TopUp(ANA, "T-2025-0042", Decimal("50.00"), Decimal("53.20"), "EUR", AT, entry_id=4242),
    PaymentRegistered(ANA, 42, Decimal("121.00"), "RON", AT, "P-2025-0042", "CP-2025-000123"),
    INVOICE,
    AllowedIpsChanged(
        ANA, "audit-981", ("203.0.113.7",), ("198.51.100.4",), ("203.0.113.7", "192.0.2.10"), AT,
        "admin@clickphone.ro",
    ),
)
