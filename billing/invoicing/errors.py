"""The refusals of invoicing: one error type per failure, all :class:`InvoiceError`."""

from __future__ import annotations

from billing.errors import BillingError
from billing.invoicing.uningested import UningestedUsage


class InvoiceError(BillingError):
    """Base of the refusals of invoicing."""


class InvalidPeriodError(InvoiceError, ValueError):
    """A billing period is not ``YYYY-MM``, or the issue date does not fit it."""


class UnknownInvoiceError(InvoiceError, LookupError):
    """No invoice has this number."""

    def __init__(self, number: str) -> None:
        super().__init__(f"no invoice {number!r}")
        self.number = number


class InvoiceChronologyError(InvoiceError):
    """The issue date is before the last issued invoice of the series."""


class InvoicePaymentError(InvoiceError, ValueError):
    """A payment cannot be recorded against this invoice; ``field`` names
    the value to blame (``amount``, ``currency``, ``reference``,
    ``paid_on``), None when it is the invoice itself."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvoiceNotPayableError(InvoicePaymentError):
    """The invoice takes no payment: already paid, a prepaid statement
    (settled from the balance), or a total of nothing."""


class InvoiceConsistencyError(InvoiceError):
    """The lines of an invoice do not match the ledger entries it accounts for (a bug)."""


class UsageNotIngestedError(InvoiceError):
    """CDRs of the period are still on their way (:mod:`billing.invoicing.uningested`): not invoiced yet."""

    def __init__(self, period: str, usage: UningestedUsage) -> None:
        self.usage = usage
        super().__init__(
            f"{period} is not invoiced yet: {usage.describe()}. Let the control plane's tailer catch up "
            "(or `clickphone cdr ingest` the file), then run again; or issue now with --allow-uningested "
            "(late calls then go on the next invoice)"
        )


class InvalidSeriesError(InvoiceError, ValueError):
    """An invoice series is not 1 to 16 capital letters."""


class InvalidUntilError(InvoiceError, ValueError):
    """An interim invoice's end instant is not one it can have (in the future, no time zone)."""


class AlreadyInvoicedError(InvoiceError):
    """The month already has its monthly invoice: nothing of it is left for an interim one."""


class NothingToInvoiceError(InvoiceError):
    """An account has nothing an invoice could hold (no number is consumed)."""
