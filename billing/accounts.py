"""What a billing account's kind, status, currency and tariff may be.

The values stored in ``billing.tables.accounts`` (its check constraints
list them), here so that other packages, which may not import billing's
tables, name them too: the admin CLI opens prepaid or postpaid accounts,
admission lets only active accounts call.
"""

from __future__ import annotations

PREPAID, POSTPAID = "prepaid", "postpaid"
ACCOUNT_KINDS = (PREPAID, POSTPAID)
ACTIVE, SUSPENDED = "active", "suspended"
ACCOUNT_STATUSES = (ACTIVE, SUSPENDED)

LEDGER_CURRENCY = "EUR"
"""The currency of every account's balance, limits and ledger entries
(amounts in micro-units of it); invoices show RON beside it."""

DEFAULT_TARIFF = "annex_b"
"""The tariff plan a new account is rated by unless told otherwise."""
