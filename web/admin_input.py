"""What the admin operations accept from outside — the CLI's arguments and
the HTTP API's JSON — and how they refuse it: once, for both.

Every refusal is one :class:`AdminError` subclass, whose ``status`` the
HTTP API answers with and whose message names what was wrong. The owning
packages refuse with their own errors; :func:`refusals` turns those into
AdminErrors, for the API's routes and the CLI alike:

=========================  ======  ===========================================
:class:`InvalidInputError`   400   a field breaks its rule (``field`` says which)
:class:`NotFoundError`       404   no such account, subscriber or invoice
:class:`ConflictError`       409   username, number or account code taken; an
                                   invoice paid or not payable; a plan change
                                   into a month already invoiced; a BNR rate
                                   a payment needs not stored yet;
                                   suspending an account that is not active or
                                   reinstating one that is not suspended; an
                                   invoice that cannot be issued now
=========================  ======  ===========================================

The bounds (every list, string and number from outside has one):

=========================  =================================================
ids                        ASCII digits, 1 to 2^31 - 1; any other id is an
                           unknown one (404)
amounts                    ASCII digits with at most 6 decimals
                           (:func:`amount_micro`); a top-up is more than 0
                           and at most 100,000 EUR, a credit or daily limit
                           at most 100,000 EUR, and a top-up may not bring
                           the balance above 1,000,000 EUR (billing.ledger)
``reference``              at most 200 characters, no control characters
                           (CR, LF, tabs...)
``idempotency_key``        1 to 128 letters, digits, '.', '_' or '-'
``allowed_networks``       at most 100 addresses or CIDRs
``blocked_prefixes``       at most 1,000 prefixes of 1 to 15 digits
``language``               a language our emails are written in (ro, en)
``tariff``                 a stored tariff plan (``clickphone tariffs``)
``plan``                   a stored service plan whose versions include
                           only national minutes and rate calls with the
                           account's tariff (:mod:`billing.subscriptions`)
``plan_start``             a day ``YYYY-MM-DD``, given with ``plan``
suspension ``cause``       one of non_payment, breach, subscriber_request,
                           operator (:mod:`billing.suspension_causes`)
suspension ``note``        at most 200 characters, no control characters
                           (:mod:`billing.suspensions`)
service plans              at most 1,000 versions (CSV rows) per import;
                           names and versions of 1 to 64 ``A-Za-z0-9._-``,
                           a monthly fee from 0 to 10,000 EUR, 1 to 100,000
                           included minutes per destination group, a
                           description of at most 200 characters
                           (:mod:`billing.service_plans`)
one-off charges            ``description`` 1 to 200 printable characters,
                           ``quantity`` 1 to 1,000, ``amount`` (unit price
                           excl. VAT) more than 0 and at most 100,000 EUR;
                           at most 20 at a subscriber's creation
                           (:mod:`billing.invoicing.one_off`)
service plan ``setup_fee`` empty (none) or more than 0 and at most
                           100,000 EUR
DID ``number``             a Romanian geographic, mobile, freephone (0800)
                           or shared-cost (0801) number: never premium-rate,
                           short, emergency or foreign
payment ``amount``         a decimal string (``"60.50"``, no exponent, no
                           sign) more than 0: in RON whole bani and at most
                           500,000 RON, in EUR at most 6 decimals and
                           100,000 EUR (:func:`payment_amount_micro`)
payment ``currency``       ``RON`` (the default) or ``EUR``
payment ``paid_on``        a day ``YYYY-MM-DD``, not before the invoice's issue
payment ``reference``      the bank statement's text: at most 200 characters,
                           no control characters, stored as given
                           (whitespace collapsed), never interpreted
                           (:mod:`billing.invoicing.payments`)
payment ``invoice``        an invoice number of at most 32 characters
                           (``CP-000012``); unknown → 404
plan ``last_day``          a day ``YYYY-MM-DD`` before 9999-12-31: the
                           account's last day on its plan
                           (``DELETE /admin/accounts/{id}/plan``)
invoices' ``as_of``        a day ``YYYY-MM-DD`` (query; default today)
=========================  =================================================

Each bound is checked where its rule lives: ids, amounts, languages, kinds
and tariffs here; references and idempotency keys in
:mod:`billing.top_ups`; allowed networks, blocked prefixes and the call
limit in :mod:`admission.policy`; DID numbers in :mod:`provisioning.numbers`;
service plans a subscription names in :mod:`billing.subscriptions`;
payments' currency, bani, reference and what an invoice still owes in
:mod:`billing.invoicing.payments`; suspensions' causes and notes in
:mod:`billing.suspensions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from admission.policy import InvalidPolicyError
from billing import ledger
from billing.accounts import ACCOUNT_KINDS
from billing.errors import (
    AccountCodeTakenError,
    IdempotencyKeyReusedError,
    InvalidAmountError,
    InvalidSubscriptionError,
    InvalidSuspensionError,
    InvoicedMonthError,
    SuspensionStateError,
    UnknownAccountError,
    UnknownServicePlanError,
)
from billing.fx_bnr import FxError
from billing.invoicing.errors import (
    InvoiceChronologyError,
    InvoiceNotPayableError,
    InvoicePaymentError,
    NothingToInvoiceError,
    UnknownInvoiceError,
)
from billing.invoicing.one_off import MAX_UNIT_PRICE_MICRO, InvalidOneOffChargeError
from billing.money import MoneyError, format_amount, micro_from_text
from billing.service_plans import DESTINATION_GROUPS, MAX_ROWS, ServicePlanFileError, parse_day
from billing.top_ups import InvalidTopUpError
from billing.working_days import HolidaysUnknownError
from notify.render import SUPPORTED_LANGUAGES
from provisioning.errors import (
    InvalidFieldError,
    NumberTakenError,
    SubscriberTerminatedError,
    UnknownDidError,
    UnknownEndpointError,
    UnknownSubscriberError,
    UsernameTakenError,
)

MAX_ID = 2**31 - 1
"""The highest id a row can have: ids are INTEGER columns, 32-bit on PostgreSQL."""
MAX_TOP_UP_MICRO = ledger.MAX_OPERATION_MICRO
MAX_LIMIT_MICRO = ledger.MAX_LIMIT_MICRO
MAX_PAYMENT_MICRO = {"EUR": ledger.MAX_OPERATION_MICRO, "RON": 500_000 * 10**6}
"""The largest payment recorded at once, by currency (micro-units): 100,000
EUR, as a top-up; 500,000 RON, about the same."""
MAX_INVOICE_NUMBER_LENGTH = 32

# [0-9], not \d: "١" is a digit to \d
_ID = re.compile(r"[0-9]{1,19}")


# -- refusals ---------------------------------------------------------------------


class AdminError(Exception):
    """An admin request refused; ``status`` is the HTTP answer."""

    status = 400


class InvalidInputError(AdminError, ValueError):
    """A field's value breaks its rule."""

    status = 400

    def __init__(self, field: str, message: str) -> None:
        if message.startswith(f"{field} "):  # "amount must be..." → "amount: must be..."
            message = message[len(field) + 1:]
        super().__init__(message if message.startswith(f"{field}:") else f"{field}: {message}")
        self.field = field


class NotFoundError(AdminError, LookupError):
    """No account or subscriber has this id."""

    status = 404


class PlanImportError(InvalidInputError):
    """A service plan import refused. ``problems`` name each one's line
    (a CSV body) or index in ``plans`` (JSON, ``in_json``) and field —
    for JSON the field it came from (``monthly_fee``), not the CSV column;
    ``field`` is the first one's."""

    def __init__(self, error: ServicePlanFileError, *, in_json: bool = False) -> None:
        where = "index" if in_json else "line"
        self.problems = [
            {where: p.position, "field": PLAN_JSON_FIELD_OF_COLUMN.get(p.field, p.field) if in_json else p.field,
             "message": p.message}
            for p in error.problems
        ]
        first = self.problems[0]
        if in_json:
            message = "; ".join(f"plans[{p['index']}].{p['field']}: {p['message']}" for p in self.problems[:20])
            field, message = f"plans[{first['index']}].{first['field']}", message
        else:
            field, message = first["field"], str(error)
        AdminError.__init__(self, message)  # the message names its fields already
        self.field = field


class ConflictError(AdminError):
    """The username, number or account code is taken."""

    status = 409


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the owning packages' refusals into AdminErrors: an unknown
    account, subscriber, endpoint or DID is 404; a taken username, number,
    account code or idempotency key, a terminated subscriber 409; a value breaking its owner's rule
    400 naming the field. An unknown invoice is 404; an invoice paid or not
    payable, a plan change into an invoiced month, a missing BNR rate and an
    invoice that cannot be issued now (nothing to invoice, a later invoice in
    the series) 409."""
    try:
        yield
    except (UnknownAccountError, UnknownSubscriberError, UnknownEndpointError, UnknownServicePlanError,
            UnknownInvoiceError, UnknownDidError) as exc:
        raise NotFoundError(str(exc)) from exc
    except (InvoiceNotPayableError, InvoicedMonthError) as exc:
        raise ConflictError(str(exc)) from exc
    except InvoicePaymentError as exc:
        if exc.field is None:
            raise ConflictError(str(exc)) from exc
        raise InvalidInputError(exc.field, str(exc)) from exc
    except FxError as exc:
        # the operator fetches or sets the rate, then the same request succeeds
        raise ConflictError(f"{exc} (fetch BNR's rates with `clickphone fx fetch`, or set one "
                            "with `clickphone fx set`)") from exc
    except (InvalidFieldError, InvalidPolicyError, InvalidTopUpError, InvalidSubscriptionError,
            InvalidSuspensionError, InvalidOneOffChargeError) as exc:
        raise InvalidInputError(exc.field, str(exc)) from exc
    except (UsernameTakenError, NumberTakenError, AccountCodeTakenError, IdempotencyKeyReusedError,
            SuspensionStateError, SubscriberTerminatedError) as exc:
        raise ConflictError(str(exc)) from exc
    except (NothingToInvoiceError, InvoiceChronologyError, HolidaysUnknownError) as exc:
        raise ConflictError(str(exc)) from exc
    except InvalidAmountError as exc:
        raise InvalidInputError(exc.field or "amount", str(exc)) from exc
    except MoneyError as exc:
        raise InvalidInputError("amount", str(exc)) from exc
    except ServicePlanFileError as exc:
        raise PlanImportError(exc) from exc


# -- what comes from outside -------------------------------------------------------


def shown(value: object, length: int = 40) -> str:
    """Return ``repr(value)`` cut to ``length`` characters, for a message
    that names a bad value without echoing megabytes of it."""
    text = repr(value)
    return text if len(text) <= length else f"{text[:length - 1]}…"


def id_from_text(text: str, what: str = "account") -> int:
    """Return the id written in ``text`` (ASCII digits); an id no row can
    have (other characters, 0, past 2^31 - 1) raises NotFoundError, as an
    id no row has would."""
    if not _ID.fullmatch(text):
        raise NotFoundError(f"no {what} {shown(text)}: ids are whole numbers from 1 to {MAX_ID}")
    return require_id(int(text), what)


def require_id(value: int, what: str = "account") -> int:
    """Return ``value`` if a row can have it as id; raise NotFoundError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotFoundError(f"no {what} {shown(value)}: ids are whole numbers from 1 to {MAX_ID}")
    return value


def amount_micro(field: str, text: str, *, minimum_micro: int = 0, maximum_micro: int) -> int:
    """Return the euros written in ``text`` (``"10.50"``, ASCII digits, at
    most 6 decimals) in micro-euros, from ``minimum_micro`` to
    ``maximum_micro``; raise InvalidInputError naming ``field``, in euros."""
    try:
        micro = micro_from_text(text)
    except MoneyError as exc:
        raise InvalidInputError(field, f"{exc}; write euros like 10.50") from exc
    if not minimum_micro <= micro <= maximum_micro:
        least = "more than 0 EUR" if minimum_micro == 1 else f"at least {format_amount(minimum_micro)}"
        raise InvalidInputError(
            field, f"must be {least} and at most {format_amount(maximum_micro)}, not {format_amount(micro)}")
    return micro


def payment_amount_micro(text: object, currency: str) -> int:
    """Return a payment's ``amount`` (a decimal string: ASCII digits, at most
    6 decimals, no sign or exponent) in micro-units of ``currency``, more
    than 0 and at most :data:`MAX_PAYMENT_MICRO`; raise InvalidInputError
    naming ``amount``. Whole bani in RON are billing's rule
    (:mod:`billing.invoicing.payments`)."""
    if not isinstance(text, str):
        raise InvalidInputError("amount", f"must be a decimal string like \"60.50\", not {shown(text)}")
    try:
        micro = micro_from_text(text)
    except MoneyError as exc:
        raise InvalidInputError("amount", f"{exc}; write {currency} like 60.50") from exc
    most = MAX_PAYMENT_MICRO.get(currency, MAX_PAYMENT_MICRO["EUR"])
    if not 0 < micro <= most:
        raise InvalidInputError(
            "amount", f"must be more than 0 and at most {format_amount(most, currency)}, not {text}")
    return micro


def checked_language(language: str) -> str:
    """Return ``language`` if our emails are written in it (ro, en); raise InvalidInputError."""
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidInputError(
            "language", f"must be one our emails are written in ({', '.join(SUPPORTED_LANGUAGES)}), "
            f"not {shown(language)}")
    return language


def day_from_text(field: str, text: str) -> date:
    """Return the day written ``YYYY-MM-DD`` in ``text``; raise InvalidInputError naming ``field``."""
    try:
        return parse_day(text)
    except ValueError as exc:
        raise InvalidInputError(field, str(exc)) from exc


def checked_account_kind(kind: str) -> str:
    """Return ``kind`` if it is an account kind (prepaid, postpaid); raise InvalidInputError."""
    if kind not in ACCOUNT_KINDS:
        raise InvalidInputError("kind", f"must be one of {', '.join(ACCOUNT_KINDS)}, not {shown(kind)}")
    return kind


# JSON field of a service plan version → the CSV column it is read as
_PLAN_FIELDS = {"name": "plan", "version": "version", "effective_from": "effective_from",
                "effective_to": "effective_to", "monthly_fee": "monthly_fee_eur", "tariff": "tariff",
                "description": "description", "setup_fee": "setup_fee"}
PLAN_JSON_FIELDS = (*_PLAN_FIELDS, "included_minutes")
"""The fields of one version in the admin API's ``{"plans": [...]}``."""
PLAN_JSON_FIELD_OF_COLUMN = {**{column: key for key, column in _PLAN_FIELDS.items()},
                             "destination_group": "included_minutes", "included_minutes": "included_minutes"}
"""The CSV column a problem names → the JSON field it came from."""


def service_plan_rows(plans: object) -> list[tuple[int, dict[str, str]]]:
    """Return the admin API's service plan versions (a list of objects, see
    :data:`PLAN_JSON_FIELDS`) as the rows of a service plan CSV, each with
    its position in the list; billing checks the values. A wrong shape
    raises InvalidInputError naming ``plans[i].field``."""
    if not isinstance(plans, list) or not plans:
        raise InvalidInputError("plans", "must be a non-empty list of service plan versions")
    if len(plans) > MAX_ROWS:
        raise InvalidInputError("plans", f"at most {MAX_ROWS} versions, not {len(plans)}")
    rows: list[tuple[int, dict[str, str]]] = []
    for position, item in enumerate(plans):
        where = f"plans[{position}]"
        if not isinstance(item, dict):
            raise InvalidInputError(where, "must be an object")
        unknown = [key for key in item if key not in PLAN_JSON_FIELDS]
        if unknown:
            raise InvalidInputError(f"{where}.{shown(unknown[0])[1:-1]}",
                                    f"unknown field; expected some of {list(PLAN_JSON_FIELDS)}")
        values = {column: _plan_text(item.get(key), f"{where}.{key}", amount=key in ("monthly_fee", "setup_fee"))
                  for key, column in _PLAN_FIELDS.items()}
        minutes = item.get("included_minutes")
        minutes = {} if minutes is None else minutes
        if not isinstance(minutes, dict) or len(minutes) > len(DESTINATION_GROUPS):
            raise InvalidInputError(f"{where}.included_minutes",
                                    f"must be an object of at most {len(DESTINATION_GROUPS)} destination groups "
                                    f"({', '.join(DESTINATION_GROUPS)}) and their minutes")
        groups = [(group, _plan_text(count, f"{where}.included_minutes.{group[:20]}", whole=True))
                  for group, count in minutes.items()] or [("", "")]
        rows.extend((position, {**values, "destination_group": group, "included_minutes": count})
                    for group, count in groups)
    return rows


def _plan_text(value: object, field: str, *, whole: bool = False, amount: bool = False) -> str:
    """A JSON value as the CSV text billing reads: a string as given
    (stripped, as a CSV field is), a whole number (``whole``: nothing
    else), or for an ``amount`` also a decimal number as its exact text;
    null is empty."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and (whole or amount):
        return str(value)
    if isinstance(value, str) and not whole:
        return value.strip()
    if isinstance(value, Decimal) and amount:
        return str(value)  # "1E+3" is then refused by billing's reader, like "5e0"
    raise InvalidInputError(field, "must be a whole number" if whole else
                            "must be an amount like \"5.00\"" if amount else "must be a string")


# -- one-off charges -----------------------------------------------------------------

MAX_CHARGES = 20
"""The most one-off charges given when a subscriber is created."""
_CHARGE_FIELDS = ("description", "amount", "quantity")


@dataclass(frozen=True)
class ChargeRequest:
    """A one-off charge asked for: unit price excl. VAT in micro-euros
    (description and quantity checked by :func:`billing.invoicing.one_off.checked_charge`)."""

    description: str
    unit_price_micro: int
    quantity: int = 1


def charge_request(item: object, where: str = "") -> ChargeRequest:
    """Return the JSON object ``{"description", "amount", "quantity"}`` as a
    ChargeRequest; an InvalidInputError naming ``<where>.<field>`` otherwise
    (``amount``: euros, more than 0, at most 100,000; ``quantity``: 1 to
    1,000, default 1)."""
    prefix = f"{where}." if where else ""
    if not isinstance(item, dict):
        raise InvalidInputError(where or "body", "must be an object {description, amount, quantity}")
    unknown = [key for key in item if key not in _CHARGE_FIELDS]
    if unknown:
        raise InvalidInputError(f"{prefix}{shown(unknown[0])[1:-1]}", f"unknown field; expected {list(_CHARGE_FIELDS)}")
    description = item.get("description")
    if not isinstance(description, str):
        raise InvalidInputError(f"{prefix}description", "must be a string of 1 to 200 characters")
    amount = item.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (str, int, Decimal)):
        raise InvalidInputError(f"{prefix}amount", "must be an amount in euros like \"40.00\"")
    price = amount_micro(f"{prefix}amount", str(amount), minimum_micro=1, maximum_micro=MAX_UNIT_PRICE_MICRO)
    quantity = item.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1000:
        raise InvalidInputError(f"{prefix}quantity", "must be a whole number from 1 to 1000")
    return ChargeRequest(description, price, quantity)


def charge_requests(items: object) -> list[ChargeRequest]:
    """Return the JSON list ``charges`` (at most :data:`MAX_CHARGES`) as ChargeRequests."""
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > MAX_CHARGES:
        raise InvalidInputError("charges", f"must be a list of at most {MAX_CHARGES} one-off charges")
    return [charge_request(item, f"charges[{index}]") for index, item in enumerate(items)]
