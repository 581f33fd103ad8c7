"""The OGC answers' schemas are strict where clients rely on a member: a real answer passes,
the same answer with a required member dropped, or with a geometry type the service never
writes, does not."""

import copy
from typing import Any

import httpx
from jsonschema import Draft202012Validator

ITEMS = "/ogc/collections/communes/items"


async def contract_and_answer(
    client: httpx.AsyncClient, url: str, **params: Any
) -> tuple[dict[str, Any], Any, Any]:
    contract = (await client.get("/openapi.json")).json()
    answer = await client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return contract, answer.json(), answer.headers["content-type"]


def errors(contract: dict[str, Any], name: str, document: Any) -> list[str]:
    schema = {"$ref": f"#/components/schemas/{name}", "components": contract["components"]}
    return [error.message for error in Draft202012Validator(schema).iter_errors(document)]


async def test_a_feature_page_needs_its_envelope(client: httpx.AsyncClient) -> None:
    contract, page, _ = await contract_and_answer(client, ITEMS, limit=1)
    declared = contract["paths"]["/ogc/collections/{collectionId}/items"]["get"]
    schema = declared["responses"]["200"]["content"]["application/geo+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/FeatureCollection"}
    assert errors(contract, "FeatureCollection", page) == []
    for member in ("type", "features", "numberReturned", "links"):
        broken = {k: v for k, v in page.items() if k != member}
        assert errors(contract, "FeatureCollection", broken), member
    nulled = {**page, "numberMatched": None}
    assert errors(contract, "FeatureCollection", nulled)


async def test_a_feature_needs_a_geometry_the_service_writes(client: httpx.AsyncClient) -> None:
    first = (await client.get(ITEMS, params={"limit": 1})).json()["features"][0]
    contract, feature, media_type = await contract_and_answer(client, f"{ITEMS}/{first['id']}")
    assert media_type == "application/geo+json"
    assert errors(contract, "FeatureWithLinks", feature) == []
    assert errors(contract, "FeatureWithLinks", {**feature, "links": None})
    assert errors(contract, "FeatureWithLinks", {**feature, "geometry": None})
    other = copy.deepcopy(feature)
    other["geometry"] = {"type": "GeometryCollection", "geometries": []}
    assert errors(contract, "FeatureWithLinks", other)
    short_ring = copy.deepcopy(feature)
    short_ring["geometry"]["coordinates"][0][0] = short_ring["geometry"]["coordinates"][0][0][:3]
    assert errors(contract, "FeatureWithLinks", short_ring)


async def test_a_collection_needs_its_crs_and_links(client: httpx.AsyncClient) -> None:
    contract, collection, _ = await contract_and_answer(client, "/ogc/collections/communes")
    assert errors(contract, "Collection", collection) == []
    for member in ("id", "itemType", "crs", "storageCrs", "links"):
        assert errors(contract, "Collection", {k: v for k, v in collection.items() if k != member})
    assert errors(contract, "Collection", {**collection, "crs": []})
    link = collection["links"][0]
    assert errors(contract, "Link", {k: v for k, v in link.items() if k != "href"})
