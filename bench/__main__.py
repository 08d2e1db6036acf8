"""`make bench`: run every benchmark module in bench/ (bench_*.py), each in
its own process so one's memory peak does not colour the next one's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).parent


def main() -> int:
    failed = []
    for module in sorted(BENCH_DIR.glob("bench_*.py")):
        name = f"bench.{module.stem}"
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", name, *sys.argv[1:]]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
