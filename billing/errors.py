"""One error type per way billing's stored services refuse a request.

A refused call leaves the caller's transaction usable (no statement failed
on the database side).
"""

from __future__ import annotations

from datetime import date

from billing.money import format_amount


class BillingError(Exception):
    """Base of every refusal from billing's stored services."""


class UnknownAccountError(BillingError, LookupError):
    """No account has this id or code."""

    def __init__(self, account: int | str) -> None:
        super().__init__(f"no account {account!r}")
        self.account = account


class AccountCodeTakenError(BillingError):
    """Another account already has this accountcode."""

    def __init__(self, code: str) -> None:
        super().__init__(f"account code {code!r} is already taken")
        self.code = code


class InvalidAmountError(BillingError, ValueError):
    """An amount breaks its rule (sign, bounds, or zero where zero means
    nothing); ``field`` names the amount when known (``amount``,
    ``credit_limit``...)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AccountSuspendedError(BillingError):
    """The account is suspended: no credit can be reserved on it."""

    def __init__(self, account_id: int) -> None:
        super().__init__(f"account {account_id} is suspended")
        self.account_id = account_id


class InsufficientCreditError(BillingError):
    """The reservation exceeds the account's available credit."""

    def __init__(self, account_id: int, requested_micro: int, available_micro: int) -> None:
        super().__init__(
            f"account {account_id}: {format_amount(requested_micro)} requested,"
            f" {format_amount(available_micro)} available"
        )
        self.account_id = account_id
        self.requested_micro = requested_micro
        self.available_micro = available_micro


class DailyLimitReachedError(BillingError):
    """Today's spend plus live reservations plus the request would pass the daily limit."""

    def __init__(self, account_id: int, requested_micro: int, left_micro: int) -> None:
        super().__init__(
            f"account {account_id}: {format_amount(requested_micro)} requested,"
            f" {format_amount(left_micro)} left of today's limit"
        )
        self.account_id = account_id
        self.requested_micro = requested_micro
        self.left_micro = left_micro


class UnknownReservationError(BillingError, LookupError):
    """No reservation has this id."""

    def __init__(self, reservation_id: int) -> None:
        super().__init__(f"no reservation {reservation_id}")
        self.reservation_id = reservation_id


class ReservationClosedError(BillingError):
    """The reservation is no longer live (settled or released)."""

    def __init__(self, reservation_id: int, state: str) -> None:
        super().__init__(f"reservation {reservation_id} is {state}")
        self.reservation_id = reservation_id
        self.state = state


class UnknownTariffError(BillingError, LookupError):
    """No stored tariff plan (or version) has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no tariff plan {name!r}")
        self.name = name


class IdempotencyKeyReusedError(BillingError):
    """An idempotency key already names a different ledger entry."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} already names a different entry")
        self.key = key


class UnknownServicePlanError(BillingError, LookupError):
    """No stored service plan has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no service plan {name!r}")
        self.name = name


class InvalidSubscriptionError(BillingError, ValueError):
    """A subscription to a service plan is refused; ``field`` names what is
    wrong (``plan``, ``start_day``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InvoicedMonthError(BillingError):
    """A change of plan from ``day`` would change a month whose monthly
    invoice (``invoice``, for ``month``) is already issued: an invoice is
    stored once and never updated, so its month's terms are final."""

    def __init__(self, account_id: int, day: date, month: str, invoice: str) -> None:
        super().__init__(
            f"account {account_id}: a change of plan from {day.isoformat()} would change {month}, "
            f"whose invoice {invoice} is already issued (an issued invoice never changes); "
            f"change it from the 1st of a month not yet invoiced")
        self.account_id, self.day, self.month, self.invoice = account_id, day, month, invoice


class InvalidSuspensionError(BillingError, ValueError):
    """A suspension's cause or note is refused; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SuspensionStateError(BillingError):
    """The account is not in the state the operation needs: only an active
    account can be suspended, only a suspended one reinstated."""

    def __init__(self, account_id: int, message: str) -> None:
        super().__init__(f"account {account_id} {message}")
        self.account_id = account_id
