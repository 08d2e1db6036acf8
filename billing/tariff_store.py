"""Tariff plans kept in the database, versioned: import, export, load for rating.

A tariff CSV (format in :mod:`billing.tariffs`) is validated by the kernel's
reader — every problem is reported with its line number in a
:class:`~billing._datafile.DataFileError` — then each of its plan versions is
stored:

* a version already stored with the same dates and rates: unchanged
  (importing a file twice changes nothing);
* a new version: added; rating then uses, for each call, the version in
  effect at the call's start;
* a new version starting at the same instant as a stored one is a
  **correction**: the stored one is marked superseded (kept, since CDRs
  rated under it still point at it) and the correction takes its place.
  :mod:`billing.rerating` then re-rates the period;
* a stored version label imported with other dates or rates is refused:
  labels are immutable, a correction gets a new label.

The versions in force (not superseded) of a plan must form a valid
:class:`~billing.tariffs.Tariff` (no overlap), or the import is refused.

The contract's Annex B plan (``annex_b``) is stored on first use, from the
kernel's :func:`~billing.tariffs.default_tariff`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing._datafile import DataFileError
from billing.errors import UnknownTariffError
from billing.accounts import DEFAULT_TARIFF
from billing.tables import tariff_rates, tariff_versions
from sqlbase import Db, transaction, utc_now
from sqlbase.bulk import insert_or_skip
from billing.tariffs import Plan, Rate, Tariff, default_tariff, read_tariff_csv, write_tariff_csv

# Any fixed 64-bit number, the same in every process: imports take turns on
# PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises them).
_IMPORT_LOCK_ID = 0x7461726966667331  # "tariffs1"


@dataclass(frozen=True)
class StoredTariff:
    """A plan's versions in force, with the database id of each version."""

    tariff: Tariff
    version_ids: dict[str, int]

    def version_id(self, plan: Plan) -> int:
        """Return the ``tariff_versions.id`` of one of this tariff's versions."""
        return self.version_ids[plan.version]


@dataclass
class ImportReport:
    """What an import did, as ``(plan, version)`` pairs."""

    added: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)


async def import_tariff_csv(
    db: Db, lines: Iterable[str], source: str = "tariff file", *, now: datetime | None = None
) -> ImportReport:
    """Validate a tariff CSV and store its plan versions (see module docstring).

    Raise :class:`DataFileError` listing ``(line, message)`` for every
    problem; nothing is stored then.
    """
    lines = list(lines)  # a tariff file is small; read twice for line numbers
    tariffs = read_tariff_csv(lines, source)
    plans = [plan for tariff in tariffs.values() for plan in tariff.versions]
    async with transaction(db) as conn:
        return await _store_plans(conn, plans, lines, source, now or utc_now())


async def import_tariff_file(db: Db, path: str | Path) -> ImportReport:
    """Import the tariff CSV at ``path`` (``clickphone tariffs import FILE``)."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    return await import_tariff_csv(db, lines, str(path))


async def export_tariff_csv(db: Db, out: IO[str], plan: str | None = None) -> None:
    """Write the versions in force of ``plan`` (default: every stored plan) as a tariff CSV."""
    async with transaction(db) as conn:
        names = [plan] if plan is not None else await stored_plan_names(conn)
        tariffs = [(await load_stored_tariff(conn, name)).tariff for name in names]
    write_tariff_csv(tariffs, out)


async def export_tariff_file(db: Db, path: str | Path, plan: str | None = None) -> None:
    """Export to the file ``path`` (``clickphone tariffs export FILE``)."""
    buffer = io.StringIO()
    await export_tariff_csv(db, buffer, plan)
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")


async def stored_plan_names(db: Db) -> list[str]:
    """Return the names of the stored plans, sorted (Annex B stored first if none is)."""
    async with transaction(db) as conn:
        await ensure_default_tariff(conn)
        rows = await conn.execute(
            select(tariff_versions.c.plan).distinct().order_by(tariff_versions.c.plan)
        )
        return [row.plan for row in rows]


async def load_tariff(db: Db, plan: str = DEFAULT_TARIFF) -> Tariff:
    """Return the stored :class:`Tariff` ``plan`` (its versions in force)."""
    return (await load_stored_tariff(db, plan)).tariff


async def load_stored_tariff(db: Db, plan: str = DEFAULT_TARIFF) -> StoredTariff:
    """Return the versions in force of ``plan`` with their ids; raise
    :class:`UnknownTariffError`."""
    async with transaction(db) as conn:
        if plan == DEFAULT_TARIFF:
            await ensure_default_tariff(conn)
        return await _load(conn, plan)


async def _load(conn: AsyncConnection, plan: str) -> StoredTariff:
    """The versions in force of ``plan``, without seeding Annex B."""
    versions = (
        await conn.execute(
            select(tariff_versions)
            .where(tariff_versions.c.plan == plan, tariff_versions.c.superseded_at.is_(None))
            .order_by(tariff_versions.c.effective_from)
        )
    ).all()
    if not versions:
        raise UnknownTariffError(plan)
    rates = await _rates_by_version(conn, [v.id for v in versions])
    plans = [
        Plan(v.plan, v.version, v.effective_from, v.effective_to, tuple(rates.get(v.id, ())))
        for v in versions
    ]
    return StoredTariff(Tariff(plans), {v.version: v.id for v in versions})


async def ensure_default_tariff(db: Db) -> None:
    """Store the contract's Annex B plan if no version of it is stored yet."""
    async with transaction(db) as conn:
        stored = await conn.scalar(
            select(tariff_versions.c.id).where(tariff_versions.c.plan == DEFAULT_TARIFF).limit(1)
        )
        if stored is None:
            await _store_plans(conn, list(default_tariff().versions), [], "annex_b.csv", utc_now())


# -- storing ----------------------------------------------------------------------


async def _store_plans(
    conn: AsyncConnection, plans: list[Plan], lines: list[str], source: str, now: datetime
) -> ImportReport:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _IMPORT_LOCK_ID})
    report = ImportReport()
    errors: list[tuple[int, str]] = []
    new: list[Plan] = []
    for plan in plans:
        stored = await _stored_plan(conn, plan.name, plan.version)
        if stored is None:
            new.append(plan)
        elif _same(stored, plan):
            report.unchanged.append((plan.name, plan.version))
        else:
            errors.append((
                _first_line(lines, plan),
                f"{plan.label} is already stored with other dates or rates:"
                " give the correction a new version label",
            ))  # fmt: skip
    for name in sorted({p.name for p in new}):
        in_force = await _versions_in_force(conn, name)
        added = [p for p in new if p.name == name]
        starts = {p.effective_from for p in added}
        replaced = [v for v in in_force if v.effective_from in starts]
        try:
            Tariff([p for p in in_force if p not in replaced] + added)
        except ValueError as exc:
            errors.append((min(_first_line(lines, p) for p in added), f"plan {name}: {exc}"))
            continue
        for old in replaced:
            await conn.execute(
                tariff_versions.update()
                .where(tariff_versions.c.plan == old.name, tariff_versions.c.version == old.version)
                .values(superseded_at=now)
            )
            report.superseded.append((old.name, old.version))
        for plan in added:
            await _insert_plan(conn, plan, now)
            report.added.append((plan.name, plan.version))
    if errors:
        raise DataFileError(source, sorted(errors))
    return report


async def _insert_plan(conn: AsyncConnection, plan: Plan, now: datetime) -> None:
    version_id = await conn.scalar(
        insert_or_skip(conn, tariff_versions, tariff_versions.c.plan, tariff_versions.c.version)
        .values(
            plan=plan.name,
            version=plan.version,
            effective_from=plan.effective_from,
            effective_to=plan.effective_to,
            imported_at=now,
        )
        .returning(tariff_versions.c.id)
    )
    if version_id is None:
        return  # stored meanwhile by a concurrent first use (Annex B seeding)
    await conn.execute(
        tariff_rates.insert(),
        [
            {
                "version_id": version_id,
                "service": r.service,
                "destination": r.destination,
                "price_eur": str(r.price_eur),
                "first_block": r.first_block,
                "increment": r.increment,
                "connect_fee_eur": str(r.connect_fee_eur),
                "description": r.description,
            }
            for r in plan.rates
        ],
    )


async def _stored_plan(conn: AsyncConnection, name: str, version: str) -> Plan | None:
    row = (
        await conn.execute(
            select(tariff_versions).where(
                tariff_versions.c.plan == name, tariff_versions.c.version == version
            )
        )
    ).first()
    if row is None:
        return None
    rates = await _rates_by_version(conn, [row.id])
    return Plan(
        row.plan, row.version, row.effective_from, row.effective_to, tuple(rates.get(row.id, ()))
    )


async def _versions_in_force(conn: AsyncConnection, name: str) -> list[Plan]:
    try:
        return list((await _load(conn, name)).tariff.versions)
    except UnknownTariffError:
        return []


async def _rates_by_version(conn: AsyncConnection, version_ids: list[int]) -> dict[int, list[Rate]]:
    rows = await conn.execute(
        select(tariff_rates)
        .where(tariff_rates.c.version_id.in_(version_ids))
        .order_by(tariff_rates.c.id)
    )
    by_version: dict[int, list[Rate]] = {}
    for r in rows:
        by_version.setdefault(r.version_id, []).append(
            Rate(
                r.destination,
                Decimal(r.price_eur),
                r.service,
                r.first_block,
                r.increment,
                Decimal(r.connect_fee_eur),
                r.description,
            )
        )
    return by_version


def _same(a: Plan, b: Plan) -> bool:
    return (a.effective_from, a.effective_to, set(a.rates)) == (
        b.effective_from,
        b.effective_to,
        set(b.rates),
    )


def _first_line(lines: list[str], plan: Plan) -> int:
    """The line of the plan version's first row in the file (0 when not from a file)."""
    reader = csv.reader(lines)
    for fields in reader:
        if [f.strip() for f in fields[:2]] == [plan.name, plan.version]:
            return reader.line_num
    return 0
