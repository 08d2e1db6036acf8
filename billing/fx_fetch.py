"""Fetching BNR's reference rates over HTTP into the rate cache.

:func:`fetch_bnr_rates` GETs a BNR rates file (default: the daily
``nbrfxrates.xml``; ``nbrfxrates10days.xml`` or a yearly file catch up on
missed days), parses it with :func:`billing.fx_bnr.parse_bnr_xml` (both
namespaces, multipliers divided out) and stores every rate in it
(:func:`billing.fx_store.store_rates`, source ``bnr``). Idempotent: fetching
the same file again changes nothing.

The HTTP GET is aiohttp's, on the event loop (no worker thread), with a
session of its own per fetch: one small document a day needs no shared
pool. Timeouts are explicit (for connecting, for each read, and for the
whole fetch), the body is bounded (:data:`MAX_BYTES`, checked on the
announced length and again while reading), only ``http``/``https`` URLs
are accepted, and every failure is one error type, :class:`FxFetchError`,
whose message names the URL and what went wrong (the HTTP status, a
timeout, the size, a body that is not a BNR file). The proxy comes from
the environment (``https_proxy``, ``no_proxy``…) read by the standard
library's own rules, as when the GET was urllib's. A caller with its own
HTTP client passes ``get``.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import aiohttp

from billing.fx_bnr import FxError, FxParseError, parse_bnr_xml
from billing.fx_store import INVOICE_CURRENCY, store_rates
from billing.invoicing.tables import BNR
from sqlbase import Db

DEFAULT_BNR_URL = "https://www.bnr.ro/nbrfxrates.xml"
"""BNR's daily reference rates (published on banking days around 13:00 Bucharest)."""

BNR_10_DAYS_URL = "https://www.bnr.ro/nbrfxrates10days.xml"
"""The last ten banking days: to catch up after missed fetches."""

DEFAULT_TIMEOUT = 30.0
"""Seconds for the whole fetch (and for connecting, and for each read)."""

MAX_BYTES = 4 * 1024 * 1024
"""A yearly BNR file is a few hundred kB; anything much larger is not one."""

USER_AGENT = "clickphone-fx/1 (+BNR reference rates)"
_CHUNK_BYTES = 64 * 1024

Getter = Callable[[str, float], Awaitable[bytes]]
"""``get(url, timeout)`` → the response body; raises :class:`FxFetchError`."""


class FxFetchError(FxError):
    """The rates file could not be fetched, or is not a BNR rates file."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot fetch BNR rates from {url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class FetchReport:
    """What one fetch stored: the publication days, the rates, EUR per day."""

    url: str
    days: tuple[date, ...]
    rates: int
    eur: dict[date, Decimal]

    @property
    def latest_day(self) -> date:
        """The newest publication in the file."""
        return max(self.days)


async def fetch_bnr_rates(
    db: Db,
    url: str = DEFAULT_BNR_URL,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    get: Getter | None = None,
    now: datetime | None = None,
) -> FetchReport:
    """GET the BNR rates file at ``url``, store its rates (source ``bnr``) and say what it held.

    Raise :class:`FxFetchError` (network, HTTP status, timeout, size, or a
    body that is not a BNR rates file); nothing is stored then.
    """
    body = await (get or http_get)(url, timeout)
    try:
        rates = parse_bnr_xml(body)
    except FxParseError as exc:
        raise FxFetchError(url, f"not a BNR rates file ({exc})") from exc
    count = await store_rates(db, rates, source=BNR, now=now)
    eur = {day: day_rates[INVOICE_CURRENCY] for day, day_rates in rates.items() if INVOICE_CURRENCY in day_rates}
    return FetchReport(url, tuple(sorted(rates)), count, dict(sorted(eur.items())))


async def http_get(url: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Return the body of ``GET url`` (2xx only, redirects followed); raise :class:`FxFetchError`."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FxFetchError(url, f"only http and https URLs are fetched, not {scheme or 'a bare path'!r}")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    # total bounds a server that trickles bytes; connect and read bound each wait
    limits = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout, sock_read=timeout)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/xml, text/xml"}
    try:
        async with aiohttp.ClientSession(timeout=limits, headers=headers) as session:
            async with session.get(url, proxy=_proxy_for(url)) as response:
                if not 200 <= response.status < 300:
                    raise FxFetchError(url, f"HTTP {response.status} {response.reason or ''}".rstrip())
                return await _bounded_body(url, response)
    except (TimeoutError, asyncio.TimeoutError):
        raise FxFetchError(url, f"no complete answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:  # refused, reset mid-body, bad answer...
        raise FxFetchError(url, str(exc) or type(exc).__name__) from None


def _proxy_for(url: str) -> str | None:
    # urllib's reading of the environment, synchronous and cheap (aiohttp's
    # trust_env reads it, and ~/.netrc, in a worker thread)
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    if not proxies or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxies.get(parts.scheme.lower())


async def _bounded_body(url: str, response: aiohttp.ClientResponse) -> bytes:
    too_large = FxFetchError(url, f"the answer is larger than {MAX_BYTES} bytes")
    if response.content_length is not None and response.content_length > MAX_BYTES:
        raise too_large
    # read in chunks: a server that announces no length (or lies) is cut off at the bound
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
