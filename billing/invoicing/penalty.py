"""Late-payment penalty: 0.1 % per day of delay on the unpaid amount, capped.

Contract: an invoice is due 10 calendar days after issue; after the due date
a penalty of 0.1 % per day of delay accrues on the unpaid amount, never
exceeding that amount.

* A day of delay is a calendar day after the due date: paying on the due
  date costs nothing, paying the day after costs one day.
* With partial payments, each day of delay accrues on what was still unpaid
  at the start of that day (a payment made on day *d* counts from *d + 1*),
  and the cap is the amount unpaid on the due date.
* The penalty is the exact sum of all days' accruals, rounded half-up once
  to the micro-unit (:mod:`billing.money`), then capped.
* The cap is applied in the currency the penalty is reported in: an
  invoice payable in RON caps its RON penalty at its RON principal (the sum
  of its lines, each rounded to the ban), not at the EUR cap converted,
  which can round one ban above it (issue 10, defect 21; contract art. 7.7).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from billing import money

PAYMENT_TERM_DAYS = 10
"""Calendar days from issue to due date."""

DAILY_PENALTY_RATE = Decimal("0.001")
"""0.1 % of the unpaid amount per day of delay."""


def due_date(issue_date: date, term_days: int = PAYMENT_TERM_DAYS) -> date:
    """Return the due date of an invoice issued on ``issue_date`` (10 calendar days later)."""
    return issue_date + timedelta(days=term_days)


def days_late(due: date, as_of: date) -> int:
    """Return the calendar days of delay on ``as_of`` (0 on or before the due date)."""
    return max(0, (as_of - due).days)


def penalty_micro(
    unpaid_micro: int, due: date, as_of: date, daily_rate: Decimal = DAILY_PENALTY_RATE
) -> int:
    """Return the penalty accrued by ``as_of`` on ``unpaid_micro`` left unpaid since ``due``.

    ``unpaid × daily_rate × days_late``, rounded half-up once, never more than ``unpaid``.
    """
    if unpaid_micro <= 0:
        return 0
    accrued = money.multiply_micro(unpaid_micro * days_late(due, as_of), daily_rate)
    return min(accrued, unpaid_micro)


def unpaid_on_due_micro(amount_micro: int, due: date, payments: Iterable[tuple[date, int]]) -> int:
    """Return what was left unpaid of ``amount_micro`` on the due date: the penalty's cap."""
    return max(0, amount_micro - sum(m for d, m in payments if d <= due))


def accrued_penalty_micro(
    amount_micro: int,
    due: date,
    payments: Iterable[tuple[date, int]],
    as_of: date,
    daily_rate: Decimal = DAILY_PENALTY_RATE,
) -> int:
    """Return the penalty accrued by ``as_of``, **before** the cap, on an
    invoice of ``amount_micro`` paid by ``payments`` (``(day, micro)``):
    each day of delay accrues on what was unpaid at its start, rounded
    half-up once. The caller caps it in the currency it reports
    (:func:`penalty_with_payments_micro` in the invoice's own unit)."""
    payments = list(payments)
    unpaid = unpaid_on_due_micro(amount_micro, due, payments)
    day = due  # accrual counted for days after `day`
    unpaid_days = 0  # Σ unpaid-at-start-of-day over the days of delay
    for paid_on, paid in sorted((d, m) for d, m in payments if due < d):
        if unpaid <= 0 or paid_on > as_of:
            break
        # days day+1 .. paid_on accrue on `unpaid` (the payment counts from paid_on + 1)
        unpaid_days += unpaid * (paid_on - day).days
        unpaid -= paid
        day = paid_on
    if unpaid > 0 and as_of > day:
        unpaid_days += unpaid * (as_of - day).days
    return money.multiply_micro(unpaid_days, daily_rate)


def penalty_with_payments_micro(
    amount_micro: int,
    due: date,
    payments: Iterable[tuple[date, int]],
    as_of: date,
    daily_rate: Decimal = DAILY_PENALTY_RATE,
) -> int:
    """Return the penalty by ``as_of`` on an invoice of ``amount_micro`` paid by ``payments``.

    ``payments`` are ``(day, micro)``; each day of delay accrues on what was
    unpaid at its start. Capped at the amount unpaid on the due date, in the
    unit of ``amount_micro``.
    """
    payments = list(payments)
    accrued = accrued_penalty_micro(amount_micro, due, payments, as_of, daily_rate)
    return min(accrued, unpaid_on_due_micro(amount_micro, due, payments))
