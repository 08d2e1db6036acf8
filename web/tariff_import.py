"""What a tariff import's audit entry says, for every surface that
imports tariffs (/api/v1 and the console): the plan versions added and
superseded, each list cut to what an entry's value holds."""

from __future__ import annotations

from billing.tariff_store import ImportReport

MAX_REPORTED = 40
"""The most plan versions named in an import's audit entry (each list is a string of ≤ 1,000 characters)."""


def pairs(listed: list[tuple[str, str]]) -> list[str]:
    """``(plan, version)`` pairs as ``plan/version``."""
    return [f"{plan}/{version}" for plan, version in listed]


def _audited_list(listed: list[tuple[str, str]]) -> str | None:
    shown = pairs(listed[:MAX_REPORTED])
    more = f" (+{len(listed) - MAX_REPORTED} more)" if len(listed) > MAX_REPORTED else ""
    return (", ".join(shown)[:900] + more) if listed else None


def changed_anything(report: ImportReport) -> bool:
    """True if the import added or corrected a version (else it changed nothing: no audit entry)."""
    return bool(report.added or report.superseded)


def import_resource_id(report: ImportReport) -> str | None:
    """The plans the import touched, as the audit entry's resource id."""
    return ",".join(sorted({plan for plan, _ in report.added + report.superseded}))[:64] or None


def import_audit_after(report: ImportReport) -> dict[str, str | None]:
    """The audit entry's "after": the versions added and superseded."""
    return {"added": _audited_list(report.added), "superseded": _audited_list(report.superseded)}
