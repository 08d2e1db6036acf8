"""/api/v1's tariff plans (list, show, export, import as CSV or JSON, all
or nothing), and the FX-rate and downtime writes: each write audited once
with before/after, a refused one not at all, 400s naming the line or field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from access.roles import SUPPORT
from billing import fx_store, tariff_store
from billing.invoicing.downtime import downtime_days
from billing.invoicing.recurring import BillingPeriod
from tests.integration.admin.test_http_admin import AUTH

from .audit_support import audit_count, one_entry_since
from .roles import bearer

API = "/api/v1"
CSV = {**AUTH, "Content-Type": "text/csv"}
HEADER = "plan,version,effective_from,effective_to,service,destination,price_eur\n"
BUSINESS = HEADER + "business,1,2025-01-01,,voice,ro_fixed,0.008\nbusiness,1,2025-01-01,,voice,ro_mobile,0.0125\n"


async def test_a_tariff_csv_imports_and_is_listed_shown_and_exported(engine, client) -> None:
    """POST /tariffs (text/csv) → 201 with what was added, one audit entry; GET lists it
    with its dates, shows its exact prices, and the export imports back unchanged."""
    count = await audit_count(engine)
    response = await client.post(f"{API}/tariffs", data=BUSINESS, headers=CSV)
    assert response.status == 201, await response.text()
    assert (await response.json())["added"] == ["business/1"]
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("import", "tariff", "business")
    assert entry.changes == {"added": {"before": None, "after": "business/1"}}
    listed = await (await client.get(f"{API}/tariffs", headers=AUTH)).json()
    plans = {plan["name"]: plan for plan in listed["items"]}
    assert {"annex_b", "business"} <= set(plans)
    assert plans["business"]["versions"][0]["effective_from"].startswith("2024-12-31T22:00:00")
    shown = await (await client.get(f"{API}/tariffs/business", headers=AUTH)).json()
    prices = {r["destination"]: r["price_eur"] for r in shown["versions"][0]["rate_list"]}
    assert prices == {"ro_fixed": "0.008", "ro_mobile": "0.0125"}
    exported = await client.get(f"{API}/tariffs/business/export", headers=AUTH)
    assert exported.status == 200 and exported.content_type == "text/csv"
    count = await audit_count(engine)
    again = await client.post(f"{API}/tariffs", data=await exported.text(), headers=CSV)
    assert (await again.json()) == {"added": [], "unchanged": ["business/1"], "superseded": []}
    assert await audit_count(engine) == count  # nothing changed, nothing audited


async def test_tariff_rows_import_as_json(engine, client) -> None:
    """The same import as JSON rows."""
    rows = [{"plan": "jsonplan", "version": "v1", "effective_from": "2025-01-01", "destination": "ro_fixed",
             "price_eur": "0.01"}]
    response = await client.post(f"{API}/tariffs", json={"rows": rows}, headers=AUTH)
    assert response.status == 201, await response.text()
    stored = await tariff_store.load_tariff(engine, "jsonplan")
    assert stored.versions[0].rates[0].price_eur == Decimal("0.01")


async def test_a_bad_tariff_is_refused_whole_naming_its_line_or_row(engine, client) -> None:
    """All or nothing: a CSV whose third line is bad stores none of it (400 naming line 3);
    a JSON row names rows.I; no audit entry."""
    count = await audit_count(engine)
    bad = HEADER + "broken,1,2025-01-01,,voice,ro_fixed,0.008\nbroken,1,not-a-day,,voice,ro_mobile,0.01\n"
    response = await client.post(f"{API}/tariffs", data=bad, headers=CSV)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["field"] == "line 3" and "effective_from" in error["message"]
    rows = [{"plan": "broken", "version": "1", "effective_from": "2025-01-01", "destination": "ro_fixed",
             "price_eur": "0.01"},
            {"plan": "broken", "version": "1", "effective_from": "2025-01-01", "destination": "ro_mobile",
             "price_eur": "cheap"}]
    response = await client.post(f"{API}/tariffs", json={"rows": rows}, headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "rows.1"
    for body, field in (({"rows": []}, "rows"), ({"rows": [{"plan": "x"}]}, "rows.0.version")):
        response = await client.post(f"{API}/tariffs", json=body, headers=AUTH)
        assert (response.status, (await response.json())["error"]["field"]) == (400, field)
    assert "broken" not in await tariff_store.stored_plan_names(engine)
    assert await audit_count(engine) == count


async def test_an_unknown_tariff_is_404_and_support_may_not_import(engine, client) -> None:
    """Reads of an unknown plan are 404; tariffs.write is the operator's."""
    assert (await client.get(f"{API}/tariffs/nosuchplan", headers=AUTH)).status == 404
    assert (await client.get(f"{API}/tariffs/nosuchplan/export", headers=AUTH)).status == 404
    headers = {**await bearer(engine, SUPPORT), "Content-Type": "text/csv"}
    assert (await client.post(f"{API}/tariffs", data=BUSINESS, headers=headers)).status == 403


async def test_a_manual_fx_rate_is_stored_exactly_and_audited_with_before_and_after(engine, client) -> None:
    """PUT /fx-rates/{day}: the exact decimal wins over BNR's; the entry has the old and new rate."""
    day = date(2025, 7, 31)
    await fx_store.store_rates(engine, {day: {"EUR": Decimal("5.0700")}}, source="bnr")
    count = await audit_count(engine)
    response = await client.put(f"{API}/fx-rates/2025-07-31", json={"ron_per_unit": "5.07205"}, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["ron_per_unit"] == "5.07205"
    assert (await fx_store.stored_rate_on(engine, day)).rate == Decimal("5.07205")
    entry = await one_entry_since(engine, count)
    assert (entry.action, entry.resource, entry.resource_id) == ("set", "fx_rate", "2025-07-31")
    assert entry.changes == {"ron_per_unit": {"before": "5.0700", "after": "5.07205"},
                             "source": {"before": "bnr", "after": "manual"}}


async def test_a_bad_fx_rate_is_400_naming_the_field_and_not_audited(engine, client) -> None:
    """A rate that is no positive decimal, a day that is no day, an extra field: 400, nothing stored."""
    count = await audit_count(engine)
    for path, body, field in (("2025-07-31", {"ron_per_unit": "-1"}, "ron_per_unit"),
                              ("2025-07-31", {"ron_per_unit": "5,07"}, "ron_per_unit"),
                              ("2025-07-31", {"ron_per_unit": 5.07}, "ron_per_unit"),
                              ("2025-02-30", {"ron_per_unit": "5.07"}, "day"),
                              ("2025-07-31", {"ron_per_unit": "5.07", "currency": "USD"}, "currency")):
        response = await client.put(f"{API}/fx-rates/{path}", json=body, headers=AUTH)
        assert response.status == 400, (path, body)
        assert (await response.json())["error"]["field"] == field, body
    assert await fx_store.stored_rate_on(engine, date(2025, 7, 31)) is None
    assert await audit_count(engine) == count


async def test_a_downtime_day_is_recorded_changed_and_removed_each_audited(engine, client) -> None:
    """PUT then PUT again (a new reason) then DELETE /downtime/{day}: one entry each, with before/after."""
    day = date(2025, 7, 10)
    count = await audit_count(engine)
    response = await client.put(f"{API}/downtime/2025-07-10", json={"reason": "carrier outage"}, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await one_entry_since(engine, count)).changes == {"reason": {"before": None, "after": "carrier outage"}}
    await client.put(f"{API}/downtime/2025-07-10", json={"reason": "fibre cut"}, headers=AUTH)
    assert (await one_entry_since(engine, count + 1)).changes == {
        "reason": {"before": "carrier outage", "after": "fibre cut"}}
    assert await downtime_days(engine, BillingPeriod(day, day)) == [(day, "fibre cut")]
    response = await client.delete(f"{API}/downtime/2025-07-10", headers=AUTH)
    assert response.status == 200
    assert (await one_entry_since(engine, count + 2)).changes == {"reason": {"before": "fibre cut", "after": None}}
    assert await downtime_days(engine, BillingPeriod(day, day)) == []


async def test_downtime_refusals_name_the_field_and_leave_no_entry(engine, client) -> None:
    """A blank or missing reason is 400 ``reason``; deleting a day that is not one is 404."""
    count = await audit_count(engine)
    for body in ({"reason": "   "}, {"reason": ""}, {}):
        response = await client.put(f"{API}/downtime/2025-07-11", json=body, headers=AUTH)
        assert response.status == 400, body
        assert (await response.json())["error"]["field"] == "reason"
    assert (await client.delete(f"{API}/downtime/2025-07-11", headers=AUTH)).status == 404
    assert await audit_count(engine) == count


async def test_a_write_sent_without_its_body_is_400_naming_the_missing_field(client) -> None:
    """No body at all where fields are required: 400 naming the first, not a 500."""
    response = await client.put(f"{API}/downtime/2025-07-12", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "reason"
    response = await client.put(f"{API}/fx-rates/2025-07-12", headers=AUTH)
    assert (response.status, (await response.json())["error"]["field"]) == (400, "ron_per_unit")


async def test_the_openapi_document_describes_text_path_parameters_and_the_csv_import(client) -> None:
    """A plan name, a day, a username and an invoice number are string path parameters
    (not ids), and POST /tariffs documents its text/csv body beside the JSON one."""
    document = await (await client.get(f"{API}/openapi.json")).json()
    paths = document["paths"]
    for path, method in ((f"{API}/tariffs/{{plan}}", "get"), (f"{API}/downtime/{{day}}", "put"),
                         (f"{API}/users/{{username}}/disable", "post"), (f"{API}/invoices/{{invoice}}.html", "get")):
        [parameter] = [p for p in paths[path][method]["parameters"] if p["in"] == "path"]
        assert parameter["schema"]["type"] == "string", path
    assert set(paths[f"{API}/tariffs"]["post"]["requestBody"]["content"]) == {"application/json", "text/csv"}
