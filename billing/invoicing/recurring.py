"""The recurring (subscription) fee: billing period, downtime and suspension credits.

Contract: the recurring fee is invoiced on the 1st of the month for the
previous month (in arrears), in EUR without VAT; days the service was down
through the provider's fault reduce it pro rata. Art. 9.2: the fee of days
the account was suspended stays due when the suspension is the
subscriber's fault; days suspended for a cause that is not
(:mod:`billing.suspension_causes`) reduce it pro rata like down days.

Pro rata: ``credit = fee × days / days_in_period``, rounded half-up once
to the micro-euro (:func:`billing.money.share_micro`). A day counts once
however many outages or suspensions it had, and a day both down and
suspended counts once, as a down day; only days inside the period count,
so the credits together never exceed the fee. Both credits are one
rounding of ``fee × (down + suspended) / days``, the suspension credit
being what it adds to the downtime credit, so splitting them in two lines
rounds nothing twice. Deciding which days were down through the
provider's fault, or suspended for which cause, is the caller's job
(:mod:`billing.invoicing.downtime`, :func:`billing.suspensions.excused_days`);
this module takes the dates.
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
    """The recurring fee of one period after its credits (micro-euros, VAT excluded):
    ``credit_micro`` for the down days, ``suspension_credit_micro`` for the
    days suspended not through the subscriber's fault that were not down."""

    period: BillingPeriod
    fee_micro: int
    down_days: int
    credit_micro: int
    issue_date: date
    due_date: date
    suspended_days: int = 0
    suspension_credit_micro: int = 0

    @property
    def net_micro(self) -> int:
        """Fee minus the downtime and suspension credits."""
        return self.fee_micro - self.credit_micro - self.suspension_credit_micro


def downtime_credit_micro(fee_micro: int, down_days: int, period_days: int) -> int:
    """Return the pro-rata reduction of ``fee_micro`` for ``down_days`` out of ``period_days``."""
    if not 0 <= down_days <= period_days:
        raise ValueError("down_days must be between 0 and the days in the period")
    return money.share_micro(fee_micro, down_days, period_days)


def recurring_fee(
    monthly_fee_micro: int,
    period: BillingPeriod,
    provider_fault_down_days: Iterable[date] = (),
    excused_suspension_days: Iterable[date] = (),
) -> RecurringFee:
    """Return the :class:`RecurringFee` of ``period`` with its downtime and suspension credits.

    ``provider_fault_down_days`` and ``excused_suspension_days`` (days
    suspended for a cause that is not the subscriber's fault, art. 9.2) may
    repeat days or include days outside the period; each day inside the
    period counts once, a day in both as a down day.
    """
    down_days = {d for d in provider_fault_down_days if d in period}
    suspended = len({d for d in excused_suspension_days if d in period} - down_days)
    down = len(down_days)
    credit = downtime_credit_micro(monthly_fee_micro, down, period.days)
    both = downtime_credit_micro(monthly_fee_micro, down + suspended, period.days)
    issue = issue_date_for(period)
    return RecurringFee(
        period=period,
        fee_micro=monthly_fee_micro,
        down_days=down,
        credit_micro=credit,
        issue_date=issue,
        due_date=due_date(issue),
        suspended_days=suspended,
        suspension_credit_micro=both - credit,
    )
