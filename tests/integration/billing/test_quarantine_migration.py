"""Migration 0010 on a quarantine written before it, on SQLite and PostgreSQL.

Issue 10, defect 10: the quarantine keeps a bounded prefix of a bad line and
the SHA-256 of the whole line; rows stored whole before are cut and hashed,
and the call's start is read from the lines that had been parsed.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from billing.tables import cdr_quarantine
from controlplane import migrate
from controlplane.db import create_engine

from .cdrs import T0, master_line


async def test_rows_quarantined_before_are_cut_hashed_and_dated(db_url: str) -> None:
    await migrate.upgrade(db_url, "0007")
    huge = "x" * (2 * 1024 * 1024)
    parsed = master_line("u1", account="acct-404").rstrip("\n")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            for key, raw, uniqueid in (("a" * 64, huge, None), ("b" * 64, parsed, "u1")):
                await conn.execute(
                    text(
                        "INSERT INTO cdr_quarantine (dedup_key, file, line_number, raw, reason, system_name,"
                        " uniqueid) VALUES (:key, 'Master.csv', 1, :raw, 'why', 'pbx1', :uniqueid)"
                    ),
                    {"key": key, "raw": raw, "uniqueid": uniqueid},
                )
        await migrate.upgrade(db_url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(cdr_quarantine.c.raw, cdr_quarantine.c.raw_sha256, cdr_quarantine.c.raw_length,
                           cdr_quarantine.c.start).order_by(cdr_quarantine.c.dedup_key)
                )
            ).all()  # fmt: skip
    finally:
        await engine.dispose()

    (cut, cut_sha, cut_length, no_start), (kept, _, _, start) = rows
    assert (cut, cut_length, no_start) == (huge[:1024], len(huge) + 1, None)
    assert cut_sha == hashlib.sha256((huge + "\n").encode()).hexdigest()
    assert (kept, start) == (parsed, T0)
