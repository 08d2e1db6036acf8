"""``clickphone invoice|payments|fx|downtime|tariffs|cdr`` with click's CliRunner,
on a temporary SQLite database (CLICKPHONE_STATE_DIR)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from billing import ledger
from billing.tailer import CdrTailer
from provisioning import services as provisioning
from controlplane import migrate
from controlplane.cli import main
from controlplane.db import create_engine
from tests.integration.billing.cdrs import FIXED, MOBILE, master_line

DATA = Path(__file__).resolve().parent / "billing" / "data"
JULY_CALL = datetime(2025, 7, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """An empty state folder: the commands make its SQLite database, migrated."""
    return tmp_path / "state"


def cli(state: Path, *args: str) -> Result:
    """Run ``clickphone ARGS`` on the database of ``state``."""
    return CliRunner().invoke(main, list(args), env={"CLICKPHONE_STATE_DIR": str(state)})


def open_account(state: Path, code: str = "acct-1", fee_micro: int = 5_000_000) -> None:
    """Open a postpaid account ``code`` (monthly fee 5 EUR by default) on 1 January 2025."""

    async def work() -> None:
        url = f"sqlite+aiosqlite:///{state / 'clickphone.sqlite3'}"
        await migrate.upgrade(url)
        engine = create_engine(url)
        try:
            await ledger.open_account(
                engine, code=code, kind="postpaid", credit_limit_micro=50_000_000,
                monthly_fee_micro=fee_micro, now=datetime(2025, 1, 1, tzinfo=UTC),
            )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(work())


def add_did(state: Path, number: str) -> None:
    """Give a new subscriber the DID ``number`` (E.164 digits), as `admin did add` does."""

    async def work() -> None:
        url = f"sqlite+aiosqlite:///{state / 'clickphone.sqlite3'}"
        await migrate.upgrade(url)
        engine = create_engine(url)
        try:
            subscriber = await provisioning.create_subscriber(engine, name="Ana Pop", email="ana@example.com")
            await provisioning.add_did(engine, number=number, subscriber_id=subscriber.id)
        finally:
            await engine.dispose()

    asyncio.run(work())


def cdr_file(tmp_path: Path) -> Path:
    """A Master.csv of two July calls of acct-1 (90 s fixed, 60 s mobile: 0.040 EUR) and one bad line."""
    path = tmp_path / "Master.csv"
    path.write_text(
        master_line("u1", dialled=FIXED, billsec=90, start=JULY_CALL)
        + master_line("u2", dialled=MOBILE, billsec=60, start=JULY_CALL)
        + "not a cdr\n"
    )
    return path


@pytest.fixture
def invoiced(state: Path, tmp_path: Path) -> Path:
    """A state folder with one July invoice, CP-000001: 5 EUR fee, 0.040 EUR of calls."""
    open_account(state)
    assert cli(state, "fx", "set", "--date", "2025-07-31", "--eur", "5.0720").exit_code == 0
    assert cli(state, "cdr", "ingest", str(cdr_file(tmp_path)), "--system-name", "pbx1").exit_code == 0
    result = cli(state, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01")
    assert result.exit_code == 0, result.output
    return state


def test_cdr_ingest_reports_what_it_charged_and_quarantined(state: Path, tmp_path: Path) -> None:
    """Invariant 4: `cdr ingest` charges each good line and quarantines the bad
    one without stopping, and says so: lines, charged, quarantined, EUR."""
    open_account(state)

    result = cli(state, "cdr", "ingest", str(cdr_file(tmp_path)), "--system-name", "pbx1")

    assert result.exit_code == 0, result.output
    assert "3 lines: 2 charged, 0 already ingested, 1 quarantined" in result.output
    assert "0.040000 EUR" in result.output


def test_cdr_ingest_rates_a_call_to_our_own_did_as_on_net_like_the_control_plane(
    state: Path, tmp_path: Path
) -> None:
    """Issue 10, defect 20 (Annex B: calls to ClickPhone subscribers are free):
    `cdr ingest` takes our numbers from provisioning's DIDs, the same source
    as the running control plane's tailer, instead of charging them as fixed-line."""
    open_account(state)
    add_did(state, "40212345678")  # FIXED, 0212345678, in E.164 digits
    path = tmp_path / "Master.csv"
    path.write_text(master_line("u1", dialled=FIXED, billsec=90, start=JULY_CALL))

    result = cli(state, "cdr", "ingest", str(path), "--system-name", "pbx1")

    assert result.exit_code == 0, result.output
    assert "1 lines: 1 charged" in result.output
    assert "; 0.000000 EUR" in result.output  # on-net: free, not 0.015 EUR of ro_fixed


def test_invoice_run_prints_each_invoice_and_a_summary(invoiced: Path) -> None:
    """An invoice run is idempotent: running July again issues nothing and
    counts the invoice already issued; `invoice list` shows it once, unpaid."""
    again = cli(invoiced, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01")

    assert again.exit_code == 0
    assert "0 issued on 2025-08-01, 1 already invoiced" in again.stderr
    listing = cli(invoiced, "invoice", "list", "--period", "2025-07", "--as-of", "2025-08-05")
    assert listing.stdout.split("\t") == ["CP-000001", "acct-1", "2025-07", "30.95 RON", "6.098400 EUR", "unpaid\n"]


def test_invoice_run_refuses_while_cdrs_of_the_period_are_unread_and_can_be_forced(
    state: Path, tmp_path: Path
) -> None:
    """Issue 10, defect 16: a call of 31 July still unread in the followed CDR
    file stops `invoice run --period 2025-07` with what to do (exit 1, no
    traceback); --allow-uningested issues without it and says what is missing."""
    open_account(state)
    assert cli(state, "fx", "set", "--date", "2025-07-31", "--eur", "5.0720").exit_code == 0
    path = tmp_path / "Master.csv"
    path.write_text(master_line("u1", dialled=FIXED, billsec=60, start=JULY_CALL))

    async def tail_then_append() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{state / 'clickphone.sqlite3'}")
        try:
            tailer = CdrTailer(engine, path, system_name="pbx1")
            await tailer.poll()
            tailer.close()
        finally:
            await engine.dispose()
        with open(path, "a") as fh:
            fh.write(master_line("u2", dialled=FIXED, billsec=60, start=datetime(2025, 7, 31, 20, 30, tzinfo=UTC)))

    asyncio.run(tail_then_append())

    refused = cli(state, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01")
    forced = cli(state, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01", "--allow-uningested")

    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "2025-07 is not invoiced yet: 1 CDR(s) of the period" in refused.stderr
    assert forced.exit_code == 0, forced.output
    assert "1 issued" in forced.stderr and "not charged yet: 1 CDR(s) of the period" in forced.stderr


def test_invoice_run_names_each_issued_invoice(state: Path) -> None:
    """`invoice run` prints one line per invoice issued (number, account, RON,
    EUR: the 5 EUR fee with 21 % VAT) and, on stderr, the BNR rate and VAT used."""
    open_account(state)
    cli(state, "fx", "set", "--date", "2025-07-31", "--eur", "5.0720")

    result = cli(state, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01")

    assert result.exit_code == 0, result.output
    assert result.stdout == "CP-000001\tacct-1\t30.69 RON\t6.050000 EUR\n"
    assert "EUR = 5.0720 RON (BNR 2025-07-31, manual), VAT 21%" in result.stderr


def test_invoice_show_json_with_the_penalty_as_of_a_day(invoiced: Path) -> None:
    """`invoice show --format json --as-of` gives the totals, the VAT rate, the
    itemised calls and the penalty of that day: 0.1 %/day for the 10 days
    after the due date (10 days after issue)."""
    result = cli(invoiced, "invoice", "show", "CP-000001", "--format", "json", "--as-of", "2025-08-21")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["number"], data["totals"]["total_ron"], data["vat"]["rate"]) == ("CP-000001", "30.95", "0.21")
    assert data["status"]["days_late"] == 10 and data["status"]["penalty_eur"] == "0.060984"
    assert [c["dialled"] for c in data["calls"]] == ["40212345678", "40721234567"]


def test_invoice_show_html_by_short_number(invoiced: Path) -> None:
    """`invoice show 1` finds CP-000001 (the default series) and prints the
    Romanian HTML document with its call details."""
    result = cli(invoiced, "invoice", "show", "1")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") and "Detalierea apelurilor" in result.stdout


def test_payments_add_records_a_partial_payment(invoiced: Path) -> None:
    """`payments add` records a payment against the invoice, says where the
    invoice then stands (partially paid, what is left) and the invoice lists it."""
    result = cli(invoiced, "payments", "add", "--invoice", "CP-000001", "--amount", "1.5", "--currency", "EUR", "--date", "2025-08-05")

    assert result.exit_code == 0, result.output
    assert result.stdout == "CP-000001: 1.500000 EUR paid on 2025-08-05; partially_paid, 4.598400 EUR unpaid\n"
    shown = json.loads(cli(invoiced, "invoice", "show", "CP-000001", "--format", "json").stdout)
    assert shown["payments"] == [{"paid_on": "2025-08-05", "amount_eur": "1.500000"}]


def test_paying_more_than_is_owed_is_refused(invoiced: Path) -> None:
    """A payment above what is unpaid is refused (exit 1), naming what is left."""
    result = cli(invoiced, "payments", "add", "--invoice", "CP-000001", "--amount", "100", "--currency", "EUR", "--date", "2025-08-05")

    assert result.exit_code == 1
    assert "more than the 6.098400 EUR left unpaid" in result.stderr


@pytest.mark.parametrize("amount", ["1.2345678", "-1", "0", "ten", " 5 ", "1_000", "+5", "5e0", "\u0661\u0660", "100000.000001"])
def test_a_bad_amount_is_refused(invoiced: Path, amount: str) -> None:
    """Invariant 1: an amount is ASCII digits with at most 6 decimals, more than
    0 and at most 100,000 EUR; anything else is a usage error on --amount (exit 2)."""
    result = cli(invoiced, "payments", "add", "--invoice", "CP-000001", "--amount", amount, "--currency", "EUR")

    assert result.exit_code == 2 and "--amount" in result.stderr


def test_an_unknown_invoice_is_a_clear_error(invoiced: Path) -> None:
    """Showing or paying an invoice that does not exist is one line naming it
    (exit 1), whichever way its number is written."""
    for args in (("invoice", "show", "CP-000099"), ("payments", "add", "--invoice", "CP-99", "--amount", "1")):
        result = cli(invoiced, *args)
        assert result.exit_code == 1 and "no invoice 'CP-000099'" in result.stderr


@pytest.mark.parametrize("period", ["2025-13", "2025/07", "july"])
def test_a_bad_period_is_refused(state: Path, period: str) -> None:
    """A period that is not a month written YYYY-MM is a usage error (exit 2)."""
    result = cli(state, "invoice", "run", "--period", period)

    assert result.exit_code == 2
    assert "a billing period is a month written YYYY-MM" in result.stderr


def test_no_rate_means_no_invoice_and_says_what_to_do(state: Path) -> None:
    """Without a BNR rate published by the issue date no invoice is issued
    (exit 1, none listed), and the error says how to get one (`fx fetch`)."""
    open_account(state)

    result = cli(state, "invoice", "run", "--period", "2025-07", "--issue-date", "2025-08-01")

    assert result.exit_code == 1
    assert "no BNR rate for EUR published on or before 2025-07-31" in result.stderr
    assert "clickphone fx fetch" in result.stderr
    assert cli(state, "invoice", "list").stdout == ""


def test_fx_set_refuses_a_bad_rate(state: Path) -> None:
    """A rate set by hand must be a positive number: a usage error on --eur (exit 2)."""
    result = cli(state, "fx", "set", "--date", "2025-07-31", "--eur", "-5")

    assert result.exit_code == 2 and "must be a positive number" in result.stderr


@pytest.fixture
def bnr_files() -> Iterator[str]:
    """BNR's files over HTTP from a stdlib server in a thread (the CLI runs its own event loop)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(DATA)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the test data folder without logging each request."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_fx_fetch_stores_bnr_rates_then_an_invoice_can_use_them(state: Path, bnr_files: str) -> None:
    """`fx fetch` reads a BNR file in BNR's format, prints each EUR rate and
    says how many days it stored."""
    result = cli(state, "fx", "fetch", "--url", f"{bnr_files}/nbrfxrates2025.xml")

    assert result.exit_code == 0, result.output
    assert "2025-02-28\tEUR\t" in result.stdout
    assert "stored" in result.stderr and "38 day(s)" in result.stderr


def test_fx_fetch_failure_is_a_clear_error(state: Path, bnr_files: str) -> None:
    """A BNR file that cannot be fetched is one line with the HTTP status (exit 1)."""
    result = cli(state, "fx", "fetch", "--url", f"{bnr_files}/nothing-here.xml")

    assert result.exit_code == 1
    assert "cannot fetch BNR rates from" in result.stderr and "HTTP 404" in result.stderr


def test_downtime_add_and_list(state: Path) -> None:
    """A downtime day recorded with its reason is listed in its month."""
    assert cli(state, "downtime", "add", "--date", "2025-07-10", "--reason", "carrier outage").exit_code == 0

    listed = cli(state, "downtime", "list", "--period", "2025-07")

    assert listed.stdout == "2025-07-10\tcarrier outage\n"


def test_tariffs_export_then_import_changes_nothing(state: Path, tmp_path: Path) -> None:
    """Tariffs are data: the stored plan exported as CSV and imported again is
    recognised as the same version, unchanged."""
    exported = cli(state, "tariffs", "export", "--plan", "annex_b")
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("plan,version,effective_from")
    path = tmp_path / "annex_b.csv"
    path.write_text(exported.stdout)

    imported = cli(state, "tariffs", "import", str(path))

    assert imported.exit_code == 0, imported.output
    assert imported.stdout == "unchanged\tannex_b\t2025.1\n"


def test_a_bad_tariff_file_names_its_line(state: Path, tmp_path: Path) -> None:
    """A tariff CSV with a bad price is refused (exit 1) naming its line."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "plan,version,effective_from,effective_to,service,destination,price_eur,first_block_s,increment_s,connect_fee_eur,description\n"
        "p,1,2025-01-01,,voice,ro_fixed,cheap,60,1,0,x\n"
    )

    result = cli(state, "tariffs", "import", str(path))

    assert result.exit_code == 1 and "line 2" in result.stderr
