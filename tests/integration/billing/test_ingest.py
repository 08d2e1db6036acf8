"""CDR ingestion, on SQLite and PostgreSQL.

Invariant 4: every CDR is charged exactly once; a bad line is quarantined
with its reason, never dropped, never fatal for the rest.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing import ledger, reservations
from billing.cdr_format import RAW_PREFIX_CHARS
from billing.ingest import CdrSource, ingest_file, ingest_lines
from billing.tables import bundle_usage, cdr_quarantine, cdrs, ledger_entries

from .cdrs import FIXED, GERMANY, MOBILE, T0, clickphone_line, master_line

EUR = 1_000_000
SYSTEM = "pbx1"


async def rows(engine: AsyncEngine, table, *columns, order_by=None):
    async with engine.connect() as conn:
        query = select(*columns).select_from(table)
        return (
            await conn.execute(query.order_by(order_by if order_by is not None else columns[0]))
        ).all()


async def count(engine: AsyncEngine, table) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def ledger_total(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(select(func.coalesce(func.sum(ledger_entries.c.amount_micro), 0)))
        )


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


async def test_a_cdr_becomes_a_rated_row_and_one_charge(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    path = write(tmp_path / "Master.csv", master_line("1754042400.1", dialled=MOBILE, billsec=90))

    report = await ingest_file(engine, path, system_name=SYSTEM)

    assert (report.lines, report.charged, report.cost_micro) == (1, 1, 37_500)  # 0.025 €/min × 90 s
    [cdr] = await rows(
        engine,
        cdrs,
        cdrs.c.system_name,
        cdrs.c.uniqueid,
        cdrs.c.number_class,
        cdrs.c.billable_seconds,
        cdrs.c.cost_micro,
    )
    assert tuple(cdr) == (SYSTEM, "1754042400.1", "ro_mobile", 90, 37_500)
    [entry] = await ledger.list_entries(engine, account.id)
    assert (entry.kind, entry.amount_micro, entry.cdr_id) == ("call_charge", -37_500, 1)


async def test_ingesting_a_file_twice_changes_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    path = write(
        tmp_path / "Master.csv",
        master_line("u1", billsec=61),
        "garbage\n",
        master_line("u2", account="nobody"),
        master_line("u3", dialled=MOBILE, billsec=300),
    )
    first = await ingest_file(engine, path, system_name=SYSTEM)
    balance = await ledger.balance_micro(engine, account.id)

    again = await ingest_file(engine, path, system_name=SYSTEM)

    assert (first.charged, again.charged, again.duplicates) == (2, 0, 2)
    assert await ledger.balance_micro(engine, account.id) == balance == -(10_167 + 125_000)
    assert await count(engine, cdrs) == 2
    assert await count(engine, cdr_quarantine) == 2


async def test_the_same_uniqueid_from_another_system_is_another_cdr(engine: AsyncEngine) -> None:
    """The idempotency key is system name + uniqueid (clickphone.csv carries the system)."""
    await ledger.open_account(engine, code="acct-1")
    lines = [clickphone_line("pbx1", "1754042400.9"), clickphone_line("pbx2", "1754042400.9")]

    report = await ingest_lines(engine, lines, CdrSource("clickphone.csv", "fallback"))

    assert report.charged == 2
    assert [tuple(r) for r in await rows(engine, cdrs, cdrs.c.system_name)] == [
        ("pbx1",),
        ("pbx2",),
    ]


async def test_a_bad_line_is_quarantined_with_file_line_and_reason_and_the_rest_charged(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ledger.open_account(engine, code="acct-1")
    bad = master_line("u2").replace('"ANSWERED"', '"MAYBE"')
    path = write(tmp_path / "Master.csv", master_line("u1"), bad, master_line("u3"))

    report = await ingest_file(engine, path, system_name=SYSTEM)

    assert (report.charged, report.quarantined) == (2, 1)
    [quarantined] = await rows(
        engine,
        cdr_quarantine,
        cdr_quarantine.c.file,
        cdr_quarantine.c.line_number,
        cdr_quarantine.c.reason,
        cdr_quarantine.c.raw,
    )
    assert quarantined.file == str(path)
    assert quarantined.line_number == 2
    assert "disposition" in quarantined.reason
    assert quarantined.raw == bad.rstrip("\n")


async def test_lines_past_their_bounds_are_quarantined_by_prefix_and_hash_not_charged(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Issue 10, defect 10, and invariant 4: a line with a NUL byte, Latin-1
    text, a 5,014-character uniqueid or 2 MiB long is quarantined, never
    charged; the quarantine keeps at most its first 1,024 characters and the
    SHA-256 and length of the whole line; the good lines around it are charged."""
    await ledger.open_account(engine, code="acct-1")
    bad = [
        master_line("u-nul").replace("Ana", "A\x00na").encode(),
        master_line("u-latin1").replace("Ana", "Ané").encode("latin-1"),
        master_line("9" * 5014, linkedid="l1").encode(),
        master_line("u-huge").replace("Ana", "A" * (2 * 1024 * 1024)).encode(),
    ]
    path = tmp_path / "Master.csv"
    path.write_bytes(master_line("u1").encode() + b"".join(bad) + master_line("u2").encode())

    report = await ingest_file(engine, path, system_name=SYSTEM)

    assert (report.lines, report.charged, report.quarantined) == (6, 2, 4)
    assert [tuple(r) for r in await rows(engine, cdrs, cdrs.c.uniqueid)] == [("u1",), ("u2",)]
    assert await count(engine, ledger_entries) == 2
    quarantined = await rows(
        engine, cdr_quarantine, cdr_quarantine.c.line_number, cdr_quarantine.c.reason,
        cdr_quarantine.c.raw, cdr_quarantine.c.raw_sha256, cdr_quarantine.c.raw_length,
    )  # fmt: skip
    assert [q.line_number for q in quarantined] == [2, 3, 4, 5]
    for q, line in zip(quarantined, bad):
        assert len(q.raw) <= RAW_PREFIX_CHARS
        assert (q.raw_sha256, q.raw_length) == (hashlib.sha256(line).hexdigest(), len(line))
    assert ["control character" in quarantined[0].reason, "not UTF-8" in quarantined[1].reason] == [True, True]
    assert "uniqueid is 5014 characters" in quarantined[2].reason
    assert f"line is {len(bad[3])} bytes" in quarantined[3].reason

    again = await ingest_file(engine, path, system_name=SYSTEM)  # idempotent, bad lines too
    assert (again.charged, again.duplicates) == (0, 2)
    assert await count(engine, cdr_quarantine) == 4


async def test_a_cdr_of_an_unknown_account_is_quarantined_not_lost(engine: AsyncEngine) -> None:
    line = master_line("u1", account="acct-404")

    report = await ingest_lines(engine, [line], CdrSource("Master.csv", SYSTEM))

    assert (report.charged, report.quarantined) == (0, 1)
    [quarantined] = await rows(
        engine,
        cdr_quarantine,
        cdr_quarantine.c.reason,
        cdr_quarantine.c.uniqueid,
        cdr_quarantine.c.account_code,
        cdr_quarantine.c.raw,
    )
    assert tuple(quarantined) == (
        "unknown account code 'acct-404'",
        "u1",
        "acct-404",
        line.rstrip("\n"),
    )


async def test_an_answered_call_that_cannot_be_rated_is_quarantined_with_the_kernels_reason(
    engine: AsyncEngine,
) -> None:
    """Premium numbers have no rate in Annex B (barred): nothing to charge them with."""
    await ledger.open_account(engine, code="acct-1")

    report = await ingest_lines(
        engine,
        [
            master_line("u1", dialled="0900123456"),
            master_line("u2", dialled="0900123456", answered=False),
        ],
        CdrSource("Master.csv", SYSTEM),
    )

    assert (report.charged, report.quarantined) == (1, 1)  # unanswered: costs 0, no error
    [(reason,)] = await rows(engine, cdr_quarantine, cdr_quarantine.c.reason)
    assert reason.startswith("no rate for premium")


async def test_free_and_unanswered_calls_are_recorded_without_a_charge(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")

    report = await ingest_lines(
        engine,
        [
            master_line("u1", dialled="112"),
            master_line("u2", answered=False),
            master_line("u3", dialled=GERMANY),
        ],
        CdrSource("Master.csv", SYSTEM),
    )

    assert (report.charged, report.cost_micro) == (3, 30_000)  # Germany fixed: 0.02 €/min × 90 s
    assert [e.amount_micro for e in await ledger.list_entries(engine, account.id)] == [-30_000]


async def test_included_minutes_are_used_in_call_start_order_and_split_at_the_exact_second(
    engine: AsyncEngine,
) -> None:
    """Contract: national traffic uses the month's included seconds first, in
    call-start order; the call crossing the end of the bundle is split at the
    exact second. Lines are written at hangup: the long call ends last."""
    await ledger.open_account(engine, code="acct-1", included_seconds=300)
    lines = [
        master_line("short", dialled=FIXED, billsec=120, start=T0 + timedelta(minutes=10)),
        master_line("intl", dialled=GERMANY, billsec=100, start=T0 + timedelta(minutes=5)),
        master_line("long", dialled=MOBILE, billsec=240, start=T0),
    ]

    await ingest_lines(engine, lines, CdrSource("Master.csv", SYSTEM))

    rated = await rows(
        engine,
        cdrs,
        cdrs.c.uniqueid,
        cdrs.c.included_seconds,
        cdrs.c.charged_seconds,
        cdrs.c.cost_micro,
        order_by=cdrs.c.start,
    )
    assert [tuple(r) for r in rated] == [
        ("long", 240, 0, 0),  # first by start: fully included
        ("intl", 0, 100, 33_333),  # international: never from the bundle
        ("short", 60, 60, 10_000),  # 60 s left of 300: split at the exact second
    ]
    [(used,)] = await rows(engine, bundle_usage, bundle_usage.c.used_seconds)
    assert used == 300


async def test_the_bundle_carries_over_between_batches_and_resets_each_month(
    engine: AsyncEngine,
) -> None:
    await ledger.open_account(engine, code="acct-1", included_seconds=100)
    source = CdrSource("Master.csv", SYSTEM)
    august_end = T0 + timedelta(days=30, hours=12)  # 2025-08-31 21:00 UTC: September in Bucharest

    await ingest_lines(engine, [master_line("a", billsec=70)], source)
    await ingest_lines(
        engine, [master_line("b", billsec=70, start=T0 + timedelta(hours=1))], source
    )
    await ingest_lines(engine, [master_line("c", billsec=70, start=august_end)], source)

    rated = await rows(
        engine, cdrs, cdrs.c.uniqueid, cdrs.c.included_seconds, order_by=cdrs.c.start
    )
    assert [tuple(r) for r in rated] == [("a", 70), ("b", 30), ("c", 70)]
    usage = await rows(engine, bundle_usage, bundle_usage.c.month, bundle_usage.c.used_seconds)
    assert [tuple(u) for u in usage] == [("2025-08", 100), ("2025-09", 70)]


async def test_a_cdr_settles_the_live_reservation_of_its_call(engine: AsyncEngine) -> None:
    account = await ledger.open_account(engine, code="acct-1")
    await ledger.top_up(engine, account.id, 5 * EUR)
    ttl = timedelta(hours=1)
    by_uniqueid = await reservations.reserve(engine, account.id, EUR, ttl=ttl, reference="u1")
    by_linkedid = await reservations.reserve(engine, account.id, EUR, ttl=ttl, reference="call-7")
    untouched = await reservations.reserve(engine, account.id, EUR, ttl=ttl, reference="u9")

    report = await ingest_lines(
        engine,
        [master_line("u1", billsec=90), master_line("u2", billsec=60, linkedid="call-7")],
        CdrSource("Master.csv", SYSTEM),
    )

    assert report.settled == 2
    first = await reservations.get_reservation(engine, by_uniqueid.id)
    second = await reservations.get_reservation(engine, by_linkedid.id)
    assert (first.state, first.settled_micro, first.settled_by) == (
        "settled",
        15_000,
        "cdr:pbx1:u1",
    )
    assert (second.state, second.settled_micro) == ("settled", 10_000)
    assert (await reservations.get_reservation(engine, untouched.id)).state == "live"
    assert await ledger.balance_micro(engine, account.id) == 5 * EUR - 25_000
    assert await ledger.available_credit_micro(engine, account.id) == 4 * EUR - 25_000


async def test_the_ledger_holds_exactly_the_cost_of_the_cdrs(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Batches, duplicates inside the file and a re-run: still one charge per CDR."""
    for n in range(3):
        await ledger.open_account(engine, code=f"acct-{n}", included_seconds=200 * n)
    lines = [
        master_line(
            f"u{i}",
            account=f"acct-{i % 3}",
            dialled=(FIXED, MOBILE, GERMANY)[i % 3 - 1],
            billsec=30 + 7 * i,
            start=T0 + timedelta(minutes=i),
        )
        for i in range(40)
    ]
    path = write(tmp_path / "Master.csv", *lines, lines[5], lines[17])

    first = await ingest_file(engine, path, system_name=SYSTEM, batch_lines=7)
    await ingest_file(engine, path, system_name=SYSTEM, batch_lines=11)

    async with engine.connect() as conn:
        cost = int(await conn.scalar(select(func.sum(cdrs.c.cost_micro))))
        used = int(await conn.scalar(select(func.sum(cdrs.c.included_seconds))))
        counted = int(await conn.scalar(select(func.sum(bundle_usage.c.used_seconds))))
    assert (first.charged, first.duplicates) == (40, 2)
    assert await ledger_total(engine) == -cost == -first.cost_micro
    assert counted == used  # the bundle counter is the sum of the CDRs' included seconds


async def test_parsing_in_a_worker_process_gives_the_same_result(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ledger.open_account(engine, code="acct-1", included_seconds=120)
    path = write(
        tmp_path / "Master.csv",
        *(master_line(f"u{i}", billsec=50 + i, start=T0 + timedelta(minutes=i)) for i in range(5)),
        "broken\n",
        master_line("u9", account="stranger"),
    )

    report = await ingest_file(
        engine, path, system_name=SYSTEM, batch_lines=3, parse_in_worker=True
    )

    assert (report.lines, report.charged, report.quarantined) == (7, 5, 2)
    assert report.cost_micro == 3 * 10_000  # 60 s each, the first two from the 120 s included
    lines = await rows(engine, cdr_quarantine, cdr_quarantine.c.line_number)
    assert [tuple(r) for r in lines] == [(6,), (7,)]
