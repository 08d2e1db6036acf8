"""The console's tariff plans (issue 13, item 5): the plans with their
versions in force and effective dates, one plan's rates, its export as
the import's CSV, and an import of a tariff CSV file (``tariffs.write``).

An import is all or nothing (:func:`billing.tariff_store.import_tariff_csv`,
what /api/v1 and the CLI call): every problem is listed on the page by
line, nothing stored then. An import that changes nothing (every version
stored already) leaves no audit entry. The file is bounded by the admin
app's request size (web.json_body.MAX_BODY_BYTES) and must be UTF-8.
"""

from __future__ import annotations

import io

from aiohttp import web

from billing import tariff_store
from billing._datafile import DataFileError
from billing.errors import UnknownTariffError
from web import tariff_import
from web.audited import audited_change

from .context import PageNotFound, posted_form, services, viewer
from .render import render

MAX_PLAN_CHARS = 64
MAX_SHOWN_PROBLEMS = 50


async def _versions(request: web.Request, name: str) -> list:
    if len(name) > MAX_PLAN_CHARS:
        raise PageNotFound()
    try:
        return list((await tariff_store.load_tariff(services(request).engine, name)).versions)
    except UnknownTariffError:
        raise PageNotFound() from None


async def list_page(request: web.Request, *, problems: list[str] | None = None, report=None,
                    status: int = 200) -> web.Response:
    """GET /console/tariffs: every stored plan with its versions in force, and the import form."""
    who = await viewer(request, "tariffs.read")
    names = await tariff_store.stored_plan_names(services(request).engine)
    plans = [(name, await _versions(request, name)) for name in names]
    return render(request, "tariffs.html", {
        "plans": plans, "may_import": who.may("tariffs.write"), "problems": problems or [], "report": report,
        "pairs": tariff_import.pairs,
    }, who=who, status=status)


async def plan_page(request: web.Request) -> web.Response:
    """GET /console/tariffs/{plan}: the plan's versions, by start, each with its rates."""
    who = await viewer(request, "tariffs.read")
    name = request.match_info["plan"]
    return render(request, "tariff.html", {"name": name, "versions": await _versions(request, name)}, who=who)


async def export(request: web.Request) -> web.Response:
    """GET /console/tariffs/{plan}/export: the plan's versions in force as a tariff CSV."""
    await viewer(request, "tariffs.read")
    name = request.match_info["plan"]
    await _versions(request, name)  # 404 for an unknown plan
    out = io.StringIO()
    await tariff_store.export_tariff_csv(services(request).engine, out, name)
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                                 "Cache-Control": "no-store"})


async def import_csv(request: web.Request) -> web.Response:
    """POST /console/tariffs (multipart, ``file``): import a tariff CSV, all or nothing (audited)."""
    who = await viewer(request, "tariffs.write")
    await posted_form(request, who)  # the CSRF check; the file is read from the same (cached) form
    upload = (await request.post()).get("file")
    if not isinstance(upload, web.FileField):
        return await list_page(request, problems=["file: choose a tariff CSV file"], status=400)
    try:
        text = upload.file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return await list_page(request, problems=["file: not UTF-8 text"], status=400)
    svc = services(request)
    report = None
    try:
        async with audited_change(svc.engine, who.actor, svc.notifier, action="import", resource="tariff") as change:
            report = await tariff_store.import_tariff_csv(change.conn, text.splitlines(keepends=True),
                                                          upload.filename[:100] or "tariff import")
            if not tariff_import.changed_anything(report):  # every version stored already: no entry
                change.unchanged()
            change.resource_id = tariff_import.import_resource_id(report)
            change.fields({}, tariff_import.import_audit_after(report))
    except DataFileError as exc:
        problems = [f"line {line}: {message}" for line, message in exc.errors[:MAX_SHOWN_PROBLEMS]]
        if len(exc.errors) > MAX_SHOWN_PROBLEMS:
            problems.append(f"(+{len(exc.errors) - MAX_SHOWN_PROBLEMS} more)")
        return await list_page(request, problems=problems or [str(exc)], status=400)
    return await list_page(request, report=report, status=201 if tariff_import.changed_anything(report) else 200)


def add_routes(app: web.Application) -> None:
    """The tariff pages in the console's app."""
    app.router.add_get("/tariffs", list_page)
    app.router.add_post("/tariffs", import_csv)
    app.router.add_get("/tariffs/{plan}", plan_page)
    app.router.add_get("/tariffs/{plan}/export", export)
