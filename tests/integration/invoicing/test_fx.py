"""BNR rates: the fetcher against a local HTTP server serving BNR-format files,
the cache, manual overrides and the rate of an invoice. Both databases.

The server is real (aiohttp on 127.0.0.1); the files are in BNR's own
format (http and https namespaces, multipliers, daily and yearly files).
"""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import fx_fetch, fx_store
from billing.fx_bnr import MissingRateError, StaleRateError
from billing.fx_fetch import FxFetchError, fetch_bnr_rates
from billing.invoicing.tables import fx_rates

from tests.fixtures.ports import free_port

from .conftest import DATA, SLOW_SECONDS
from .support import count



async def test_the_daily_file_is_fetched_and_stored(engine: AsyncEngine, bnr_server: str) -> None:
    report = await fetch_bnr_rates(engine, f"{bnr_server}/nbrfxrates.xml")

    assert report.days == (date(2025, 8, 1),)
    assert report.eur == {date(2025, 8, 1): Decimal("5.0720")}
    assert report.rates == await count(engine, fx_rates) == 18
    stored = await fx_store.stored_rate_on(engine, date(2025, 8, 1))
    assert stored == fx_store.StoredRate("EUR", date(2025, 8, 1), Decimal("5.0720"), "bnr")


async def test_a_multiplier_is_divided_out_before_storing(engine: AsyncEngine, bnr_server: str) -> None:
    """BNR quotes HUF per 100 units: what is stored is RON per ONE forint."""
    await fetch_bnr_rates(engine, f"{bnr_server}/nbrfxrates.xml")

    huf = await fx_store.stored_rate_on(engine, date(2025, 8, 1), "HUF")

    assert huf is not None and huf.rate == Decimal("0.012345")


async def test_the_https_namespace_is_accepted(engine: AsyncEngine, bnr_server: str) -> None:
    report = await fetch_bnr_rates(engine, f"{bnr_server}/https-namespace.xml")

    assert report.eur == {date(2025, 8, 1): Decimal("5.0720")}


async def test_a_yearly_file_fills_every_day(engine: AsyncEngine, bnr_server: str) -> None:
    report = await fetch_bnr_rates(engine, f"{bnr_server}/nbrfxrates2025.xml")

    assert len(report.days) == 38
    stored = await fx_store.stored_rates(engine, date(2025, 1, 1), date(2025, 12, 31))
    assert [r.day for r in stored] == list(report.days)


async def test_fetching_the_same_file_again_changes_nothing(engine: AsyncEngine, bnr_server: str) -> None:
    await fetch_bnr_rates(engine, f"{bnr_server}/nbrfxrates.xml")
    await fetch_bnr_rates(engine, f"{bnr_server}/nbrfxrates.xml")

    assert await count(engine, fx_rates) == 18


async def test_an_http_error_is_a_clear_error_and_stores_nothing(engine: AsyncEngine, bnr_server: str) -> None:
    with pytest.raises(FxFetchError, match=r"cannot fetch BNR rates from http://127\.0\.0\.1:\d+/gone\.xml: HTTP 404"):
        await fetch_bnr_rates(engine, f"{bnr_server}/gone.xml")

    assert await count(engine, fx_rates) == 0


async def test_a_page_that_is_not_a_bnr_file_is_refused(engine: AsyncEngine, bnr_server: str) -> None:
    with pytest.raises(FxFetchError, match="not a BNR rates file"):
        await fetch_bnr_rates(engine, f"{bnr_server}/maintenance.xml")


async def test_a_malformed_rate_is_refused_and_nothing_is_stored(engine: AsyncEngine, bnr_server: str) -> None:
    with pytest.raises(FxFetchError, match="EUR: rate '5,0720' is not a number"):
        await fetch_bnr_rates(engine, f"{bnr_server}/broken.xml")

    assert await count(engine, fx_rates) == 0


async def test_a_server_that_does_not_answer_in_time_is_a_timeout(engine: AsyncEngine, bnr_server: str) -> None:
    started = time.monotonic()

    with pytest.raises(FxFetchError, match="within 0.3 s"):
        await fetch_bnr_rates(engine, f"{bnr_server}/slow.xml", timeout=0.3)

    assert time.monotonic() - started < SLOW_SECONDS


async def test_an_answer_too_large_for_a_rates_file_is_refused(
    engine: AsyncEngine, bnr_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fx_fetch, "MAX_BYTES", 1000)

    with pytest.raises(FxFetchError, match="larger than 1000 bytes"):
        await fetch_bnr_rates(engine, f"{bnr_server}/nbrfxrates2025.xml")


async def test_a_server_error_is_a_clear_error_and_stores_nothing(engine: AsyncEngine, bnr_server: str) -> None:
    """BNR answering 500 is an FxFetchError naming the URL and the status; no rate is stored."""
    with pytest.raises(FxFetchError, match=r"cannot fetch BNR rates from http://127\.0\.0\.1:\d+/error\.xml: HTTP 500 Internal Server Error"):
        await fetch_bnr_rates(engine, f"{bnr_server}/error.xml")

    assert await count(engine, fx_rates) == 0


async def test_an_unannounced_answer_past_the_bound_is_cut_off_while_reading(
    engine: AsyncEngine, bnr_server: str
) -> None:
    """A chunked answer with no Content-Length, twice the bound, is refused once
    the bound is passed (4 MiB, the real one); nothing is stored."""
    with pytest.raises(FxFetchError, match=f"larger than {4 * 1024 * 1024} bytes"):
        await fetch_bnr_rates(engine, f"{bnr_server}/huge.xml")

    assert await count(engine, fx_rates) == 0


async def test_a_truncated_rates_file_is_refused(engine: AsyncEngine, bnr_server: str) -> None:
    """Half a BNR file (XML that does not parse) is "not a BNR rates file"; nothing is stored."""
    with pytest.raises(FxFetchError, match="not a BNR rates file"):
        await fetch_bnr_rates(engine, f"{bnr_server}/truncated.xml")

    assert await count(engine, fx_rates) == 0


async def test_the_get_runs_on_the_event_loop_without_a_worker_thread(bnr_server: str) -> None:
    """The GET is asynchronous I/O (aiohttp), not a blocking client in a thread:
    fetching starts no thread (a worker of the loop's executor would stay alive)."""
    threads_before = set(threading.enumerate())

    body = await fx_fetch.http_get(f"{bnr_server}/nbrfxrates.xml")

    assert body == (DATA / "nbrfxrates.xml").read_bytes()
    assert set(threading.enumerate()) - threads_before == set()


async def test_nobody_listening_is_a_clear_error(engine: AsyncEngine) -> None:
    with pytest.raises(FxFetchError, match="cannot fetch BNR rates from http://127.0.0.1"):
        await fetch_bnr_rates(engine, f"http://127.0.0.1:{free_port()}/nbrfxrates.xml", timeout=2)


async def test_only_http_urls_are_fetched(engine: AsyncEngine) -> None:
    with pytest.raises(FxFetchError, match="only http and https"):
        await fetch_bnr_rates(engine, f"file://{DATA / 'nbrfxrates.xml'}")


# -- the rate an invoice uses ---------------------------------------------------------------


async def test_the_invoice_rate_is_the_latest_before_the_issue_date(engine: AsyncEngine) -> None:
    await fx_store.store_rates(engine, {date(2025, 7, 30): {"EUR": Decimal("5.07")}, date(2025, 7, 31): {"EUR": Decimal("5.08")}})

    rate = await fx_store.rate_for_invoice(engine, date(2025, 8, 1))

    assert (rate.day, rate.rate, rate.source) == (date(2025, 7, 31), Decimal("5.08"), "bnr")


async def test_the_issue_dates_own_publication_counts_only_when_asked(engine: AsyncEngine) -> None:
    await fx_store.store_rates(engine, {date(2025, 7, 31): {"EUR": Decimal("5.08")}, date(2025, 8, 1): {"EUR": Decimal("5.09")}})

    same_day = await fx_store.rate_for_invoice(engine, date(2025, 8, 1), same_day=True)

    assert same_day.day == date(2025, 8, 1)


async def test_after_a_weekend_friday_s_rate_is_used(engine: AsyncEngine) -> None:
    """1 September 2025 is a Monday: Friday 29 August's rate is three days old."""
    await fx_store.store_rates(engine, {date(2025, 8, 29): {"EUR": Decimal("5.07")}})

    assert (await fx_store.rate_for_invoice(engine, date(2025, 9, 1))).day == date(2025, 8, 29)


async def test_a_manual_rate_wins_over_bnr(engine: AsyncEngine) -> None:
    await fx_store.store_rates(engine, {date(2025, 7, 31): {"EUR": Decimal("5.08")}})
    await fx_store.set_manual_rate(engine, date(2025, 7, 31), "5.1")
    await fx_store.store_rates(engine, {date(2025, 7, 31): {"EUR": Decimal("5.0801")}})  # a later fetch

    rate = await fx_store.rate_for_invoice(engine, date(2025, 8, 1))

    assert (rate.rate, rate.source) == (Decimal("5.1"), "manual")


async def test_a_manual_rate_stands_in_for_a_missing_bnr_one(engine: AsyncEngine) -> None:
    await fx_store.set_manual_rate(engine, date(2025, 7, 31), Decimal("5.0720"))

    assert (await fx_store.rate_for_invoice(engine, date(2025, 8, 1))).source == "manual"


async def test_no_rate_at_all_is_missing(engine: AsyncEngine) -> None:
    with pytest.raises(MissingRateError, match="no BNR rate for EUR published on or before 2025-07-31"):
        await fx_store.rate_for_invoice(engine, date(2025, 8, 1))


async def test_an_old_rate_is_stale(engine: AsyncEngine) -> None:
    await fx_store.store_rates(engine, {date(2025, 7, 1): {"EUR": Decimal("5.07")}})

    with pytest.raises(StaleRateError, match="2025-07-01, 31 days old"):
        await fx_store.rate_for_invoice(engine, date(2025, 8, 1))


@pytest.mark.parametrize("bad", ["0", "-5.07", "abc", "NaN", "Infinity", ""])
async def test_a_manual_rate_must_be_a_positive_number(engine: AsyncEngine, bad: str) -> None:
    with pytest.raises(fx_store.InvalidRateError):
        await fx_store.set_manual_rate(engine, date(2025, 7, 31), bad)
