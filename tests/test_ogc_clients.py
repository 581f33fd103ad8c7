"""Real clients read the OGC API of a running service: GDAL's OAPIF driver (what QGIS and
ogr2ogr use) and OWSLib. What they read must be what the database holds, page after page."""

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from owslib.ogcapi.features import Features
from shapely import wkb
from shapely.geometry import shape

from tests.conftest import TEST_DATABASE_URL, plain_url
from tests.test_docs_browser import rendered_dom

pytestmark = pytest.mark.skipif(
    shutil.which("ogr2ogr") is None, reason="GDAL's ogr2ogr is missing: scripts/test installs it"
)

# collection: (SQL of what it publishes: id, title, geometry as WKB; page size for the clients)
PUBLISHED = {
    "initiatives": (
        "SELECT id::text, title, ST_AsBinary(geometry) FROM initiative WHERE status = 'published'",
        4,
    ),
    "communes": ("SELECT insee, name, ST_AsBinary(boundary) FROM commune", 10),
    "actions": (
        "SELECT a.code, a.title, ST_AsBinary(coalesce(a.geometry, (SELECT ST_Multi(ST_Union("
        "c.boundary)) FROM action_commune ac JOIN commune c ON c.insee = ac.commune_insee "
        "WHERE ac.action_id = a.id))) FROM action a WHERE a.geometry IS NOT NULL OR EXISTS "
        "(SELECT 1 FROM action_commune ac WHERE ac.action_id = a.id)",
        2,
    ),
}


async def database_rows(collection: str) -> dict[str, tuple[str, Any]]:
    connection = await asyncpg.connect(plain_url(TEST_DATABASE_URL))
    try:
        rows = await connection.fetch(PUBLISHED[collection][0])
    finally:
        await connection.close()
    return {row[0]: (row[1], wkb.loads(bytes(row[2]))) for row in rows}


def run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def title_of(properties: dict[str, Any]) -> str:
    return str(properties.get("title") or properties.get("name"))


@pytest.mark.parametrize("collection", list(PUBLISHED))
async def test_gdal_reads_every_feature_across_pages(
    live_server: str, tmp_path: Path, collection: str
) -> None:
    page_size = PUBLISHED[collection][1]
    target = tmp_path / f"{collection}.geojson"
    await asyncio.to_thread(
        run,
        "ogr2ogr",
        "-f",
        "GeoJSON",
        "-lco",
        "RFC7946=YES",
        "-lco",
        "COORDINATE_PRECISION=7",
        "-preserve_fid",
        str(target),
        f"OAPIF:{live_server}/ogc",
        collection,
        "-oo",
        f"PAGE_SIZE={page_size}",
    )
    exported = json.loads(target.read_text(encoding="utf-8"))["features"]
    expected = await database_rows(collection)
    assert len(expected) > page_size  # so that the client had to follow `next`
    assert len(exported) == len(expected)
    titles = sorted(title_of(feature["properties"]) for feature in exported)
    assert titles == sorted(title for title, _ in expected.values())
    for feature in exported:
        title = title_of(feature["properties"])
        (geometry,) = [g for t, g in expected.values() if t == title][:1] or [None]
        assert geometry is not None, title
        got = shape(feature["geometry"])
        if geometry.geom_type == "Point":
            assert got.distance(geometry) < 1e-6, title  # 7 decimals: about a centimetre
        else:
            assert got.symmetric_difference(geometry).area < 1e-9, title


async def test_gdal_sees_the_layers_and_counts(live_server: str) -> None:
    listing = await asyncio.to_thread(run, "ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc")
    for collection in PUBLISHED:
        assert collection in listing
    summary = await asyncio.to_thread(
        run, "ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "communes"
    )
    assert "Feature Count: 36" in summary
    assert "Extent: (2.6" in summary


def owslib_everything(url: str, collection: str, page_size: int) -> list[dict[str, Any]]:
    api = Features(url + "/ogc/")
    features: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": page_size}
    while True:
        page = api.collection_items(collection, **params)
        features += page["features"]
        nexts = [link for link in page["links"] if link["rel"] == "next"]
        if not nexts:
            return features
        params["cursor"] = parse_qs(urlsplit(nexts[0]["href"]).query)["cursor"][0]


async def test_owslib_lists_collections_and_queryables(live_server: str) -> None:
    def read() -> tuple[list[str], dict[str, Any], dict[str, Any], dict[str, Any]]:
        api = Features(live_server + "/ogc/")
        return (
            api.feature_collections(),
            api.collection_queryables("initiatives"),
            api.conformance(),
            api.api(),
        )

    collections, queryables, conformance, openapi = await asyncio.to_thread(read)
    assert sorted(collections) == sorted(PUBLISHED)
    assert queryables["properties"]["category"]["type"] == "string"
    assert (
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"
        in (conformance["conformsTo"])
    )
    assert openapi["openapi"].startswith("3.0")


@pytest.mark.parametrize("collection", list(PUBLISHED))
async def test_owslib_reads_every_feature(live_server: str, collection: str) -> None:
    page_size = PUBLISHED[collection][1]
    features = await asyncio.to_thread(owslib_everything, live_server, collection, page_size)
    expected = await database_rows(collection)
    assert sorted(str(f["id"]) for f in features) == sorted(expected)
    for feature in features:
        title, geometry = expected[str(feature["id"])]
        assert title_of(feature["properties"]) == title
        got = shape(feature["geometry"])
        tolerance = 1e-6 if geometry.geom_type == "Point" else 1e-9
        measure = (
            got.distance(geometry)
            if geometry.geom_type == "Point"
            else got.symmetric_difference(geometry).area
        )
        assert measure < tolerance, feature["id"]


async def test_owslib_filters_with_cql2(live_server: str) -> None:
    def read() -> dict[str, Any]:
        return Features(live_server + "/ogc/").collection_items(
            "initiatives", filter="commune = '62510'", limit=100
        )

    page = await asyncio.to_thread(read)
    assert {f["properties"]["commune"] for f in page["features"]} == {"62510"}
    assert page["numberMatched"] == len(page["features"]) == 4


async def test_the_html_map_draws_every_feature_offline(live_server: str) -> None:
    initiatives = await rendered_dom(
        live_server + "/ogc/collections/initiatives/items?f=html&limit=100"
    )
    expected = await database_rows("initiatives")
    assert initiatives.count('class="feature point"') == len(expected)
    communes = await rendered_dom(live_server + "/ogc/collections/communes/items?f=html&limit=36")
    assert communes.count('class="feature area"') == 36
    assert "<svg" in communes


async def test_a_vector_tile_holds_the_features_of_its_area(
    live_server: str, tmp_path: Path
) -> None:
    z, x, y = 10, 520, 345  # Lens and Liévin
    async with httpx.AsyncClient() as client:
        url = f"{live_server}/ogc/collections/initiatives/tiles/WebMercatorQuad/{z}/{y}/{x}"
        response = await client.get(url)
    assert response.status_code == 200
    # GDAL's MVT driver georeferences a tile from its z/x/y path.
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(response.content)
    target = tmp_path / "tile.geojson"
    await asyncio.to_thread(
        run, "ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", str(target), str(path)
    )
    decoded = json.loads(target.read_text(encoding="utf-8"))["features"]
    connection = await asyncpg.connect(plain_url(TEST_DATABASE_URL))
    try:
        rows = await connection.fetch(
            "SELECT id, title, ST_X(geometry) AS x, ST_Y(geometry) AS y FROM initiative "
            "WHERE status = 'published' AND geometry && "
            # The tile's own square: GDAL leaves out what the tile holds in its buffer.
            "ST_Transform(ST_TileEnvelope($1::int, $2::int, $3::int), 4326)",
            z,
            x,
            y,
        )
    finally:
        await connection.close()
    assert rows
    assert sorted(f["properties"]["title"] for f in decoded) == sorted(r["title"] for r in rows)
    by_title = {r["title"]: r for r in rows}
    # A zoom-10 tile of 4096 units is about 39 km wide: a unit is under 10 m.
    for feature in decoded:
        row = by_title[feature["properties"]["title"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert abs(lon - row["x"]) < 2e-4
        assert abs(lat - row["y"]) < 2e-4
