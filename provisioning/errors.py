"""One error type per way provisioning can refuse a request."""

from __future__ import annotations


class ProvisioningError(Exception):
    """Base of every refusal from provisioning."""


class InvalidFieldError(ProvisioningError, ValueError):
    """A value breaks its field's rule; the message says the rule, never the
    value (it may be a password)."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: must be {rule}")
        self.field = field
        self.rule = rule


class UsernameTakenError(ProvisioningError):
    """Another SIP endpoint already has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"SIP username {username!r} is already taken")
        self.username = username


class UnknownEndpointError(ProvisioningError):
    """No SIP endpoint has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no SIP endpoint {username!r}")
        self.username = username


class UnknownSubscriberError(ProvisioningError):
    """No subscriber has this id."""

    def __init__(self, subscriber_id: int) -> None:
        super().__init__(f"no subscriber with id {subscriber_id}")
        self.subscriber_id = subscriber_id


class NumberTakenError(ProvisioningError):
    """The DID belongs to a subscriber already."""

    def __init__(self, number: str) -> None:
        super().__init__(f"the number {number} is already provisioned")
        self.number = number


class SubscriberTerminatedError(ProvisioningError):
    """The subscriber's contract has ended already."""

    def __init__(self, subscriber_id: int) -> None:
        super().__init__(f"subscriber {subscriber_id} is terminated already")
        self.subscriber_id = subscriber_id


class UnknownDidError(ProvisioningError):
    """No DID has this number."""

    def __init__(self, number: str) -> None:
        super().__init__(f"no DID {number}")
        self.number = number
