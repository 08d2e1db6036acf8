"""README's "A first invoice" works on a fresh state folder.

Issue 10, defect 18: the README's own example (`invoice run --period
2026-11` after `make run`) issued nothing. This test runs the README's
block, exactly as written, with bash in a fresh folder (its own state
folder: SQLite in ``.state``), after what `make run` does to the database
(migrate, create the demo subscriber), and finds the invoice it issued.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path

from billing.invoicing import records
from controlplane import migrate
from controlplane.db import create_engine
from controlplane.demo import ensure_demo_subscriber

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"<!-- first-invoice:[^>]*-->\n```sh\n(?P<commands>.*?)```", re.DOTALL)


def readme_commands() -> str:
    match = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match is not None, "README.md has no first-invoice block"
    return match.group("commands")


async def test_the_readme_commands_issue_a_first_invoice(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    url = f"sqlite+aiosqlite:///{tmp_path / '.state' / 'clickphone.sqlite3'}"
    (tmp_path / ".state").mkdir(mode=0o700)
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        await ensure_demo_subscriber(engine)  # what `make run` does on start

        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-euo", "pipefail", "-c", readme_commands()],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "CLICKPHONE_STATE_DIR": str(tmp_path / ".state")},
        )  # fmt: skip

        assert done.returncode == 0, done.stderr
        assert ": 1 issued" in done.stderr, done.stderr
        [invoice] = await records.list_invoices(engine)
        assert (invoice.number, invoice.account_code) == ("CP-000001", "demo1000")
        assert invoice.total_micro > 0 and not invoice.payable  # a prepaid statement, paid
        assert "CP-000001" in (tmp_path / "invoice.html").read_text(encoding="utf-8")
    finally:
        await engine.dispose()
