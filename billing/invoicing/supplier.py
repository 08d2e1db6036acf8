"""Who issues the invoices: the supplier a Romanian invoice names, and the
checks of its identity (CIF check digit, Nr. Reg. Com. form, IBAN checksum).

The composition root builds a :class:`Supplier` from the operator's
settings, checked by :func:`checked_supplier`; each invoice stores its own
copy at issue, so documents render what was printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from billing.invoicing.errors import InvoiceError


class InvalidSupplierError(InvoiceError, ValueError):
    """A supplier detail cannot be printed on an invoice; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


DEFAULT_SUPPLIER_NAME = "ClickPhone"


@dataclass(frozen=True, slots=True)
class Supplier:
    """Who issues the invoices, as printed on them and stored with each at issue.

    Empty fields were not given. A stored supplier is shown as it was, never
    re-checked: an issued invoice must always render.
    """

    name: str = DEFAULT_SUPPLIER_NAME
    vat_id: str = ""  # CIF/CUI: RO + digits when VAT-registered, digits alone otherwise
    registration: str = ""  # Nr. Reg. Com., e.g. J40/1234/2020
    address: str = ""  # registered office
    iban: str = ""  # electronic form: upper case, no spaces
    bank: str = ""

    @property
    def missing(self) -> tuple[str, ...]:
        """The names of the details not given."""
        return tuple(name for name in SUPPLIER_FIELDS if not getattr(self, name))


SUPPLIER_FIELDS = tuple(f.name for f in fields(Supplier))
"""The supplier's details, in the order they are stored (``invoices.supplier_*``)."""

_CIF = re.compile(r"(RO)?([1-9]\d{1,9})")
_CIF_KEY = "753217532"  # ANAF's test key, aligned right with the digits before the check digit
# Old form county/number/year (J40/1234/2020); the register's newer numbers
# are checked as digits only: their layout is not pinned down here.
_REGISTRATION = re.compile(r"[JFC](?:\d{1,2}/\d{1,8}/\d{4}|\d{6,16})")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")  # ISO 13616: 15 to 34 characters
_IBAN_LENGTHS = {"RO": 24}  # where the national length is known, it is checked too


def checked_supplier(supplier: Supplier) -> Supplier:
    """Return ``supplier`` normalised — whitespace collapsed; CIF, Nr. Reg. Com.
    and IBAN upper case without spaces — or raise :class:`InvalidSupplierError`.

    Checked: a name is given; the CIF's check digit; the Nr. Reg. Com.'s
    form; the IBAN's form and ISO 13616 mod-97 checksum. Empty details pass.
    """
    name, address, bank = (" ".join(text.split()) for text in (supplier.name, supplier.address, supplier.bank))
    vat_id, registration, iban = (
        "".join(text.split()).upper() for text in (supplier.vat_id, supplier.registration, supplier.iban)
    )
    if not name:
        raise InvalidSupplierError("name", "the supplier's name is required on an invoice")
    if vat_id and not _valid_cif(vat_id):
        raise InvalidSupplierError(
            "vat_id", f"{vat_id!r} is not a CIF: 2 to 10 digits (after RO when VAT-registered), the last a check digit"
        )
    if registration and not _REGISTRATION.fullmatch(registration):
        raise InvalidSupplierError(
            "registration", f"{registration!r} is not a Nr. Reg. Com. like J40/1234/2020 (J, F or C first)"
        )
    if iban and not _valid_iban(iban):
        raise InvalidSupplierError("iban", f"{iban!r} is not an IBAN: wrong form, length or checksum")
    return Supplier(name, vat_id, registration, address, iban, bank)


def _valid_cif(text: str) -> bool:
    match = _CIF.fullmatch(text)
    if match is None:
        return False
    digits = match.group(2)
    body, check = digits[:-1].rjust(len(_CIF_KEY), "0"), int(digits[-1])
    remainder = sum(int(d) * int(k) for d, k in zip(body, _CIF_KEY)) * 10 % 11
    return check == remainder % 10  # a remainder of 10 is written 0


def _valid_iban(text: str) -> bool:
    if not _IBAN.fullmatch(text) or len(text) != _IBAN_LENGTHS.get(text[:2], len(text)):
        return False
    # country and check digits moved to the end, letters as 10..35: the number is 1 mod 97
    return int("".join(str(int(c, 36)) for c in text[4:] + text[:4])) % 97 == 1
