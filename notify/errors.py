"""One error type per way notify can refuse or fail."""

from __future__ import annotations


class NotifyError(Exception):
    """Base of every error notify raises."""


class InvalidEmailError(NotifyError, ValueError):
    """An email cannot be queued or built as given; the message names the
    field and its rule, never the value (it may be personal data)."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: must be {rule}")
        self.field = field
        self.rule = rule


class HeaderInjectionError(InvalidEmailError):
    """The serialised email has headers other than the ones we set: some value
    smuggled a header in. Never sent (invariant 7)."""

    def __init__(self, unexpected: list[str]) -> None:
        super().__init__("headers", f"only the ones notify sets, not {unexpected}")
        self.unexpected = unexpected


class MarketingConsentMissingError(NotifyError):
    """Marketing email for an account without recorded, unwithdrawn consent."""

    def __init__(self, account_id: int | None) -> None:
        super().__init__(f"account {account_id} has no recorded marketing consent")
        self.account_id = account_id


class SmtpConfigError(NotifyError, ValueError):
    """The SMTP settings cannot work (or would leak the password)."""


class SmtpError(NotifyError):
    """Base of the failures to hand an email to the SMTP server; the
    dispatcher retries both kinds with backoff."""


class SmtpUnavailableError(SmtpError):
    """No usable connection: refused, timed out, dropped, TLS failed. The
    email is delayed, not lost."""


class SmtpRejectedError(SmtpError):
    """The server answered with an error code (``code`` is None when it did
    not offer what we required, such as STARTTLS)."""

    def __init__(self, code: int | None, reply: str) -> None:
        super().__init__(f"SMTP {code}: {reply}" if code is not None else f"SMTP: {reply}")
        self.code = code
        self.reply = reply

    @property
    def permanent(self) -> bool:
        """True for a 5xx answer (the server says retrying will not help)."""
        return self.code is not None and 500 <= self.code < 600


class CatcherError(NotifyError):
    """The local SMTP catcher cannot run as asked."""
