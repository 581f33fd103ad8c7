import json

import httpx

from tests.conftest import CALL_DATASET
from tests.routers.test_plan import dataset_nodes


async def test_the_territory_states_its_identity_licence_and_source(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/territory")
    assert response.status_code == 200
    body = response.json()
    assert body["siren"] == "246200364"
    assert body["name"] == "Communauté d'agglomération de Lens-Liévin"
    assert body["licence"] == {
        "title": "Licence Ouverte / Open Licence version 2.0",
        "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
        "spdx": "etalab-2.0",
    }
    assert "IGN – Admin Express COG 2018" in body["attribution"]
    assert body["source_document"]["title"] == "Ensemble, participons à l'avenir du territoire"


async def test_declared_counts_stand_beside_loaded_ones(client: httpx.AsyncClient) -> None:
    counts = (await client.get("/v1/territory")).json()["plan_counts"]
    nodes = dataset_nodes()
    assert counts["axes"] == {"declared": 5, "loaded": 5}
    assert counts["ambitions"] == {"declared": 23, "loaded": len(nodes["ambitions"])}
    assert counts["objectives"] == {"declared": 51, "loaded": len(nodes["objectives"])}
    assert counts["actions"] == {"declared": 124, "loaded": len(nodes["actions"])}
    assert "124 actions" in counts["excerpt"]


async def test_the_status_breakdown_counts_every_action(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/territory")).json()
    breakdown = {entry["status"]: entry for entry in body["action_status_breakdown"]}
    expected: dict[str | None, int] = {}
    for action in dataset_nodes()["actions"]:
        expected[action.get("status")] = expected.get(action.get("status"), 0) + 1
    assert {status: entry["count"] for status, entry in breakdown.items()} == expected
    assert breakdown["in_progress"]["label_fr"] == "En cours"
    assert breakdown[None]["label_fr"] == "Non renseigné"


async def test_commune_figures_come_from_the_communes(client: httpx.AsyncClient) -> None:
    communes = (await client.get("/v1/territory")).json()["communes"]
    source = json.loads((CALL_DATASET / "communes.geojson").read_text(encoding="utf-8"))
    assert communes["count"] == 36
    assert communes["population"] == sum(f["properties"]["ptot_2025"] for f in source["features"])
    assert communes["population"] == 244_474
    assert communes["population_year"] == 2025
    west, south, east, north = communes["bbox"]
    assert (west, south, east, north) == (2.61884, 50.36183, 2.94175, 50.5079)


async def test_no_territory_yet_is_a_404(client: httpx.AsyncClient, session: object) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    await session.execute(text("DELETE FROM territory"))
    response = await client.get("/v1/territory")
    assert response.status_code == 404
    assert response.json()["detail"] == "No territory is loaded yet."
