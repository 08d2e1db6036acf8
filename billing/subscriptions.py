"""Accounts' subscriptions to service plans, with their history.

An account is on a service plan (:mod:`billing.service_plans`) from one day
until the day before another (``until_day``, exclusive; none while it
stays on it); days are Europe/Bucharest calendar days. Each row of
``account_service_plans`` is one stretch of one plan; a change of plan
ends a stretch and starts the next, so :func:`plan_history` is the whole
story. The plan's *version* in force on each day applies (a new version of
the plan takes effect by itself).

* :func:`subscribe` puts an account without a plan on one from a day;
* :func:`change_plan` moves it to another plan from the 1st of next month
  (contract: a change takes effect from the next month), or from today
  with ``immediately`` (both months then pro-rated);
* :func:`end_subscription` ends it (the last month pro-rated).

None of them changes a month whose monthly invoice is issued: an invoice
is stored once and never updated, so a change effective on a day of such
a month (or before it) is refused with
:class:`~billing.errors.InvoicedMonthError`, naming the day and the
invoice (:func:`billing.invoicing.records.monthly_invoice_months` says
which months; the account's lock, which the invoice run also takes, keeps
the two from crossing).

What a month owes (:func:`month_terms`): the fee and the included
minutes, per destination group, of the plan version in force on each day
of service, pro-rated by days::

    fee     = Σ over days of service (version's monthly fee)            / days in month
    seconds = Σ over days of service (version's seconds of the group)   / days in month

each rounded half-up **once** (:func:`billing.money.round_half_up`): the
fee to the micro-euro, each group's included seconds to the whole second. A day of
service on which the plan has no version in force owes nothing. A month
without any day of service has no terms (None): the account's own
``monthly_fee_micro`` / ``included_seconds`` apply then.

Each group's minutes are a pool of their own, which rating spends on the
calls of that group's classes (:mod:`billing.included_minutes`). A plan's versions must rate calls with the account's tariff
(they name one): a subscription to a plan with another tariff is refused.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger, money, service_plan_store
from billing.errors import InvalidSubscriptionError, InvoicedMonthError, UnknownServicePlanError
from billing.invoicing.records import monthly_invoice_months
from billing.service_plans import ServicePlanVersions, is_valid_name
from billing.tables import account_service_plans
from billing.tariffs import CONTRACT_TZ
from sqlbase import Db, reading, transaction, utc_now
from sqlbase.bulk import select_where_in


@dataclass(frozen=True)
class Subscription:
    """One stretch of an account on a plan: ``from_day`` until the day
    before ``until_day`` (None: still on it)."""

    account_id: int
    plan: str
    from_day: date
    until_day: date | None
    created_at: datetime

    def covers(self, day: date) -> bool:
        """True when the account is on this plan on ``day``."""
        return self.from_day <= day and (self.until_day is None or day < self.until_day)


@dataclass(frozen=True)
class MonthTerms:
    """What one contract month owes under an account's plans.

    ``fee_micro``: the monthly fee pro-rated by days of service (micro-euros,
    VAT excluded); ``included``: the minutes included per destination
    group, in seconds, pro-rated the same way (groups with none left out);
    ``service_days`` of ``month_days``.
    """

    month: str
    fee_micro: int
    included: dict[str, int]
    service_days: int
    month_days: int

    @property
    def included_seconds(self) -> int:
        """All groups' included seconds together (what an invoice shows as its bundle)."""
        return sum(self.included.values())


def contract_day(now: datetime | None = None) -> date:
    """Return the calendar day (Europe/Bucharest) of ``now`` (default: now)."""
    return (now or utc_now()).astimezone(CONTRACT_TZ).date()


def first_of_next_month(day: date) -> date:
    """Return the 1st of the month after ``day``'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


# -- changing --------------------------------------------------------------------------


async def subscribe(db: Db, account_id: int, plan: str, *, start_day: date,
                    now: datetime | None = None) -> Subscription:
    """Put account ``account_id`` on service plan ``plan`` from ``start_day``.

    Raise :class:`~billing.errors.UnknownAccountError`, or
    :class:`InvalidSubscriptionError` naming the field: ``plan`` when no
    such plan is stored, it has no version in force on ``start_day``, it
    rates calls with another tariff than the account's; ``start_day`` when
    the account is already on a plan that day or later (:func:`change_plan`
    changes it). Raise :class:`~billing.errors.InvoicedMonthError` when
    ``start_day``'s month (or a later one) is invoiced.
    """
    async with transaction(db) as conn:
        account = await ledger.locked_account(conn, account_id)
        await _refuse_invoiced_months(conn, account_id, start_day)
        await _checked_plan(conn, plan, start_day, account.tariff)
        for stretch in await _history(conn, account_id):
            if stretch.until_day is None or stretch.until_day > start_day:
                raise InvalidSubscriptionError(
                    "start_day", f"account {account_id} is on plan {stretch.plan} from "
                    f"{stretch.from_day.isoformat()}: change its plan instead")
        return await _insert(conn, account_id, plan, start_day, now)


async def change_plan(db: Db, account_id: int, plan: str, *, today: date, immediately: bool = False,
                      now: datetime | None = None) -> Subscription:
    """Move account ``account_id`` to ``plan`` from the 1st of the month
    after ``today`` or, ``immediately``, from ``today`` (the current month
    is then pro-rated between both plans); return the new stretch.

    A change already planned from that day or later is replaced. An account
    on no plan is subscribed from that day. Changing to the plan the account
    is on then (with nothing planned after) changes nothing and returns its
    stretch. Refusals as :func:`subscribe`'s (an invoiced month: the
    effective day's).
    """
    effective = today if immediately else first_of_next_month(today)
    async with transaction(db) as conn:
        account = await ledger.locked_account(conn, account_id)
        await _refuse_invoiced_months(conn, account_id, effective)
        await _checked_plan(conn, plan, effective, account.tariff)
        history = await _history(conn, account_id)
        current = next((s for s in history if s.covers(effective)), None)
        later = [s for s in history if s.from_day > effective]
        if current is not None and current.plan == plan and current.until_day is None and not later:
            return current
        await _end_from(conn, account_id, history, effective)
        return await _insert(conn, account_id, plan, effective, now)


async def end_subscription(db: Db, account_id: int, *, until_day: date) -> None:
    """End account ``account_id``'s plan: ``until_day`` is its first day
    without one (changes planned from then on are dropped); the last month
    is pro-rated by its days of service (:func:`month_terms`). Raise
    :class:`InvalidSubscriptionError` (``until_day``) when the account is on
    no plan the day before, :class:`~billing.errors.InvoicedMonthError`
    when ``until_day``'s month (or a later one) is invoiced."""
    async with transaction(db) as conn:
        await ledger.locked_account(conn, account_id)
        await _refuse_invoiced_months(conn, account_id, until_day)
        history = await _history(conn, account_id)
        if not any(s.covers(until_day - timedelta(days=1)) for s in history):
            raise InvalidSubscriptionError(
                "until_day", f"account {account_id} is on no plan on {(until_day - timedelta(days=1)).isoformat()}")
        await _end_from(conn, account_id, history, until_day)


async def _refuse_invoiced_months(conn: AsyncConnection, account_id: int, day: date) -> None:
    """Raise InvoicedMonthError when a change from ``day`` would alter a
    month already invoiced: ``day``'s month or any later one."""
    month = day.strftime("%Y-%m")
    invoiced = sorted((m, number) for m, number in (await monthly_invoice_months(conn, account_id)).items()
                      if m >= month)
    if invoiced:
        raise InvoicedMonthError(account_id, day, *invoiced[0])


async def _end_from(conn: AsyncConnection, account_id: int, history: list[Subscription], day: date) -> None:
    """No plan from ``day`` on: stretches starting then or later are dropped,
    the one running then ends the day before."""
    table = account_service_plans.c
    await conn.execute(delete(account_service_plans).where(table.account_id == account_id, table.from_day >= day))
    if any(s.from_day < day and (s.until_day is None or s.until_day > day) for s in history):
        await conn.execute(
            update(account_service_plans)
            .where(table.account_id == account_id, table.from_day < day,
                   or_(table.until_day.is_(None), table.until_day > day))
            .values(until_day=day)
        )


async def _insert(conn: AsyncConnection, account_id: int, plan: str, from_day: date,
                  now: datetime | None) -> Subscription:
    row = (
        await conn.execute(
            insert(account_service_plans)
            .values(account_id=account_id, plan=plan, from_day=from_day, until_day=None,
                    created_at=now or utc_now())
            .returning(*_COLUMNS)
        )
    ).one()
    return Subscription(*row)


async def _checked_plan(conn: AsyncConnection, plan: str, start_day: date, tariff: str) -> ServicePlanVersions:
    """The plan's versions in force, if an account with ``tariff`` can be
    on it from ``start_day``; raise InvalidSubscriptionError (``plan``)."""
    try:
        if not is_valid_name(plan):  # not even looked up: no stored plan has such a name
            raise UnknownServicePlanError(plan)
        versions = await service_plan_store.load_service_plan(conn, plan)
    except UnknownServicePlanError:
        stored = [p.name for p in await service_plan_store.list_service_plans(conn)]
        shown = repr(plan) if len(plan) <= 64 else repr(plan[:63]) + "…"
        raise InvalidSubscriptionError(
            "plan", f"no service plan {shown}; stored plans: {', '.join(stored) or 'none'}") from None
    if versions.version_on(start_day) is None:
        raise InvalidSubscriptionError("plan", f"{plan} has no version in force on {start_day.isoformat()}")
    for version in versions.versions:
        if version.effective_to is not None and version.effective_to <= start_day:
            continue
        if version.tariff != tariff:
            raise InvalidSubscriptionError(
                "plan", f"{version.label} rates calls with tariff {version.tariff}, the account with {tariff}")
    return versions


# -- reading -----------------------------------------------------------------------------

_COLUMNS = (
    account_service_plans.c.account_id,
    account_service_plans.c.plan,
    account_service_plans.c.from_day,
    account_service_plans.c.until_day,
    account_service_plans.c.created_at,
)


async def plan_history(db: Db, account_id: int) -> list[Subscription]:
    """Return account ``account_id``'s stretches on plans, oldest first
    (empty: never on one); raise :class:`~billing.errors.UnknownAccountError`."""
    async with reading(db) as conn:
        await ledger.get_account(conn, account_id)
        return await _history(conn, account_id)


def plan_on(history: Iterable[Subscription], day: date) -> Subscription | None:
    """Return the stretch of ``history`` in force on ``day``, or None."""
    return next((s for s in history if s.covers(day)), None)


async def _history(conn: AsyncConnection, account_id: int) -> list[Subscription]:
    rows = await conn.execute(
        select(*_COLUMNS).where(account_service_plans.c.account_id == account_id)
        .order_by(account_service_plans.c.from_day)
    )
    return [Subscription(*row) for row in rows]


async def month_terms(conn: AsyncConnection, account_id: int, month: str) -> MonthTerms | None:
    """Return what account ``account_id`` owes for ``month`` (``'YYYY-MM'``)
    under its plans, or None when it is on no plan that month (see the
    module docstring for the pro-rating and its rounding)."""
    return (await month_terms_of(conn, [(account_id, month)])).get((account_id, month))


async def month_terms_of(conn: AsyncConnection, wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], MonthTerms]:
    """Return :func:`month_terms` of each ``(account id, month)`` that has
    some, in one query for the stretches and one load per plan named."""
    wanted = set(wanted)
    if not wanted:
        return {}
    # the accounts as ONE parameter: a batch of CDRs may name tens of thousands
    rows = await select_where_in(conn, account_service_plans, ["account_id", "plan", "from_day", "until_day"],
                                 "account_id", sorted({account_id for account_id, _ in wanted}))
    stretches: dict[int, list[_Stretch]] = {}
    for row in rows:
        stretches.setdefault(row.account_id, []).append(
            _Stretch(row.plan, _day(row.from_day), None if row.until_day is None else _day(row.until_day)))
    if not stretches:
        return {}
    plans: dict[str, ServicePlanVersions | None] = {}
    for name in sorted({s.plan for listed in stretches.values() for s in listed}):
        try:
            plans[name] = await service_plan_store.load_service_plan(conn, name)
        except UnknownServicePlanError:
            plans[name] = None
    terms = {}
    for account_id, month in wanted:
        found = _terms(month, stretches.get(account_id, ()), plans)
        if found is not None:
            terms[(account_id, month)] = found
    return terms


class _Stretch(NamedTuple):
    plan: str
    from_day: date
    until_day: date | None

    def covers(self, day: date) -> bool:
        return self.from_day <= day and (self.until_day is None or day < self.until_day)


def _day(value: date | str) -> date:
    """A Date column's value as the driver returns it raw (SQLite: text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _terms(month: str, stretches: Iterable[_Stretch], plans: dict[str, ServicePlanVersions | None]
           ) -> MonthTerms | None:
    year, number = int(month[:4]), int(month[5:7])
    days = calendar.monthrange(year, number)[1]
    first = date(year, number, 1)
    fees = service_days = 0
    seconds: dict[str, int] = {}
    for offset in range(days):
        day = first + timedelta(days=offset)
        stretch = next((s for s in stretches if s.covers(day)), None)
        if stretch is None:
            continue
        service_days += 1
        versions = plans.get(stretch.plan)
        version = None if versions is None else versions.version_on(day)
        if version is None:
            continue
        fees += version.monthly_fee_micro
        for allowance in version.allowances:
            seconds[allowance.group] = seconds.get(allowance.group, 0) + allowance.seconds
    if not service_days:
        return None
    included = {group: money.round_half_up(total, days) for group, total in seconds.items()}
    return MonthTerms(month, money.round_half_up(fees, days), {g: s for g, s in included.items() if s},
                      service_days, days)
