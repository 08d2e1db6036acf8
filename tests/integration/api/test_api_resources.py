"""/api/v1's first resources over the owners' services, on SQLite and
PostgreSQL: keyset pages that walk every row exactly once, bounded page
sizes, opaque cursors, the streamed CSV export, and re-processing
quarantined CDR lines (invariant 4) through the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from billing import ledger
from billing.ingest import CdrSource, ingest_lines
from tests.integration.admin.support import new_subscriber
from tests.integration.admin.test_http_admin import AUTH
from tests.integration.billing.cdrs import master_line
from web import call_export
from web.api.schemas import MAX_PAGE_SIZE

API = "/api/v1"
START = datetime(2025, 8, 2, 10, 0, tzinfo=UTC)


async def _walk(client, path: str, limit: int) -> tuple[list[dict], int]:
    """Every item of a list, page by page; and how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=AUTH)
        assert response.status == 200, await response.text()
        page = await response.json()
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


async def _calls(engine, count: int, account: str = "CALLS") -> None:
    await ledger.open_account(engine, code=account)
    lines = [master_line(f"{account}-{i}", account=account, start=START + timedelta(minutes=i)) for i in range(count)]
    report = await ingest_lines(engine, lines, CdrSource("Master.csv", "pbx1"))
    assert report.charged == count


async def test_subscriber_pages_at_the_maximum_size_walk_every_row_exactly_once(engine, client) -> None:
    """Issue 13 item 1: lists are paginated with a maximum page size; the
    keyset cursor walks all rows, none twice, none missed."""
    for i in range(MAX_PAGE_SIZE + 5):
        await new_subscriber(engine, code=f"S{i:03d}")
    items, pages = await _walk(client, f"{API}/subscribers", MAX_PAGE_SIZE)
    ids = [item["id"] for item in items]
    assert len(ids) == MAX_PAGE_SIZE + 5 == len(set(ids)) and pages == 2
    assert ids == sorted(ids)


async def test_subscriber_search_matches_account_code_and_email(engine, client) -> None:
    """Search looks in name, email, SIP username and account code, case folded."""
    await new_subscriber(engine, code="ALPHA")
    await new_subscriber(engine, code="BETA")
    for text in ("alpha", "ep-alpha", "alpha@example"):
        response = await client.get(f"{API}/subscribers", params={"search": text}, headers=AUTH)
        assert [s["email"] for s in (await response.json())["items"]] == ["alpha@example.com"], text


async def test_a_limit_over_the_maximum_is_400_naming_limit(client) -> None:
    """Every list has a maximum page size: past it, 400 naming ``limit``."""
    response = await client.get(f"{API}/calls", params={"limit": str(MAX_PAGE_SIZE + 1)}, headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "limit"


async def test_a_bad_cursor_is_400_naming_cursor(client) -> None:
    """A cursor this API did not give answers 400 naming ``cursor``, never 500."""
    for cursor in ("garbage", "a2s6LTE", "!!"):
        response = await client.get(f"{API}/subscribers", params={"cursor": cursor}, headers=AUTH)
        assert response.status == 400, cursor
        assert (await response.json())["error"]["field"] == "cursor"


async def test_a_search_over_64_characters_is_400_naming_search(client) -> None:
    """The search text is bounded (64 characters)."""
    response = await client.get(f"{API}/subscribers", params={"search": "x" * 65}, headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "search"


async def test_the_account_shows_its_money_as_decimal_strings(engine, client) -> None:
    """Invariant 1: balance, reserved, available and spend are exact decimal strings."""
    created = await new_subscriber(engine, code="MONEY")
    await ledger.top_up(engine, created.account.id, 12_345_678, reference="t")
    response = await client.get(f"{API}/accounts/{created.account.id}", headers=AUTH)
    assert response.status == 200
    account = await response.json()
    assert (account["code"], account["balance"], account["reserved"]) == ("MONEY", "12.345678", "0.000000")
    assert account["available"] == "12.345678" and account["suspension"] is None


async def test_the_ledger_walks_newest_first_exactly_once(engine, client) -> None:
    """The ledger list is newest first; pages of 2 walk all 5 entries once."""
    created = await new_subscriber(engine, code="LEDG")
    for amount in range(1, 6):
        await ledger.top_up(engine, created.account.id, amount * 1_000_000, reference=f"t{amount}")
    items, pages = await _walk(client, f"{API}/accounts/{created.account.id}/ledger", 2)
    assert [item["amount"] for item in items] == ["5.000000", "4.000000", "3.000000", "2.000000", "1.000000"]
    assert pages == 3


async def test_the_calls_list_filters_and_walks_every_call_once(engine, client) -> None:
    """Calls of an account, paginated at the maximum size, none twice."""
    await _calls(engine, MAX_PAGE_SIZE + 3)
    await _calls(engine, 2, account="OTHER")
    account = await ledger.find_account(engine, "CALLS")
    items, _ = await _walk(client, f"{API}/calls?account={account.id}", MAX_PAGE_SIZE)
    assert len(items) == MAX_PAGE_SIZE + 3 == len({item["id"] for item in items})
    assert {item["account_code"] for item in items} == {"CALLS"}
    assert all(item["cost"] == "0.015000" for item in items)  # 90 s at 0.01 EUR/min


async def test_the_csv_export_is_chunked_and_matches_the_json_list(engine, client, monkeypatch) -> None:
    """Issue 13 item 1: the CSV export is streamed (chunked, not built in
    memory, read in keyset batches — here of 2) and has the same calls as
    the JSON list, in its order."""
    monkeypatch.setattr(call_export, "EXPORT_BATCH", 2)
    await _calls(engine, 7)
    since = (START + timedelta(minutes=2)).isoformat()
    listed = await client.get(f"{API}/calls", params={"from": since}, headers=AUTH)
    exported = await client.get(f"{API}/calls.csv", params={"from": since}, headers=AUTH)
    assert exported.status == 200 and exported.content_type == "text/csv"
    assert exported.headers.get("Transfer-Encoding") == "chunked"
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    items = (await listed.json())["items"]
    assert len(rows) == 5
    assert [(r["id"], r["cost"], r["dialled"]) for r in rows] == [(str(i["id"]), i["cost"], i["dialled"])
                                                                  for i in items]


async def test_quarantined_lines_are_listed_and_reprocessed_through_the_api(engine, client) -> None:
    """Invariant 4: a line quarantined (its account unknown) is listed; once
    the account exists, re-processing through the API charges it once;
    again charges nothing more."""
    source = CdrSource("Master.csv", "pbx1")
    report = await ingest_lines(engine, [master_line("late1", account="LATE")], source)
    assert report.quarantined == 1
    [line] = (await (await client.get(f"{API}/quarantine", headers=AUTH)).json())["items"]
    assert line["resolution"] is None and line["account_code"] == "LATE"

    still = await (await client.post(f"{API}/quarantine/reprocess", headers=AUTH)).json()
    assert (still["resolved"], still["still_quarantined"]) == (0, 1)

    account = await ledger.open_account(engine, code="LATE")
    done = await client.post(f"{API}/quarantine/reprocess", json={"id": line["id"]}, headers=AUTH)
    assert done.status == 200
    [result] = (await done.json())["results"]
    assert result["resolution"] == "charged" and result["tried"] is True
    assert await ledger.balance_micro(engine, account.id) == -15_000

    again = await (await client.post(f"{API}/quarantine/reprocess", headers=AUTH)).json()
    assert again["results"] == [] and await ledger.balance_micro(engine, account.id) == -15_000


async def test_reprocessing_an_unknown_line_is_404(client) -> None:
    """An id no quarantined line has answers 404 in the one error shape."""
    response = await client.post(f"{API}/quarantine/reprocess", json={"id": 424242}, headers=AUTH)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_fx_and_downtime_ranges_are_bounded(client) -> None:
    """Day ranges are required, ordered and at most 366 days; within them, a list."""
    ok = await client.get(f"{API}/downtime", params={"from": "2025-01-01", "to": "2025-12-31"}, headers=AUTH)
    assert ok.status == 200 and (await ok.json())["items"] == []
    too_long = await client.get(f"{API}/fx-rates", params={"from": "2024-01-01", "to": "2025-12-31"}, headers=AUTH)
    assert too_long.status == 400 and (await too_long.json())["error"]["field"] == "to"
    missing = await client.get(f"{API}/fx-rates", params={"to": "2025-12-31"}, headers=AUTH)
    assert missing.status == 400 and (await missing.json())["error"]["field"] == "from"
