import json

import httpx
import pytest
from shapely.geometry import shape

from tests.conftest import CALL_DATASET


def source_features() -> dict[str, dict[str, object]]:
    document = json.loads((CALL_DATASET / "communes.geojson").read_text(encoding="utf-8"))
    return {feature["properties"]["insee"]: feature for feature in document["features"]}


async def test_the_36_communes_are_valid_polygons(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/communes")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 36
    source = source_features()
    for feature in collection["features"]:
        geometry = shape(feature["geometry"])
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert geometry.is_valid
        assert not geometry.is_empty
        insee = feature["properties"]["insee"]
        assert feature["id"] == insee
        original = shape(source[insee]["geometry"])  # type: ignore[arg-type]
        # Same shape as the source file, to its 1e-5 degree precision.
        assert geometry.symmetric_difference(original).area < 1e-9
    assert "IGN" in collection["attribution"]


async def test_communes_keep_codes_as_text_and_carry_figures(client: httpx.AsyncClient) -> None:
    feature = (await client.get("/v1/communes/62001")).json()
    properties = feature["properties"]
    assert properties["insee"] == "62001"
    assert properties["name"] == "Ablain-Saint-Nazaire"
    assert isinstance(properties["siren"], str)
    assert len(properties["siren"]) == 9
    assert properties["population_year"] == 2025
    assert properties["action_count"] == 1
    source = source_features()["62001"]["properties"]
    assert properties["population"] == source["ptot_2025"]  # type: ignore[index]


@pytest.mark.parametrize(("q", "expected"), [("lievin", {"62510"}), ("LIÉVIN", {"62510"})])
async def test_name_search_ignores_case_and_accents(
    client: httpx.AsyncClient, q: str, expected: set[str]
) -> None:
    collection = (await client.get("/v1/communes", params={"q": q})).json()
    assert {f["id"] for f in collection["features"]} == expected


async def test_unknown_and_malformed_communes(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/communes/75056")
    assert missing.status_code == 404
    assert "75056" in missing.json()["detail"]
    malformed = await client.get("/v1/communes/6249")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["name"] == "insee"
