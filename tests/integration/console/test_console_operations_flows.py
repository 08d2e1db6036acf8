"""The console's operations in a real browser (issue 13, item 5): search
calls and download their CSV (the file's rows checked), re-process a
quarantined CDR line, and assign a number to a subscriber."""

from __future__ import annotations

import csv
import io

from access import audit
from access.roles import OPERATOR, SUPPORT
from billing import ledger
from provisioning import services as provisioning
from tests.integration.admin.support import new_subscriber

from .operations import quarantined_line, rated_calls
from .support import browser_login, new_user


async def _logged_in(engine, console, page, role=OPERATOR) -> str:
    name = await new_user(engine, role)
    await browser_login(page, console, name)
    await page.wait_for_url(f"{console}/console/")
    return name


async def test_a_call_search_and_its_csv_download_have_the_same_calls(engine, console, page) -> None:
    """Filter by account, days and disposition; the table and the downloaded CSV list the same calls."""
    created = await new_subscriber(engine, code="FLOWCALL")
    await new_subscriber(engine, code="FLOWNOISE")
    await rated_calls(engine, "FLOWCALL", days=3, per_day=2)
    await rated_calls(engine, "FLOWCALL", days=3, answered=False)
    await rated_calls(engine, "FLOWNOISE", days=3)
    await _logged_in(engine, console, page)
    await page.click("nav >> text=Calls")
    await page.fill("[data-testid=call-search] input[name=account]", str(created.account.id))
    await page.fill("[data-testid=call-search] input[name=from]", "2025-08-03")
    await page.fill("[data-testid=call-search] input[name=to]", "2025-08-04")
    await page.select_option("[data-testid=call-search] select[name=disposition]", "ANSWERED")
    await page.click("[data-testid=call-search] button")
    await page.wait_for_url("**/console/calls?*disposition=ANSWERED*")
    shown = await page.locator("[data-testid=calls] tbody tr").all_inner_texts()
    assert len(shown) == 4 and all("FLOWCALL" in row and "ANSWERED" in row for row in shown)
    async with page.expect_download() as started:
        await page.get_by_test_id("export-csv").click()
    download = await started.value
    assert download.suggested_filename == "calls.csv"
    with open(await download.path(), encoding="utf-8") as file:
        rows = list(csv.DictReader(io.StringIO(file.read())))
    assert sorted(r["uniqueid"] for r in rows) == sorted(f"FLOWCALL-a-{day}-{i}" for day in (1, 2) for i in (0, 1))
    assert {(r["account_code"], r["disposition"]) for r in rows} == {("FLOWCALL", "ANSWERED")}
    assert [r["id"] for r in rows] == [row.split("\t")[0].strip() for row in shown]


async def test_support_reprocesses_a_quarantined_line_from_the_list(engine, console, page) -> None:
    """The waiting line's button charges it once its account exists; the list then shows it charged."""
    await quarantined_line(engine, "FLOWLATE")
    name = await _logged_in(engine, console, page, SUPPORT)
    await page.click("nav >> text=Quarantine")
    row = page.locator("[data-testid=quarantine] tbody tr", has_text="FLOWLATE")
    assert "waiting" in await row.inner_text()
    account = await ledger.open_account(engine, code="FLOWLATE")
    await row.locator("button").click()
    await page.wait_for_url("**/console/quarantine?resolved=1&left=0")
    assert "1 charged" in await page.get_by_test_id("reprocessed").inner_text()
    assert "charged" in await page.locator("[data-testid=quarantine] tbody tr", has_text="FLOWLATE").inner_text()
    assert await ledger.balance_micro(engine, account.id) == -15_000
    [entry] = (await audit.list_entries(engine)).entries
    assert (entry.action, entry.actor) == ("reprocess", name)


async def test_an_operator_assigns_a_number_to_a_subscriber(engine, console, page, plane) -> None:
    """The assign form takes the number as a person writes it; the list shows it in E.164."""
    created = await new_subscriber(engine, code="FLOWDID")
    await _logged_in(engine, console, page)
    await page.click("nav >> text=Numbers")
    await page.fill("[data-testid=assign] input[name=number]", "031 234 5679")
    await page.fill("[data-testid=assign] input[name=subscriber_id]", str(created.subscriber.id))
    await page.click("[data-testid=assign] button")
    await page.wait_for_url("**/console/dids?assigned=40312345679")
    assert "+40312345679" in await page.get_by_test_id("dids").inner_text()
    [did] = await provisioning.list_dids(engine)
    assert (did.number, did.subscriber_id) == ("40312345679", created.subscriber.id)
    assert plane.provisioning_changes == 1
    [entry] = (await audit.list_entries(engine)).entries
    assert (entry.action, entry.resource, entry.resource_id) == ("assign", "did", "40312345679")
