"""What a billing account's kind, status, currency and tariff may be.

The values stored in ``billing.tables.accounts`` (its check constraints
list them), here so that other packages, which may not import billing's
tables, name them too: the admin CLI opens prepaid or postpaid accounts,
admission lets only active accounts call.
"""

from __future__ import annotations

PREPAID, POSTPAID = "prepaid", "postpaid"
ACCOUNT_KINDS = (PREPAID, POSTPAID)
ACTIVE, SUSPENDED, INACTIVE = "active", "suspended", "inactive"
ACCOUNT_STATUSES = (ACTIVE, SUSPENDED, INACTIVE)
"""``inactive``: not yet active, until its first (one-off) invoice is paid
(contract art. 7.1.1); like ``suspended``, only 112, 116xxx and 0800 connect."""

LEDGER_CURRENCY = "EUR"
"""The currency of every account's balance, limits and ledger entries
(amounts in micro-units of it); invoices show RON beside it."""

DEFAULT_TARIFF = "annex_b"
"""The tariff plan a new account is rated by unless told otherwise."""
