"""Service plans kept in the database, versioned: import, export, load.

An import (a service plan CSV, see :mod:`billing.service_plans`, or the
same versions from the admin API's JSON) is checked whole before anything
is stored; then each version is:

* already stored with the same fields: unchanged (importing a file twice
  changes nothing);
* new: added;
* new and starting on the same day as a stored version in force: a
  **correction** — the stored one is marked superseded (kept: accounts'
  history will point at it) and the correction takes its place;
* a stored label with other fields: refused (labels are immutable, a
  correction gets a new label).

The versions in force of a plan may not overlap, and each version's tariff
must be a stored tariff plan (``clickphone tariffs import`` first). Any
problem refuses the whole import with a :class:`ServicePlanFileError`
naming the line (or list position) and the field; nothing is stored then.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing import tariff_store
from billing.errors import UnknownServicePlanError
from billing.service_plans import (
    Allowance,
    Problem,
    ServicePlan,
    ServicePlanFileError,
    ServicePlanVersions,
    read_service_plan_csv,
    write_service_plan_csv,
)
from billing.tables import service_plan_allowances, service_plan_versions
from sqlbase import Db, transaction, utc_now

# Any fixed 64-bit number, the same in every process: imports take turns on
# PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises them).
_IMPORT_LOCK_ID = 0x706C616E73303031  # "plans001"

MAX_FILE_BYTES = 1024 * 1024
"""The largest service plan file ``clickphone plans import`` reads."""


@dataclass
class ImportReport:
    """What an import did, as ``(plan, version)`` pairs."""

    added: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class StoredServicePlan:
    """A plan's versions in force, with the database id of each version."""

    versions: ServicePlanVersions
    version_ids: dict[str, int]


async def import_service_plan_csv(
    db: Db, lines: Iterable[str], source: str = "service plan file", *, now: datetime | None = None
) -> ImportReport:
    """Check a service plan CSV and store its versions (see module docstring)."""
    return await import_service_plans(db, read_service_plan_csv(lines, source), source, now=now)


async def import_service_plan_file(db: Db, path: str | Path) -> ImportReport:
    """Import the service plan CSV at ``path`` (at most :data:`MAX_FILE_BYTES`)."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ServicePlanFileError(str(path), [Problem(0, "file", f"is larger than {MAX_FILE_BYTES} bytes")])
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServicePlanFileError(str(path), [Problem(0, "file", f"is not UTF-8 text ({exc.reason})")]) from exc
    return await import_service_plan_csv(db, content.splitlines(keepends=True), str(path))


async def import_service_plans(
    db: Db, plans: Sequence[tuple[int, ServicePlan]], source: str, *, now: datetime | None = None
) -> ImportReport:
    """Store checked versions, each given with its position (line) for
    messages; all or nothing."""
    async with transaction(db) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _IMPORT_LOCK_ID})
        return await _store(conn, plans, source, now or utc_now())


async def export_service_plan_csv(db: Db, out: IO[str], name: str | None = None) -> None:
    """Write the versions in force of plan ``name`` (default: every plan) as a service plan CSV."""
    plans = [await load_service_plan(db, name)] if name is not None else await list_service_plans(db)
    write_service_plan_csv((v for plan in plans for v in plan.versions), out)


async def export_service_plan_text(db: Db, name: str | None = None) -> str:
    """Return what :func:`export_service_plan_csv` writes."""
    buffer = io.StringIO()
    await export_service_plan_csv(db, buffer, name)
    return buffer.getvalue()


async def list_service_plans(db: Db) -> list[ServicePlanVersions]:
    """Return every stored plan's versions in force, by name."""
    async with transaction(db) as conn:
        stored = await _in_force(conn, None)
    return [entry.versions for _, entry in sorted(stored.items())]


async def load_service_plan(db: Db, name: str) -> ServicePlanVersions:
    """Return the versions in force of plan ``name``; raise :class:`UnknownServicePlanError`."""
    return (await load_stored_service_plan(db, name)).versions


async def load_stored_service_plan(db: Db, name: str) -> StoredServicePlan:
    """Return the versions in force of plan ``name`` with their ids; raise
    :class:`UnknownServicePlanError`."""
    async with transaction(db) as conn:
        stored = await _in_force(conn, name)
    if name not in stored:
        raise UnknownServicePlanError(name)
    return stored[name]


# -- storing ----------------------------------------------------------------------------


async def _store(
    conn: AsyncConnection, plans: Sequence[tuple[int, ServicePlan]], source: str, now: datetime
) -> ImportReport:
    report = ImportReport()
    problems: list[Problem] = []
    tariffs = set(await tariff_store.stored_plan_names(conn))
    in_force = await _in_force(conn, None)
    new: list[tuple[int, ServicePlan]] = []
    for position, plan in plans:
        if plan.tariff not in tariffs:
            problems.append(Problem(position, "tariff", f"no stored tariff plan {plan.tariff!r} "
                                                        f"(stored: {', '.join(sorted(tariffs))})"))
        stored = await _stored_version(conn, plan.name, plan.version)
        if stored is None:
            new.append((position, plan))
        elif stored == plan:
            report.unchanged.append((plan.name, plan.version))
        else:
            problems.append(Problem(position, "version", f"{plan.label} is already stored otherwise: "
                                                         "give the correction a new version label"))
    replaced: list[tuple[ServicePlan, int]] = []  # with the version's id
    for name in sorted({plan.name for _, plan in new}):
        added = [(position, plan) for position, plan in new if plan.name == name]
        starts = {plan.effective_from for _, plan in added}
        stored = in_force.get(name)
        kept = list(stored.versions.versions) if stored else []
        try:
            ServicePlanVersions([v for v in kept if v.effective_from not in starts] + [plan for _, plan in added])
        except ValueError as exc:
            problems.append(Problem(min(p for p, _ in added), "effective_from", f"plan {name}: {exc}"))
        if stored:
            replaced.extend((v, stored.version_ids[v.version]) for v in kept if v.effective_from in starts)
    if problems:
        raise ServicePlanFileError(source, problems)
    if replaced:
        await conn.execute(
            service_plan_versions.update()
            .where(service_plan_versions.c.id.in_([version_id for _, version_id in replaced]))
            .values(superseded_at=now)
        )
        report.superseded.extend((old.name, old.version) for old, _ in replaced)
    for _, plan in new:
        await _insert(conn, plan, now)
        report.added.append((plan.name, plan.version))
    return report


async def _insert(conn: AsyncConnection, plan: ServicePlan, now: datetime) -> None:
    version_id = await conn.scalar(
        service_plan_versions.insert()
        .values(
            plan=plan.name, version=plan.version, effective_from=plan.effective_from,
            effective_to=plan.effective_to, monthly_fee_micro=plan.monthly_fee_micro, tariff=plan.tariff,
            description=plan.description, setup_fee_micro=plan.setup_fee_micro, imported_at=now,
        )
        .returning(service_plan_versions.c.id)
    )
    if plan.allowances:
        await conn.execute(
            service_plan_allowances.insert(),
            [{"version_id": version_id, "destination_group": a.group, "included_minutes": a.minutes}
             for a in plan.allowances],
        )


async def _stored_version(conn: AsyncConnection, name: str, version: str) -> ServicePlan | None:
    found = await _versions(conn, service_plan_versions.c.plan == name, service_plan_versions.c.version == version)
    return found[0][1] if found else None


async def _in_force(conn: AsyncConnection, name: str | None) -> dict[str, StoredServicePlan]:
    """The versions in force of plan ``name`` (every plan when None), by plan name."""
    named = [] if name is None else [service_plan_versions.c.plan == name]
    by_name: dict[str, list[tuple[int, ServicePlan]]] = {}
    for version_id, plan in await _versions(conn, service_plan_versions.c.superseded_at.is_(None), *named):
        by_name.setdefault(plan.name, []).append((version_id, plan))
    return {
        plan_name: StoredServicePlan(
            ServicePlanVersions(plan for _, plan in listed), {plan.version: vid for vid, plan in listed}
        )
        for plan_name, listed in by_name.items()
    }


async def _versions(conn: AsyncConnection, *conditions: ColumnElement[bool]) -> list[tuple[int, ServicePlan]]:
    """The stored versions meeting ``conditions``, oldest first, each with its id."""
    rows = (
        await conn.execute(
            select(service_plan_versions).where(*conditions).order_by(service_plan_versions.c.effective_from)
        )
    ).all()
    allowances: dict[int, list[Allowance]] = {}
    if rows:
        found = await conn.execute(
            select(service_plan_allowances).where(
                service_plan_allowances.c.version_id.in_([row.id for row in rows])
            )
        )
        for a in found:
            allowances.setdefault(a.version_id, []).append(Allowance(a.destination_group, a.included_minutes))
    return [
        (row.id, ServicePlan(row.plan, row.version, row.effective_from, row.effective_to,
                             row.monthly_fee_micro, row.tariff, tuple(allowances.get(row.id, ())),
                             row.description, row.setup_fee_micro))
        for row in rows
    ]
