"""The pure parts of CDR ingestion and tailing: batches, line numbers,
contract months, complete lines, the bulk statements' shapes."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from sqlalchemy.dialects import sqlite

from billing.ingest import CdrSource, contract_month, numbered_batches, parse_batch
from sqlbase import UtcDateTime
from sqlbase.bulk import _for_driver, _sqlite_time, _statement_sizes
from billing.tailer import _complete_lines

from .cdr_samples import CLICKPHONE, MASTER_21


def test_batches_number_their_first_line_from_the_start_of_the_input() -> None:
    batches = list(numbered_batches((f"line {n}\n" for n in range(1, 8)), 3))

    assert [(first, len(lines)) for first, lines in batches] == [(1, 3), (4, 3), (7, 1)]


def test_parse_batch_keeps_file_line_numbers_and_fills_the_system_name() -> None:
    """Master.csv has no system name: the source's (Asterisk's systemname) is used."""
    source = CdrSource("Master.csv", "pbx9")

    parsed = parse_batch(source, [MASTER_21, "\n", "broken\n", CLICKPHONE], first_line_number=41)

    assert [(r.line_number, r.system_name) for r in parsed.records] == [(41, "pbx9"), (44, "pbx1")]
    assert [(b.line_number, b.raw.text) for b in parsed.broken] == [(43, "broken")]


def test_the_contract_month_is_the_month_in_bucharest() -> None:
    """Bundles are per month of the contract's legal time (UTC+2/+3)."""
    assert contract_month(datetime(2025, 8, 31, 20, 59, 59, tzinfo=timezone.utc)) == "2025-08"
    assert contract_month(datetime(2025, 8, 31, 21, 0, tzinfo=timezone.utc)) == "2025-09"
    assert contract_month(datetime(2025, 12, 31, 22, 0, tzinfo=timezone.utc)) == "2026-01"


def test_only_complete_lines_are_consumed_unless_the_file_is_finished() -> None:
    data = io.BytesIO(b"one\ntwo\nthr")

    assert _complete_lines(data, 10, final=False) == ([b"one\n", b"two\n"], 8)
    assert data.tell() == 8  # the partial line is left for the next poll
    assert _complete_lines(data, 10, final=True) == ([b"thr"], 3)


def test_bulk_statements_come_in_a_bounded_set_of_sizes() -> None:
    """Prepared multi-row INSERTs are large; their sizes must not vary freely."""
    sizes = {size for rows in range(1, 5000) for size in _statement_sizes(rows, 1666)}

    assert sum(_statement_sizes(4999, 1666)) == 4999
    assert sizes <= {1666} | {2**k for k in range(11)}


def test_sqlite_times_are_written_as_sqlalchemy_writes_them() -> None:
    """The bulk path and SQLAlchemy must store comparable text on SQLite."""
    value = datetime(2025, 8, 1, 12, 30, 5, 7, tzinfo=timezone.utc)
    dialect = sqlite.dialect()
    expected = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)(value)

    assert _sqlite_time(value) == expected == "2025-08-01 12:30:05.000007"


def test_placeholders_are_numbered_for_asyncpg() -> None:
    assert _for_driver("postgresql", "a = ? AND b = ANY(?)") == "a = $1 AND b = ANY($2)"
    assert _for_driver("sqlite", "a = ?") == "a = ?"
