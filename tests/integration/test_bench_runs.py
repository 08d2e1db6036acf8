"""The database benchmarks run to the end on a small population (SQLite),
so a schema change that breaks their fixtures fails here and not first in
`make bench`; the figures themselves are the benchmarks' business, not
this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# a benchmark's figures, where its JSON keeps them
FIGURES = {
    "bench_admission": lambda result: result["rows"],
    "bench_ingest": lambda result: result["databases"][0]["stages"],
    "bench_kernel": lambda result: result["stages"],
}

SMALL_RUNS = {
    "bench_admission": ["--accounts", "300", "--decisions", "200", "--concurrency", "4"],
    "bench_ingest": ["--n", "2000", "--databases", "sqlite", "--accounts", "50", "--reservations", "20"],
    "bench_kernel": ["--n", "5000", "--batch-n", "2000", "--chunk", "1000"],
}


@pytest.mark.parametrize("module", sorted(SMALL_RUNS))
def test_a_database_benchmark_runs_to_the_end_and_saves_its_figures(module, tmp_path):
    """The benchmark exits 0 and writes its JSON with its figures in it."""
    out = tmp_path / f"{module}.json"
    done = subprocess.run([sys.executable, "-m", f"bench.{module}", *SMALL_RUNS[module], "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert FIGURES[module](result), result
