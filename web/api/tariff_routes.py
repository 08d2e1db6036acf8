"""/api/v1's tariff plans: list, show, export (the import CSV) and import
(a tariff CSV as ``text/csv``, or its rows as JSON).

An import is all or nothing (:func:`billing.tariff_store.import_tariff_csv`):
every problem is found first and the 400 names the first one's place —
``line N`` of a CSV, ``rows.I`` of JSON — and its message lists them all.
Importing a version twice changes nothing; a new version starting with a
stored one corrects it (:mod:`billing.tariff_store`).
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from billing import tariff_store
from billing._datafile import DataFileError
from billing.errors import UnknownTariffError
from billing.tariffs import TARIFF_COLUMNS, Plan
from web import tariff_import

from .errors import ApiError
from .registry import ApiCall, RouteTable
from .tariff_schemas import (
    RateOut,
    TariffImport,
    TariffImportReport,
    TariffPlanDetail,
    TariffPlanList,
    TariffPlanOut,
    TariffVersionDetail,
    TariffVersionOut,
)

routes = RouteTable()

def _version_out(plan: Plan) -> TariffVersionOut:
    return TariffVersionOut(version=plan.version, effective_from=plan.effective_from,
                            effective_to=plan.effective_to, rates=len(plan.rates))


def _version_detail(plan: Plan) -> TariffVersionDetail:
    return TariffVersionDetail(
        **_version_out(plan).model_dump(),
        rate_list=[RateOut(service=r.service, destination=r.destination, price_eur=format(r.price_eur, "f"),
                           first_block_s=r.first_block, increment_s=r.increment,
                           connect_fee_eur=format(r.connect_fee_eur, "f"), description=r.description)
                   for r in plan.rates])


async def _versions(call: ApiCall, name: str) -> list[Plan]:
    try:
        return list((await tariff_store.load_tariff(call.engine, name)).versions)
    except UnknownTariffError as exc:
        raise ApiError(404, str(exc)) from None


@routes.route("GET", "/tariffs", summary="Tariff plans and their versions in force, with effective dates",
              permission="tariffs.read", response=TariffPlanList)
async def list_tariffs(call: ApiCall) -> TariffPlanList:
    """Every stored plan (Annex B stored on first use) with its versions in force."""
    names = await tariff_store.stored_plan_names(call.engine)
    return TariffPlanList(items=[TariffPlanOut(name=name, versions=[_version_out(p) for p in await _versions(call, name)])
                                 for name in names])


@routes.route("GET", "/tariffs/{plan}", summary="A tariff plan's versions in force and their rates",
              permission="tariffs.read", response=TariffPlanDetail)
async def get_tariff(call: ApiCall) -> TariffPlanDetail:
    """The plan's versions, by start, each with its rates."""
    name = call.request.match_info["plan"]
    return TariffPlanDetail(name=name, versions=[_version_detail(p) for p in await _versions(call, name)])


@routes.route("GET", "/tariffs/{plan}/export", summary="A tariff plan as the import's CSV",
              permission="tariffs.read", media_type="text/csv")
async def export_tariff(call: ApiCall) -> web.Response:
    """The plan's versions in force as a tariff CSV (``POST /tariffs`` takes it back unchanged)."""
    name = call.request.match_info["plan"]
    await _versions(call, name)  # 404 for an unknown plan
    out = io.StringIO()
    await tariff_store.export_tariff_csv(call.engine, out, name)
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _csv_of_rows(body: TariffImport) -> list[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TARIFF_COLUMNS)
    for row in body.rows:
        writer.writerow(getattr(row, column) for column in TARIFF_COLUMNS)
    return out.getvalue().splitlines(keepends=True)


def _refused(exc: DataFileError, *, in_json: bool) -> ApiError:
    """400 naming the first problem's place: ``rows.I`` (JSON; line 2 is row 0) or ``line N``."""
    line = exc.errors[0][0] if exc.errors else 1
    field = f"rows.{max(line - 2, 0)}" if in_json else f"line {line}"
    problems = "; ".join((f"rows.{max(n - 2, 0)}" if in_json else f"line {n}") + f": {m}" for n, m in exc.errors[:20])
    return ApiError(400, f"{field}: nothing imported: {problems}", field)


@routes.route("POST", "/tariffs", summary="Import tariff versions: a tariff CSV (text/csv) or its rows as JSON",
              permission="tariffs.write", body=TariffImport, response=TariffImportReport, status=201,
              accepts_csv=True)
async def import_tariffs(call: ApiCall) -> TariffImportReport:
    """All or nothing: every version added, unchanged or correcting a stored one."""
    in_json = isinstance(call.body, TariffImport)
    if in_json and not call.body.rows:
        raise ApiError(400, "rows: at least one rate", "rows")
    lines = _csv_of_rows(call.body) if in_json else call.body.splitlines(keepends=True)
    try:
        async with call.change("import", "tariff") as change:
            report = await tariff_store.import_tariff_csv(change.conn, lines, "tariff import")
            if not tariff_import.changed_anything(report):  # every version stored already
                change.unchanged()
            change.resource_id = tariff_import.import_resource_id(report)
            change.fields({}, tariff_import.import_audit_after(report))
    except DataFileError as exc:
        raise _refused(exc, in_json=in_json) from None
    return TariffImportReport(added=tariff_import.pairs(report.added), unchanged=tariff_import.pairs(report.unchanged),
                              superseded=tariff_import.pairs(report.superseded))
