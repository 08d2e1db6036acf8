"""What every benchmark does with its results: name the machine, print
table cells, and save the JSON atomically next to the others in
bench/results/."""

from __future__ import annotations

import json
import platform
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
