"""Batch rating of a CDR file: what ``clickphone rate --cdr FILE`` runs.

:func:`rate_cdr_file` streams CDR lines (Master.csv or clickphone.csv, see
:mod:`billing.cdr_format`), classifies and rates each at the tariff version
in effect at its start, and writes one row per CDR line — rated or not —
with these columns (:data:`BATCH_COLUMNS`):

==================  =========================================================
uniqueid            the CDR's uniqueid ('' when the line could not be parsed)
account             accountcode
dialled             ``cp_dialled`` when present, else ``dst``
normalised          canonical number ('' when not a number)
class               destination class (:mod:`billing.numbering`)
billsec             answered seconds from the CDR
billable_seconds    seconds charged (first block whole, then increments)
cost_eur            cost in EUR with exactly 6 decimals, e.g. ``0.010000``
error               '' when rated; otherwise the reason (a parse error is
                    prefixed ``line N:``); then billable_seconds and cost_eur
                    are empty
==================  =========================================================

Formats: ``csv`` — a header row then one row per CDR; ``json`` — JSON Lines:
one object per line with the same keys, ``billsec`` and ``billable_seconds``
as integers (null when unknown), ``cost_eur`` as a string (exact, never a
float; null when unknown) and ``error`` null when rated.

No included minutes are applied here: bundles belong to a subscription and
its month, which the invoice run knows. An unanswered call costs 0 even when
its number is invalid or unpriced (nothing to charge, no error).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import IO

from billing import money
from billing.cdr_format import AUTO, CdrParseError, parse_cdr_stream
from billing.numbering import NumberingPlan, OnNet, default_numbering_plan
from billing.rating import UnratableCall, classify_and_rate
from billing.tariffs import Plan, Tariff

BATCH_COLUMNS = (
    "uniqueid",
    "account",
    "dialled",
    "normalised",
    "class",
    "billsec",
    "billable_seconds",
    "cost_eur",
    "error",
)

FORMATS = ("csv", "json")


@dataclass
class BatchSummary:
    """Counts of one batch run: CDR lines read, rated, in error; total cost in micro-euros."""

    lines: int = 0
    rated: int = 0
    errors: int = 0
    cost_micro: int = 0


def rate_cdr_file(
    cdr_lines: Iterable[str | bytes],
    plan: Tariff | Plan,
    out: IO[str],
    fmt: str = "csv",
    *,
    on_net: OnNet = frozenset(),
    numbering: NumberingPlan | None = None,
    cdr_format: str = AUTO,
    tz: tzinfo | None = None,
) -> BatchSummary:
    """Rate every CDR in ``cdr_lines`` (streamed) and write one row each to ``out``.

    ``plan`` is a :class:`~billing.tariffs.Tariff` (the version in effect at
    each call's start is used) or a single :class:`~billing.tariffs.Plan`.
    ``fmt`` is ``csv`` or ``json`` (JSON Lines). Return a :class:`BatchSummary`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    numbering = numbering or default_numbering_plan()
    write = _csv_writer(out) if fmt == "csv" else _json_writer(out)
    summary = BatchSummary()
    for number, item in parse_cdr_stream(cdr_lines, cdr_format, tz):
        summary.lines += 1
        if isinstance(item, CdrParseError):
            summary.errors += 1
            write(("", "", "", "", "", None, None, None, f"line {number}: {item.reason}"))
            continue
        dialled = item.dialled
        try:
            c, rated = classify_and_rate(
                dialled, item.billsec, item.answered, item.start, plan, on_net, numbering
            )
        except UnratableCall as exc:
            summary.errors += 1
            c = exc.classification
            write((
                item.uniqueid, item.accountcode, dialled,
                c.normalised if c else "", c.number_class if c else "",
                item.billsec, None, None, exc.reason,
            ))  # fmt: skip
            continue
        summary.rated += 1
        summary.cost_micro += rated.cost_micro
        write((
            item.uniqueid, item.accountcode, dialled, c.normalised, c.number_class,
            item.billsec, rated.billable_seconds, rated.cost_micro, None,
        ))  # fmt: skip
    return summary


def _csv_writer(out: IO[str]):
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BATCH_COLUMNS)

    def write(row: tuple) -> None:
        *head, billsec, billable, cost, error = row
        writer.writerow((
            *head,
            "" if billsec is None else billsec,
            "" if billable is None else billable,
            "" if cost is None else money.format_micro(cost),
            error or "",
        ))  # fmt: skip

    return write


def _json_writer(out: IO[str]):
    def write(row: tuple) -> None:
        *head, billsec, billable, cost, error = row
        record = dict(zip(BATCH_COLUMNS, (*head, billsec, billable, None, error)))
        record["cost_eur"] = None if cost is None else money.format_micro(cost)
        out.write(json.dumps(record, ensure_ascii=False) + "\n")

    return write
