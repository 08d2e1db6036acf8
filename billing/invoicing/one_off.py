"""One-off fees, invoiced in advance (contract art. 7.1.1).

"Set-up fees and equipment are invoiced in advance when the contract
starts, payable within 5 working days; the service can be configured to
stay inactive until paid."

* A **one-off charge** is something an account is charged once: its
  service plan's set-up fee, equipment, anything else — a description (at
  most :data:`MAX_DESCRIPTION_LENGTH` characters), a quantity (1 to
  :data:`MAX_QUANTITY`) and a unit price excl. VAT (more than 0, at most
  :data:`MAX_UNIT_PRICE_MICRO`). It waits in ``one_off_charges`` until
  invoiced.
* The **one-off invoice** (kind ``one_off``) takes every uninvoiced charge
  of the account: one line each, one ledger ``one_off_fee`` entry each
  (written as the invoice is issued, key ``one_off_charge:<id>``), the
  charges linked to it. Issued today, due :data:`PAYMENT_TERM_WORKING_DAYS`
  working days later (:func:`billing.working_days.add_working_days`). Its
  entries are in ``invoice_entries`` and of a kind the monthly run does not
  gather, so no monthly invoice takes them again. It is payable whatever the
  account's kind (:attr:`~billing.invoicing.records.Invoice.payable`).
* **Inactive until paid**: an account may start ``inactive``
  (:data:`billing.accounts.INACTIVE`: admission refuses its paid calls);
  the payment that settles a one-off invoice in full makes it ``active``
  in the same transaction
  (:func:`billing.invoicing.activation.activate_when_settled`, called by both
  payment paths). A suspended account stays suspended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import ledger
from billing.fx_store import DEFAULT_MAX_AGE_DAYS
from billing.invoicing import activation
from billing.invoicing.errors import InvoiceError, NothingToInvoiceError
from billing.invoicing.records import DEFAULT_SERIES, ONE_OFF, Invoice, InvoiceLine
from billing.invoicing.storing import CustomerLookup, InvoiceContent, IssuedHook, IssueTerms, issue_terms, store_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.tables import one_off_charges
from billing.invoicing.usage import Draft
from billing.money import MICRO, format_micro
from billing.service_plan_store import load_service_plan
from billing.tables import ONE_OFF_FEE
from billing.tariffs import CONTRACT_TZ
from billing.working_days import add_working_days
from sqlbase import Db, transaction, utc_now

MAX_DESCRIPTION_LENGTH = 200
MAX_QUANTITY = 1000
MAX_UNIT_PRICE_MICRO = 100_000 * MICRO
"""100,000 EUR excl. VAT per unit."""
PAYMENT_TERM_WORKING_DAYS = 5
"""A one-off invoice is due this many working days after issue (art. 7.1.1)."""
ONE_OFF_LINE = "one_off"
"""The kind of a one-off invoice's lines."""


class InvalidOneOffChargeError(InvoiceError, ValueError):
    """A one-off charge breaks its bounds; ``field`` names the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class OneOffCharge:
    """One one-off charge (micro-euros excl. VAT); ``invoice_id`` None until invoiced."""

    id: int
    account_id: int
    description: str
    quantity: int
    unit_price_micro: int
    created_at: datetime
    invoice_id: int | None

    @property
    def net_micro(self) -> int:
        return self.quantity * self.unit_price_micro


_COLUMNS = [one_off_charges.c[name] for name in OneOffCharge.__slots__]  # type: ignore[attr-defined]


def checked_charge(description: Any, quantity: Any, unit_price_micro: Any) -> tuple[str, int, int]:
    """Return the charge's description (whitespace collapsed), quantity and
    unit price as stored; raise :class:`InvalidOneOffChargeError` naming the
    first bad one."""
    if not isinstance(description, str):
        raise InvalidOneOffChargeError("description", "text is expected")
    text = " ".join(description.split())
    if not text or len(text) > MAX_DESCRIPTION_LENGTH or not text.isprintable():
        raise InvalidOneOffChargeError(
            "description", f"1 to {MAX_DESCRIPTION_LENGTH} printable characters, not {len(text)}"
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidOneOffChargeError("quantity", f"a whole number from 1 to {MAX_QUANTITY}")
    if (isinstance(unit_price_micro, bool) or not isinstance(unit_price_micro, int)
            or not 0 < unit_price_micro <= MAX_UNIT_PRICE_MICRO):
        raise InvalidOneOffChargeError(
            "amount", f"more than 0 and at most {format_micro(MAX_UNIT_PRICE_MICRO)} EUR excl. VAT"
        )
    return text, quantity, unit_price_micro


async def add_one_off_charge(
    db: Db, account_id: int, *, description: str, unit_price_micro: int, quantity: int = 1,
    now: datetime | None = None,
) -> OneOffCharge:
    """Record a one-off charge of ``account_id`` waiting for its invoice and
    return it; raise :class:`InvalidOneOffChargeError` or
    :class:`~billing.errors.UnknownAccountError`."""
    text, quantity, price = checked_charge(description, quantity, unit_price_micro)
    async with transaction(db) as conn:
        await ledger.locked_account(conn, account_id)
        row = (await conn.execute(
            insert(one_off_charges).values(
                account_id=account_id, description=text, quantity=quantity, unit_price_micro=price,
                created_at=now or utc_now(),
            ).returning(*_COLUMNS)
        )).one()
    return OneOffCharge(*row)


async def setup_fee_charge(db: Db, plan: str, day: date) -> tuple[str, int] | None:
    """Return the one-off charge (description, unit price) of the set-up fee
    of ``plan``'s version in force on ``day`` (an account's first day on it);
    None when it has none. Raise
    :class:`~billing.errors.UnknownServicePlanError` for an unknown plan."""
    version = (await load_service_plan(db, plan)).version_on(day)
    if version is None or not version.setup_fee_micro:
        return None
    return f"Taxă de instalare — {plan}", version.setup_fee_micro


async def uninvoiced_charges(db: Db, account_id: int) -> list[OneOffCharge]:
    """Return the account's one-off charges on no invoice yet, oldest first."""
    async with transaction(db) as conn:
        rows = await conn.execute(
            select(*_COLUMNS)
            .where(one_off_charges.c.account_id == account_id, one_off_charges.c.invoice_id.is_(None))
            .order_by(one_off_charges.c.id)
        )
        return [OneOffCharge(*row) for row in rows]


async def one_off_terms(
    db: Db, *, supplier: Supplier, series: str = DEFAULT_SERIES, issue_date: date | None = None,
    now: datetime | None = None, max_fx_age_days: int = DEFAULT_MAX_AGE_DAYS,
    customers: CustomerLookup | None = None, on_issued: IssuedHook | None = None,
) -> IssueTerms:
    """Return the checked terms of one-off invoices issued on ``issue_date``
    (default: today, Europe/Bucharest), due 5 working days later; the
    refusals of :func:`~billing.invoicing.storing.issue_terms`, and
    :class:`~billing.working_days.HolidaysUnknownError` past the holiday data."""
    now = now or utc_now()
    issue = issue_date or now.astimezone(CONTRACT_TZ).date()
    return await issue_terms(
        db, issue, add_working_days(issue, PAYMENT_TERM_WORKING_DAYS), supplier=supplier, series=series,
        now=now, max_fx_age_days=max_fx_age_days, customers=customers, on_issued=on_issued,
    )  # fmt: skip


async def store_one_off_invoice(
    conn: AsyncConnection, terms: IssueTerms, account_id: int, *, inactive_until_paid: bool = False
) -> Invoice | None:
    """Issue, in ``conn``'s transaction, the one-off invoice of every
    uninvoiced one-off charge of ``account_id``; None when there is none.
    With ``inactive_until_paid``, an active account becomes ``inactive``
    until the invoice is paid in full."""
    account = await ledger.locked_account(conn, account_id)
    charges = [OneOffCharge(*row) for row in await conn.execute(
        select(*_COLUMNS)
        .where(one_off_charges.c.account_id == account_id, one_off_charges.c.invoice_id.is_(None))
        .order_by(one_off_charges.c.id)
    )]
    if not charges:
        return None
    drafts = [Draft(ONE_OFF_LINE, c.description, c.net_micro, quantity=c.quantity) for c in charges]

    async def new_entries(conn: AsyncConnection, number: str, lines: Sequence[InvoiceLine]) -> list[Any]:
        return [
            await ledger.append_entry(
                conn, account_id, ONE_OFF_FEE, -charge.net_micro, reference=f"{charge.description}, factura {number}",
                idempotency_key=f"one_off_charge:{charge.id}", now=terms.now,
            )  # fmt: skip
            for charge in charges
        ]

    async def linked(conn: AsyncConnection, invoice_id: int) -> None:
        await conn.execute(
            update(one_off_charges)
            .where(one_off_charges.c.id.in_([c.id for c in charges]))
            .values(invoice_id=invoice_id)
        )

    content = InvoiceContent(
        kind=ONE_OFF, period=terms.issue_date.strftime("%Y-%m"), period_first=terms.issue_date,
        period_last=terms.issue_date, drafts=drafts, new_entries=new_entries, linked=linked,
    )  # fmt: skip
    invoice = await store_invoice(conn, terms, account, content)
    if inactive_until_paid and invoice.payable:
        await activation.deactivate_until_paid(conn, account_id)
    return invoice


async def issue_one_off_invoice(
    db: Db, account_id: int, *, supplier: Supplier, series: str = DEFAULT_SERIES,
    issue_date: date | None = None, now: datetime | None = None, inactive_until_paid: bool = False,
    customers: CustomerLookup | None = None, on_issued: IssuedHook | None = None,
) -> Invoice:
    """Issue the one-off invoice of every uninvoiced one-off charge of
    ``account_id`` (see the module docstring) in one transaction and return
    it; raise :class:`NothingToInvoiceError` when there is none,
    :class:`~billing.errors.UnknownAccountError`, or the refusals of
    :func:`one_off_terms`."""
    terms = await one_off_terms(
        db, supplier=supplier, series=series, issue_date=issue_date, now=now, customers=customers,
        on_issued=on_issued,
    )  # fmt: skip
    async with transaction(db) as conn:
        invoice = await store_one_off_invoice(conn, terms, account_id, inactive_until_paid=inactive_until_paid)
    if invoice is None:
        raise NothingToInvoiceError(f"account {account_id} has no one-off charge waiting for an invoice")
    return invoice
