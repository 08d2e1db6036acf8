"""Re-processing a quarantined CDR line by its id, on SQLite and PostgreSQL.

Invariant 4: every CDR is charged exactly once; a bad line is quarantined
with its reason, never dropped, and can be re-processed. A re-processed line
is charged once (a second call, or two at once, charge nothing more); one
that still fails stays quarantined with its retry recorded; the row is
marked, never deleted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, reservations
from billing.ingest import CdrSource, ingest_lines
from billing.invoicing.uningested import uningested_usage
from billing.reprocessing import UnknownQuarantineEntryError, reprocess_quarantined
from billing.tables import cdr_quarantine, cdrs, ledger_entries

from .cdrs import MOBILE, master_line

SYSTEM = "pbx1"
EUR = 1_000_000
NOW = datetime(2025, 8, 2, 10, 0, tzinfo=UTC)
FIXED_90_S = 15_000  # ro_fixed 0.01 EUR/min, 60/1: 90 s
MASTER = CdrSource("Master.csv", SYSTEM)
READ_AS_CLICKPHONE = CdrSource("Master.csv", SYSTEM, "clickphone")  # the wrong layout for these lines


async def quarantine_rows(engine: AsyncEngine) -> list:
    """Every quarantine row, with what re-processing marks on it."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(
                    cdr_quarantine.c.id, cdr_quarantine.c.reason, cdr_quarantine.c.retried_at,
                    cdr_quarantine.c.resolution, cdr_quarantine.c.resolved_at, cdr_quarantine.c.cdr_id,
                ).order_by(cdr_quarantine.c.id)
            )
        ).all()  # fmt: skip


async def charges(engine: AsyncEngine) -> list[tuple[int, int | None]]:
    """(amount, cdr id) of every ledger entry."""
    async with engine.connect() as conn:
        result = await conn.execute(select(ledger_entries.c.amount_micro, ledger_entries.c.cdr_id))
        return [tuple(row) for row in result]


async def cdr_ids(engine: AsyncEngine) -> dict[str, int]:
    """The id of every ingested CDR, by uniqueid."""
    async with engine.connect() as conn:
        return {row.uniqueid: row.id for row in await conn.execute(select(cdrs.c.uniqueid, cdrs.c.id))}


async def quarantined(engine: AsyncEngine, *lines: str, source: CdrSource = MASTER) -> int:
    """Ingest ``lines``, each of which must be quarantined; return the one row's id."""
    report = await ingest_lines(engine, list(lines), source)
    assert (report.charged, report.quarantined) == (0, len(lines))
    [row] = await quarantine_rows(engine)
    return row.id


async def test_a_line_of_an_account_opened_later_is_charged_once_and_its_row_marked(engine: AsyncEngine) -> None:
    """Unknown account at ingestion; once the account exists, re-processing
    charges the CDR once and marks the row (kept) with the CDR it became."""
    entry = await quarantined(engine, master_line("u1", account="acct-late"))
    account = await ledger.open_account(engine, code="acct-late")

    result = await reprocess_quarantined(engine, entry, now=NOW)

    [cdr_id] = (await cdr_ids(engine)).values()
    assert (result.resolution, result.cdr_id, result.tried, result.reason) == ("charged", cdr_id, True, None)
    assert await charges(engine) == [(-FIXED_90_S, cdr_id)]
    assert await ledger.balance_micro(engine, account.id) == -FIXED_90_S
    [row] = await quarantine_rows(engine)
    assert (row.id, row.retried_at, row.resolution, row.resolved_at, row.cdr_id) == (entry, NOW, "charged", NOW, cdr_id)


async def test_reprocessing_a_resolved_line_again_charges_nothing_more(engine: AsyncEngine) -> None:
    """Idempotent: a second call finds the line resolved, does nothing and
    says so; the ledger still holds one charge."""
    entry = await quarantined(engine, master_line("u1", account="acct-late"))
    await ledger.open_account(engine, code="acct-late")
    first = await reprocess_quarantined(engine, entry, now=NOW)

    again = await reprocess_quarantined(engine, entry, now=NOW + timedelta(hours=1))

    assert (again.resolution, again.cdr_id, again.tried) == ("charged", first.cdr_id, False)
    assert await charges(engine) == [(-FIXED_90_S, first.cdr_id)]
    [row] = await quarantine_rows(engine)
    assert (row.retried_at, row.resolved_at) == (NOW, NOW)


async def test_two_reprocessings_at_once_charge_once(engine: AsyncEngine) -> None:
    """Two callers re-processing the same line at the same time (two
    connections): the row's lock makes one charge it and the other find it
    resolved."""
    entry = await quarantined(engine, master_line("u1", account="acct-late"))
    await ledger.open_account(engine, code="acct-late")

    results = await asyncio.gather(*(reprocess_quarantined(engine, entry) for _ in range(2)))

    assert sorted(r.tried for r in results) == [False, True]
    assert {(r.resolution, r.cdr_id) for r in results} == {("charged", results[0].cdr_id)}
    assert await charges(engine) == [(-FIXED_90_S, results[0].cdr_id)]


async def test_a_line_that_still_fails_stays_quarantined_with_its_retry_recorded(engine: AsyncEngine) -> None:
    """The account still does not exist: nothing is charged, the row stays
    unresolved with when it was retried and why it still fails."""
    entry = await quarantined(engine, master_line("u1", account="nobody"))

    result = await reprocess_quarantined(engine, entry, now=NOW)

    assert (result.resolution, result.cdr_id, result.tried) == (None, None, True)
    assert result.reason == "unknown account code 'nobody'"
    assert await cdr_ids(engine) == {}
    assert await charges(engine) == []
    [row] = await quarantine_rows(engine)
    assert (row.reason, row.retried_at, row.resolution, row.resolved_at, row.cdr_id) == (
        "unknown account code 'nobody'", NOW, None, None, None,
    )


async def test_a_line_that_failed_a_retry_is_charged_by_a_later_one(engine: AsyncEngine) -> None:
    """A retry that fails changes nothing that would stop the next: once the
    cause is fixed the line is charged, once."""
    entry = await quarantined(engine, master_line("u1", account="acct-late"))
    await reprocess_quarantined(engine, entry, now=NOW)
    await ledger.open_account(engine, code="acct-late")

    result = await reprocess_quarantined(engine, entry, now=NOW + timedelta(days=1))

    assert (result.resolution, result.tried) == ("charged", True)
    assert await charges(engine) == [(-FIXED_90_S, result.cdr_id)]
    [row] = await quarantine_rows(engine)
    assert (row.retried_at, row.resolved_at) == (NOW + timedelta(days=1), NOW + timedelta(days=1))


async def test_a_line_read_with_the_wrong_layout_is_parsed_again_and_charged(engine: AsyncEngine) -> None:
    """A Master.csv line read as clickphone.csv (wrong field count) is parsed
    again with the layout given and rated like any ingested CDR."""
    await ledger.open_account(engine, code="acct-1")
    entry = await quarantined(engine, master_line("u1", dialled=MOBILE), source=READ_AS_CLICKPHONE)
    [row] = await quarantine_rows(engine)
    assert row.reason == "expected 20 fields for clickphone, got 21"

    result = await reprocess_quarantined(engine, entry, fmt="master")

    assert result.resolution == "charged"
    assert await cdr_ids(engine) == {"u1": result.cdr_id}
    assert await charges(engine) == [(-37_500, result.cdr_id)]  # ro_mobile 0.025 EUR/min × 90 s


async def test_a_cdr_ingested_since_is_resolved_already_charged_and_not_charged_twice(
    engine: AsyncEngine,
) -> None:
    """The file was ingested again after the account was opened, charging the
    CDR: re-processing its quarantined line finds that CDR and charges nothing."""
    line = master_line("u1", account="acct-late")
    entry = await quarantined(engine, line)
    await ledger.open_account(engine, code="acct-late")
    assert (await ingest_lines(engine, [line], MASTER)).charged == 1
    ingested = (await cdr_ids(engine))["u1"]

    result = await reprocess_quarantined(engine, entry, now=NOW)

    assert (result.resolution, result.cdr_id, result.tried) == ("already_charged", ingested, True)
    assert await charges(engine) == [(-FIXED_90_S, ingested)]
    [row] = await quarantine_rows(engine)
    assert (row.resolution, row.cdr_id) == ("already_charged", ingested)


async def test_the_charge_settles_the_live_reservation_of_its_call(engine: AsyncEngine) -> None:
    """Re-processing charges through ingestion's path: the call's live
    reservation is settled by the CDR's charge, as at ingestion."""
    account = await ledger.open_account(engine, code="acct-1")
    await ledger.top_up(engine, account.id, 5 * EUR)
    held = await reservations.reserve(engine, account.id, EUR, ttl=timedelta(hours=1), reference="u1")
    entry = await quarantined(engine, master_line("u1"), source=READ_AS_CLICKPHONE)

    await reprocess_quarantined(engine, entry)

    settled = await reservations.get_reservation(engine, held.id)
    assert (settled.state, settled.settled_micro, settled.settled_by) == ("settled", FIXED_90_S, "cdr:pbx1:u1")
    assert await ledger.available_credit_micro(engine, account.id) == 5 * EUR - FIXED_90_S


async def test_a_line_whose_stored_text_is_not_the_whole_line_is_not_parsed_again(engine: AsyncEngine) -> None:
    """A control character is stored shown as ``\\x1b``: that text is not the
    line (its SHA-256 differs), so it is not parsed as if it were — the line
    stays quarantined with its reason, its retry recorded."""
    await ledger.open_account(engine, code="acct-1")
    entry = await quarantined(engine, master_line("u1").replace('"Ana"', '"A\x1bna"'))
    [before] = await quarantine_rows(engine)

    result = await reprocess_quarantined(engine, entry, now=NOW)

    assert result.resolution is None
    assert result.reason is not None and "not the whole line" in result.reason
    assert await cdr_ids(engine) == {}
    [row] = await quarantine_rows(engine)
    assert (row.reason, row.retried_at, row.resolution) == (before.reason, NOW, None)
    assert before.reason.startswith("control character '\\x1b'")


async def test_an_unknown_quarantine_id_is_an_error(engine: AsyncEngine) -> None:
    """A quarantine id that does not exist is refused with its own error."""
    with pytest.raises(UnknownQuarantineEntryError, match="no quarantined CDR line 42"):
        await reprocess_quarantined(engine, 42)


async def test_a_resolved_unparsed_line_no_longer_counts_for_the_invoice_run(engine: AsyncEngine) -> None:
    """The invoice run reports unreadable quarantined lines of the period;
    one re-processed and charged is no longer among them."""
    await ledger.open_account(engine, code="acct-1")
    entry = await quarantined(engine, master_line("u1"), source=READ_AS_CLICKPHONE)
    period = (datetime(2025, 8, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))
    assert (await uningested_usage(engine, *period, datetime.now(UTC))).unparsed == 1

    await reprocess_quarantined(engine, entry, fmt="master")

    assert (await uningested_usage(engine, *period, datetime.now(UTC))).unparsed == 0
