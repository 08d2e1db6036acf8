"""What every benchmark does with its results: name the machine, print
table cells, and save the JSON atomically next to the others in
bench/results/."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path


def cpu_model() -> str:
    """Return the CPU's model name (for the saved results)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_facts(benchmark: str, load_before: tuple[float, float, float]) -> dict:
    """What every saved result starts with: the benchmark, when, the Python
    and the machine, and the load average before the run and now (after
    it: other work on a shared machine shows there)."""
    return {
        "benchmark": benchmark,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def save_json(path: Path, result: dict) -> None:
    """Write ``result`` to ``path`` (through a temporary file: a run killed
    midway leaves the previous results intact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def cell(row: dict, key: str, width: int) -> str:
    """Return ``row[key]`` right-aligned in ``width`` ('-' when missing)."""
    value = row.get(key)
    return f"{'-' if value is None else value:>{width}}"
