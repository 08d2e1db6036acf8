"""Reading the small CSV data files under ``billing/data/`` with line numbers.

Shared by the numbering plan, tariffs and VAT tables: ``#`` comment lines and
blank lines are ignored, the first remaining row is the header, and every
error names the physical line it comes from.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path


class DataFileError(ValueError):
    """A data file is malformed; ``errors`` lists ``(line_number, message)``."""

    def __init__(self, source: str, errors: list[tuple[int, str]]):
        self.source = source
        self.errors = errors
        shown = "; ".join(f"line {n}: {m}" for n, m in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"{source}: {shown}{more}")


def _without_comments(lines: Iterable[str]) -> Iterator[str]:
    # A comment becomes an empty line so csv's line_num stays the physical line.
    for line in lines:
        yield "\n" if line.lstrip().startswith("#") else line


def read_rows(
    lines: Iterable[str], required: tuple[str, ...], source: str, optional: tuple[str, ...] = ()
) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]]]:
    """Return ``(rows, errors)``: ``rows`` as ``(line_number, {column: value})``.

    Values are stripped of surrounding whitespace. A bad header raises
    :class:`DataFileError` at once; rows with a wrong number of fields or
    broken quoting are returned in ``errors`` so the caller can report them
    together with its own per-field errors.
    """
    reader = csv.reader(_without_comments(lines), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[tuple[int, str]] = []
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((reader.line_num, f"malformed CSV: {exc}"))
            continue
        if not fields or all(not f.strip() for f in fields):
            continue
        if header is None:
            # A spreadsheet may save a byte-order mark before the first column.
            header = [f.strip() for f in fields]
            header[0] = header[0].lstrip("\ufeff")
            missing = [c for c in required if c not in header]
            unknown = [c for c in header if c not in required and c not in optional]
            if missing or unknown:
                detail = []
                if missing:
                    detail.append("missing column(s) " + ", ".join(missing))
                if unknown:
                    detail.append("unknown column(s) " + ", ".join(unknown))
                raise DataFileError(source, [(reader.line_num, "; ".join(detail))])
            continue
        if len(fields) != len(header):
            errors.append((reader.line_num, f"expected {len(header)} fields, got {len(fields)}"))
            continue
        rows.append((reader.line_num, {k: v.strip() for k, v in zip(header, fields)}))
    if header is None:
        raise DataFileError(source, [(0, "no header row")])
    return rows, errors


def open_lines(path: str | Path) -> list[str]:
    """Return the lines of a UTF-8 text file (data files are small)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read().splitlines(keepends=True)


def packaged_lines(name: str) -> list[str]:
    """Return the lines of ``billing/data/<name>``."""
    text = resources.files("billing").joinpath("data", name).read_text(encoding="utf-8")
    return text.splitlines(keepends=True)
