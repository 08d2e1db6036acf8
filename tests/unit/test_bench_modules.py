"""Every benchmark `make bench` runs can at least start: its module imports
and parses its arguments (a broken import would only show in `make bench`,
which no test runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import _report

BENCH_DIR = Path(_report.__file__).parent
MODULES = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def test_every_benchmark_is_found():
    assert {"bench_admin_http", "bench_admission", "bench_ari_calls", "bench_connection_faults", "bench_ingest",
            "bench_kernel", "bench_outbox", "bench_voicemail_latency"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_a_benchmark_imports_and_answers_help(module):
    done = subprocess.run([sys.executable, "-m", f"bench.{module}", "--help"], cwd=BENCH_DIR.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_every_result_names_the_run_and_the_machine():
    facts = _report.run_facts("a benchmark", (0.5, 0.25, 0.125))
    assert facts["benchmark"] == "a benchmark" and facts["load_average_before"] == [0.5, 0.25, 0.12]
    assert {"date", "python", "cpu", "cpus", "load_average_after"} <= set(facts)
