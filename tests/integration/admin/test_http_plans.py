"""The admin API's service plans (``/admin/plans``): list, show, and import
as a CSV body or JSON, behind the bearer token, all or nothing, a 400 that
names the field. On SQLite and PostgreSQL, through aiohttp's test client."""

from __future__ import annotations

from billing.service_plans import SERVICE_PLAN_COLUMNS

from .test_http_admin import AUTH, client, plane  # noqa: F401  (fixtures)

CSV_HEADERS = {**AUTH, "Content-Type": "text/csv"}
HOME5_CSV = (
    ",".join(SERVICE_PLAN_COLUMNS[:-1]) + "\n"
    "home5,2025.1,2025-01-01,,5.00,,national,100,\"Home, 5 EUR\"\n"
    "home5,2025.1,2025-01-01,,5.00,,on_net,1000,\"Home, 5 EUR\"\n"
)
HOME5_JSON = {"name": "home5", "version": "2025.1", "effective_from": "2025-01-01", "monthly_fee": "5.00",
              "included_minutes": {"national": 100, "on_net": 1000}, "description": "Home, 5 EUR"}
HOME5_SHOWN = {"name": "home5", "versions": [{
    "version": "2025.1", "effective_from": "2025-01-01", "effective_to": None, "monthly_fee": "5.000000",
    "tariff": "annex_b", "included_minutes": {"national": 100, "on_net": 1000}, "description": "Home, 5 EUR",
    "setup_fee": None,
}]}


async def test_a_csv_body_imports_and_the_plan_is_shown(client):
    """POST text/csv → the versions added; GET /admin/plans/home5 shows the
    fee in euros, the minutes per group and Annex B as the tariff."""
    imported = await client.post("/admin/plans", data=HOME5_CSV.encode(), headers=CSV_HEADERS)
    shown = await client.get("/admin/plans/home5", headers=AUTH)
    listed = await client.get("/admin/plans", headers=AUTH)

    assert imported.status == 200, await imported.text()
    assert await imported.json() == {"added": [{"plan": "home5", "version": "2025.1"}], "unchanged": [],
                                     "superseded": []}
    assert shown.status == 200 and await shown.json() == HOME5_SHOWN
    assert await listed.json() == {"plans": [HOME5_SHOWN]}


async def test_json_imports_the_same_plan_as_the_csv(client):
    """The same version as JSON imports to the same plan; the CSV after it is unchanged."""
    imported = await client.post("/admin/plans", json={"plans": [HOME5_JSON]}, headers=AUTH)
    again = await client.post("/admin/plans", data=HOME5_CSV.encode(), headers=CSV_HEADERS)

    assert imported.status == 200, await imported.text()
    assert (await client.get("/admin/plans/home5", headers=AUTH)).status == 200
    assert await (await client.get("/admin/plans/home5", headers=AUTH)).json() == HOME5_SHOWN
    assert (await again.json())["unchanged"] == [{"plan": "home5", "version": "2025.1"}]


async def test_a_bad_csv_row_is_refused_naming_its_line_and_field_and_nothing_is_stored(client):
    """A fee over 10,000 EUR on lines 2 and 3: 400 with field
    monthly_fee_eur and both lines among the problems; no plan is stored."""
    body = HOME5_CSV.replace(",5.00,", ",10000.01,")
    response = await client.post("/admin/plans", data=body.encode(), headers=CSV_HEADERS)

    assert response.status == 400
    refused = await response.json()
    assert refused["field"] == "monthly_fee_eur" and "line 2: monthly_fee_eur:" in refused["error"]
    assert {(p["line"], p["field"]) for p in refused["problems"]} == {(2, "monthly_fee_eur"),
                                                                      (3, "monthly_fee_eur")}
    assert await (await client.get("/admin/plans", headers=AUTH)).json() == {"plans": []}


async def test_a_bad_json_version_is_refused_naming_its_field(client):
    """JSON problems are named as JSON fields: plans[1].included_minutes for
    an unknown group, plans[1].monthly_fee for a fee with an exponent; the
    good version beside them is not stored either."""
    bad = {**HOME5_JSON, "name": "other", "monthly_fee": "5e0", "included_minutes": {"weekend": 10}}
    response = await client.post("/admin/plans", json={"plans": [HOME5_JSON, bad]}, headers=AUTH)

    assert response.status == 400
    refused = await response.json()
    assert refused["field"] == "plans[1].included_minutes"
    assert {(p["index"], p["field"]) for p in refused["problems"]} == {(1, "included_minutes"),
                                                                       (1, "monthly_fee")}
    assert await (await client.get("/admin/plans", headers=AUTH)).json() == {"plans": []}


async def test_a_json_value_of_the_wrong_type_names_its_path(client):
    """A number of minutes given as a string, or an unknown field, is named by its path."""
    wrong_type = {**HOME5_JSON, "included_minutes": {"national": "100"}}
    unknown = {**HOME5_JSON, "colour": "blue"}

    first = await client.post("/admin/plans", json={"plans": [wrong_type]}, headers=AUTH)
    second = await client.post("/admin/plans", json={"plans": [unknown]}, headers=AUTH)

    assert first.status == 400 and (await first.json())["field"] == "plans[0].included_minutes.national"
    assert second.status == 400 and (await second.json())["field"] == "plans[0].colour"


async def test_a_plan_on_a_tariff_not_stored_is_refused_naming_the_tariff(client):
    """The tariff a plan rates calls with must be stored: 400, field tariff."""
    response = await client.post("/admin/plans", json={"plans": [{**HOME5_JSON, "tariff": "gold"}]}, headers=AUTH)

    assert response.status == 400 and (await response.json())["field"] == "plans[0].tariff"


async def test_an_unknown_plan_is_404(client):
    """GET of a plan never imported answers 404 naming it."""
    response = await client.get("/admin/plans/gold", headers=AUTH)

    assert response.status == 404 and "'gold'" in (await response.json())["error"]


async def test_plans_need_the_bearer_token(client):
    """Without the token the plans are neither listed nor imported."""
    listed = await client.get("/admin/plans")
    imported = await client.post("/admin/plans", data=HOME5_CSV.encode(), headers={"Content-Type": "text/csv"})

    assert (listed.status, imported.status) == (401, 401)
    assert (await client.get("/admin/plans", headers=AUTH)).status == 200
    assert await (await client.get("/admin/plans", headers=AUTH)).json() == {"plans": []}
