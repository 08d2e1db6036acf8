"""Why an account may be suspended, and whether the month's fee is still due.

Art. 9.2: the fee of a month in which the service was suspended is still
due when the suspension is the subscriber's fault; days suspended for the
operator's own reasons reduce it pro rata, like days the service was down
(:func:`billing.invoicing.recurring.recurring_fee`). Each cause is one row
of :data:`SUSPENSION_CAUSES`: its name (stored in
``billing.tables.account_suspensions``, whose check constraint lists
them), the contract clause it rests on, and whether the fee stays whole.

The CLI and the admin API list these causes when one is missing or
unknown: the money of the month depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

NON_PAYMENT, BREACH, SUBSCRIBER_REQUEST, OPERATOR = "non_payment", "breach", "subscriber_request", "operator"


@dataclass(frozen=True, slots=True)
class SuspensionCause:
    """One reason to suspend an account.

    ``fee_due`` is True when the month's fee stays whole for the days
    suspended (art. 9.2: the suspension is the subscriber's doing).
    """

    name: str
    clause: str
    fee_due: bool
    description: str


SUSPENSION_CAUSES: dict[str, SuspensionCause] = {
    cause.name: cause
    for cause in (
        SuspensionCause(NON_PAYMENT, "art. 9.1.2", True,
                        "invoice unpaid past its due date (subscriber's fault: fee due)"),
        SuspensionCause(BREACH, "art. 9.1", True,
                        "misuse or breach of contract by the subscriber (subscriber's fault: fee due)"),
        # Not a fault, but the subscriber's own choice: the operator keeps the
        # line and the number for them, so the fee stays due (art. 9.2 read
        # as "not the operator's doing").
        SuspensionCause(SUBSCRIBER_REQUEST, "art. 9.2", True,
                        "asked for by the subscriber (fee still due)"),
        SuspensionCause(OPERATOR, "art. 9.2", False,
                        "the operator's own reasons, not the subscriber's fault "
                        "(fee not due for the days suspended)"),
    )
}
"""Every cause, by name."""

CAUSE_NAMES = tuple(SUSPENSION_CAUSES)
"""The causes' names, in the order above (listed in refusals and help)."""

MAX_NOTE_CHARS = 200
"""The longest note an admin may attach to a suspension."""


def fee_due_while_suspended(cause: str) -> bool:
    """Return True when the fee of the days suspended for ``cause`` stays due (art. 9.2)."""
    return SUSPENSION_CAUSES[cause].fee_due


def causes_listed() -> str:
    """The causes as a refusal or help text lists them: ``non_payment, breach, ...``."""
    return ", ".join(CAUSE_NAMES)
