"""The recurring (subscription) fee: billing period, downtime credit.

Contract: the recurring fee is invoiced on the 1st of the month for the
previous month (in arrears), in EUR without VAT; days the service was down
through the provider's fault reduce it pro rata.

Pro rata: ``credit = fee × down_days / days_in_period``, rounded half-up once
to the micro-euro (:func:`billing.money.share_micro`). A down day counts once
however many outages it had, only inside the period, so the credit never
exceeds the fee. Deciding that a day was down through the provider's fault
(from incident records) is the caller's job; this module takes the dates.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from billing import money
from billing.invoicing.penalty import due_date

INVOICE_DAY = 1
"""Day of the month on which recurring fees are invoiced."""


class BillingPeriod(NamedTuple):
    """A billing period: calendar days ``first`` .. ``last`` inclusive."""

    first: date
    last: date

    @property
    def days(self) -> int:
        """Number of calendar days in the period."""
        return (self.last - self.first).days + 1

    def __contains__(self, day: object) -> bool:  # type: ignore[override]
        return isinstance(day, date) and self.first <= day <= self.last


def month_period(year: int, month: int) -> BillingPeriod:
    """Return the calendar month ``year-month`` as a :class:`BillingPeriod`."""
    return BillingPeriod(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def period_invoiced_on(issue_date: date) -> BillingPeriod:
    """Return the month invoiced on ``issue_date``: the calendar month before it."""
    last = issue_date.replace(day=1) - timedelta(days=1)
    return month_period(last.year, last.month)


def issue_date_for(period: BillingPeriod) -> date:
    """Return the day the period's recurring fee is invoiced: the 1st of the next month."""
    return (period.last.replace(day=1) + timedelta(days=32)).replace(day=INVOICE_DAY)


@dataclass(frozen=True, slots=True)
class RecurringFee:
    """The recurring fee of one period after the downtime credit (micro-euros, VAT excluded)."""

    period: BillingPeriod
    fee_micro: int
    down_days: int
    credit_micro: int
    issue_date: date
    due_date: date

    @property
    def net_micro(self) -> int:
        """Fee minus downtime credit."""
        return self.fee_micro - self.credit_micro


def downtime_credit_micro(fee_micro: int, down_days: int, period_days: int) -> int:
    """Return the pro-rata reduction of ``fee_micro`` for ``down_days`` out of ``period_days``."""
    if not 0 <= down_days <= period_days:
        raise ValueError("down_days must be between 0 and the days in the period")
    return money.share_micro(fee_micro, down_days, period_days)


def recurring_fee(
    monthly_fee_micro: int, period: BillingPeriod, provider_fault_down_days: Iterable[date] = ()
) -> RecurringFee:
    """Return the :class:`RecurringFee` of ``period`` with its downtime credit.

    ``provider_fault_down_days`` may repeat days or include days outside the
    period; each day inside the period counts once.
    """
    down = len({d for d in provider_fault_down_days if d in period})
    issue = issue_date_for(period)
    return RecurringFee(
        period=period,
        fee_micro=monthly_fee_micro,
        down_days=down,
        credit_micro=downtime_credit_micro(monthly_fee_micro, down, period.days),
        issue_date=issue,
        due_date=due_date(issue),
    )
