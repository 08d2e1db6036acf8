"""What can go wrong talking to ARI, one type per failure.

``AriFailure`` is the common base, so a caller that only needs to know "the
request did not succeed" catches one type; a caller that must tell them
apart (retry on a timeout, give up on a 404) catches the subclasses.
"""

from __future__ import annotations


class AriFailure(Exception):
    """An ARI request or the ARI event connection did not succeed."""


class AriError(AriFailure):
    """ARI answered with an HTTP error status.

    ``status`` is the HTTP status, ``message`` ARI's own explanation (the
    ``message`` field of its JSON error body, else the body's text).
    """

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f" ({method} {path})" if method else ""
        super().__init__(f"ARI {status}: {message}{where}")


class AriConnectionError(AriFailure):
    """Asterisk cannot be reached: connection refused, reset or closed
    before it answered."""


class AriTimeout(AriFailure):
    """ARI did not answer within the request's timeout."""


class AriClientClosed(AriFailure):
    """The client was closed; it makes no more requests."""
