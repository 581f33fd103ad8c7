"""OGC API – Features through the real app: each conformance class the service lists."""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from openapi_spec_validator import validate
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.ogc import CONFORMANCE
from tests.conftest import CALL_INITIATIVES

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
ITEMS = "/ogc/collections/initiatives/items"


async def get_json(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def rels(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for link in document["links"]:
        assert all(link.get(key) for key in ("href", "rel", "type")), link
        found.setdefault(link["rel"], []).append(link)
    return found


async def test_landing_page_links_what_clients_look_for(client: httpx.AsyncClient) -> None:
    response = await client.get("/ogc", headers={"Accept": "*/*"})
    assert response.headers["content-type"] == "application/json"
    links = rels(response.json())
    (desc,) = [x for x in links["service-desc"] if "version=3.0" in x["type"]]
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["service-doc"][0]["type"] == "text/html"
    assert links["conformance"][0]["href"].endswith("/ogc/conformance")
    assert links["data"][0]["href"].endswith("/ogc/collections")
    api = await client.get(urlsplit(desc["href"]).path)
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    document = api.json()
    assert document["openapi"] == "3.0.3"
    validate(document)
    assert "/ogc/collections/{collectionId}/items" in document["paths"]


async def test_conformance_lists_exactly_the_implemented_classes(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/ogc/conformance")
    assert body["conformsTo"] == CONFORMANCE
    # What QGIS needs to push filters to the server, and nothing we do not test below.
    needed = {"filter", "features-filter", "cql2-text", "basic-cql2"}
    assert needed <= {uri.rsplit("/", 1)[-1] for uri in body["conformsTo"]}
    assert not any("queryables-query-parameters" in uri for uri in body["conformsTo"])
    assert not any(uri.endswith("/spatial-functions") for uri in body["conformsTo"])


async def test_collections_are_features_with_extent_and_crs(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/ogc/collections")
    rels(body)
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == {"initiatives", "communes", "actions"}
    for collection in by_id.values():
        links = rels(collection)
        assert collection["itemType"] == "feature"
        assert collection["storageCrs"] == CRS84
        assert {CRS84, EPSG + "4326", EPSG + "2154", EPSG + "3857"} == set(collection["crs"])
        assert {x["type"] for x in links["items"]} == {GEOJSON, "text/html"}
        west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
        assert 2.5 < west < east < 3.0
        assert 50.3 < south < north < 50.6
    one = await get_json(client, "/ogc/collections/communes")
    assert one["id"] == "communes"
    missing = await client.get("/ogc/collections/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def all_pages(client: httpx.AsyncClient, url: str, **params: Any) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    next_url: str | None = url
    query: dict[str, Any] | None = params
    while next_url:
        response = await client.get(next_url, params=query)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == GEOJSON
        body = response.json()
        assert body["numberReturned"] == len(body["features"])
        features += body["features"]
        nexts = [x for x in body["links"] if x["rel"] == "next"]
        next_url = nexts[0]["href"] if nexts else None
        query = None
    return features


async def test_items_page_through_next_links(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    features = await all_pages(client, ITEMS, limit=3)
    ids = [f["id"] for f in features]
    expected = list(
        (
            await session.execute(
                text("SELECT id FROM initiative WHERE status = 'published' ORDER BY id")
            )
        ).scalars()
    )
    assert ids == expected
    first = await get_json(client, ITEMS, limit=3)
    assert "numberMatched" not in first  # only when exact and free
    whole = await get_json(client, ITEMS, limit=100)
    assert whole["numberMatched"] == whole["numberReturned"] == len(expected)
    (next_link,) = [x for x in first["links"] if x["rel"] == "next"]
    assert next_link["type"] == GEOJSON
    assert parse_qs(urlsplit(next_link["href"]).query)["limit"] == ["3"]
    communes = await get_json(client, "/ogc/collections/communes/items", limit=5)
    assert communes["numberMatched"] == 36  # a small table: the count is exact and cheap


async def test_a_page_keeps_its_etag_while_its_data_does_not_change(
    client: httpx.AsyncClient,
) -> None:
    # An OGC page is validated by its body's hash: nothing in it may move with the clock
    # (a timeStamp to the second did, so a revalidation a second later got the whole page).
    first = await client.get(ITEMS, params={"limit": 3})
    await asyncio.sleep(1.1)
    again = await client.get(ITEMS, params={"limit": 3})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    revalidated = await client.get(
        ITEMS, params={"limit": 3}, headers={"if-none-match": first.headers["etag"]}
    )
    assert revalidated.status_code == 304


async def test_offset_is_accepted_and_limit_is_clamped(client: httpx.AsyncClient) -> None:
    everything = [f["id"] for f in (await get_json(client, ITEMS, limit=100))["features"]]
    skipped = await get_json(client, ITEMS, limit=2, offset=4)
    assert [f["id"] for f in skipped["features"]] == everything[4:6]
    after = next(x for x in skipped["links"] if x["rel"] == "next")["href"]
    assert "offset" not in after
    following = (await client.get(after)).json()
    assert [f["id"] for f in following["features"]] == everything[6:8]
    huge = await client.get(ITEMS, params={"limit": 10**9})
    assert huge.status_code == 200
    assert huge.json()["numberReturned"] == len(everything)
    assert (await client.get(ITEMS, params={"limit": 0})).status_code == 400


async def test_one_feature_and_its_links(client: httpx.AsyncClient) -> None:
    first = (await get_json(client, ITEMS, limit=1))["features"][0]
    response = await client.get(f"{ITEMS}/{first['id']}")
    assert response.headers["content-type"] == GEOJSON
    assert response.headers["content-crs"] == f"<{CRS84}>"
    feature = response.json()
    assert feature["id"] == first["id"]
    assert feature["geometry"] == first["geometry"]
    assert {x["rel"] for x in feature["links"]} == {"self", "alternate", "collection"}
    for missing in ("999999999", "abc", "-1", "1" * 40):
        assert (await client.get(f"{ITEMS}/{missing}")).status_code in (404, 400)
    commune = await get_json(client, "/ogc/collections/communes/items/62498")
    assert commune["properties"]["name"] == "Lens"
    action = await get_json(client, "/ogc/collections/actions/items/3.3.2.1")
    assert action["properties"]["location_source"] == "communes"
    assert action["geometry"]["type"] == "MultiPolygon"


async def test_json_by_default_html_for_browsers(client: httpx.AsyncClient) -> None:
    for accept in ("*/*", "application/json", ""):
        response = await client.get(ITEMS, headers={"Accept": accept})
        assert response.headers["content-type"] == GEOJSON
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = await client.get(ITEMS, headers={"Accept": browser})
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<script src="/ogc/assets/map.js"' in html
    assert "http://" not in html.split("<body>")[0].replace('href="http://testserver', "")
    assert "Arena stade couvert de Liévin" in html
    embedded = html.split('<script id="features" type="application/json">')[1].split("</script>")[0]
    assert len(json.loads(embedded)["features"]) == 10
    script = await client.get("/ogc/assets/map.js")
    assert script.status_code == 200
    assert "createElementNS" in script.text
    for url in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/initiatives"):
        response = await client.get(url, params={"f": "html"})
        assert response.headers["content-type"].startswith("text/html"), url
    one = await client.get(ITEMS + "/1", params={"f": "html"})
    assert 'id="map"' in one.text


async def lonlat(session: AsyncSession, feature_id: int) -> tuple[float, float]:
    row = (
        await session.execute(
            text("SELECT ST_X(geometry), ST_Y(geometry) FROM initiative WHERE id = :id"),
            {"id": feature_id},
        )
    ).one()
    return float(row[0]), float(row[1])


async def test_lambert_93_matches_pyproj_to_the_centimetre(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    response = await client.get(ITEMS, params={"crs": EPSG + "2154", "limit": 100})
    assert response.headers["content-crs"] == f"<{EPSG}2154>"
    features = response.json()["features"]
    assert len(features) == CALL_INITIATIVES
    for feature in features:
        x, y = feature["geometry"]["coordinates"]
        expected = to_l93.transform(*await lonlat(session, feature["id"]))
        assert abs(x - expected[0]) < 0.01, feature["id"]
        assert abs(y - expected[1]) < 0.01, feature["id"]
        assert 600_000 < x < 750_000
        assert 6_950_000 < y < 7_100_000


async def test_epsg_4326_is_latitude_first_and_3857_is_web_mercator(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    crs84 = (await get_json(client, ITEMS, limit=1))["features"][0]
    lat_first = (await get_json(client, ITEMS, limit=1, crs=EPSG + "4326"))["features"][0]
    assert lat_first["geometry"]["coordinates"] == crs84["geometry"]["coordinates"][::-1]
    mercator = (await get_json(client, ITEMS, limit=1, crs=EPSG + "3857"))["features"][0]
    expected = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(
        *await lonlat(session, crs84["id"])
    )
    assert mercator["geometry"]["coordinates"] == pytest.approx(list(expected), abs=0.01)
    bad = await client.get(ITEMS, params={"crs": EPSG + "27572"})
    assert bad.status_code == 400
    assert "crs" in bad.json()["detail"]


async def test_bbox_in_each_crs_selects_the_same_features(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    west, south, east, north = 2.76, 50.41, 2.84, 50.45
    expected = set(
        (
            await session.execute(
                text(
                    "SELECT id FROM initiative WHERE status = 'published' AND ST_Intersects("
                    "geometry, ST_MakeEnvelope(:w, :s, :e, :n, 4326))"
                ),
                {"w": west, "s": south, "e": east, "n": north},
            )
        ).scalars()
    )
    assert 0 < len(expected) < 11

    async def found(bbox: list[float], crs: str | None) -> set[int]:
        params: dict[str, Any] = {"bbox": ",".join(map(str, bbox)), "limit": 100}
        if crs:
            params["bbox-crs"] = crs
        return {f["id"] for f in (await get_json(client, ITEMS, **params))["features"]}

    assert await found([west, south, east, north], None) == expected
    assert await found([south, west, north, east], EPSG + "4326") == expected
    # A Lambert-93 box a little inside the WGS84 one: what lies inside it lies inside both.
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x1, y1 = to_l93.transform(west + 0.001, south + 0.001)
    x2, y2 = to_l93.transform(east - 0.001, north - 0.001)
    assert await found([x1, y1, x2, y2], EPSG + "2154") == expected
    bad = await client.get(ITEMS, params={"bbox": "1e12,1,2e12,2", "bbox-crs": EPSG + "2154"})
    assert bad.status_code == 400


async def test_datetime_filters_on_publication(client: httpx.AsyncClient) -> None:
    assert (
        len(
            (await get_json(client, ITEMS, datetime="2000-01-01T00:00:00Z/..", limit=100))[
                "features"
            ]
        )
        == CALL_INITIATIVES
    )
    assert (await get_json(client, ITEMS, datetime="../2000-01-01"))["features"] == []
    for bad in ("yesterday", "2020-01-01T00:00:00", "../..", "2021-01-01/2020-01-01"):
        response = await client.get(ITEMS, params={"datetime": bad})
        assert response.status_code == 400, bad


async def test_queryables_are_a_json_schema(client: httpx.AsyncClient) -> None:
    response = await client.get("/ogc/collections/initiatives/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["type"] == "object"
    assert schema["$schema"].startswith("https://json-schema.org/")
    properties = schema["properties"]
    assert properties["geometry"]["format"] == "geometry-any"
    assert properties["category"]["type"] == "string"
    assert properties["published_at"]["format"] == "date-time"
    assert "contact" not in properties
    assert "actions" not in properties  # an array: not filterable with basic CQL2


async def filtered(client: httpx.AsyncClient, cql: str | dict[str, Any], **params: Any) -> set[int]:
    if isinstance(cql, dict):
        params |= {"filter": json.dumps(cql), "filter-lang": "cql2-json"}
    else:
        params["filter"] = cql
    response = await client.get(ITEMS, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


async def published(session: AsyncSession, where: str) -> set[int]:
    result = await session.execute(
        text(f"SELECT id FROM initiative WHERE status = 'published' AND {where}")
    )
    return set(result.scalars())


CASES = [
    # basic CQL2
    ("category = '3'", {"op": "=", "args": [{"property": "category"}, "3"]}, "category = '3'"),
    ("category <> '3'", {"op": "<>", "args": [{"property": "category"}, "3"]}, "category <> '3'"),
    (
        "category = '3' AND commune = '62510'",
        {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "category"}, "3"]},
                {"op": "=", "args": [{"property": "commune"}, "62510"]},
            ],
        },
        "category = '3' AND commune_insee = '62510'",
    ),
    (
        "NOT (category = '3') OR id < 3",
        {
            "op": "or",
            "args": [
                {"op": "not", "args": [{"op": "=", "args": [{"property": "category"}, "3"]}]},
                {"op": "<", "args": [{"property": "id"}, 3]},
            ],
        },
        "NOT (category = '3') OR id < 3",
    ),
    ("description IS NULL", {"op": "isNull", "args": [{"property": "description"}]}, "FALSE"),
    (
        # pygeofilter 0.4.0's text grammar has no bare boolean predicate; its JSON parser has.
        "NOT (description IS NULL)",
        {
            "op": "and",
            "args": [
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "description"}]}]},
                True,
            ],
        },
        "description IS NOT NULL",
    ),
    (
        "published_at > TIMESTAMP('2000-01-01T00:00:00Z')",
        {"op": ">", "args": [{"property": "published_at"}, {"timestamp": "2000-01-01T00:00:00Z"}]},
        "published_at > '2000-01-01'",
    ),
    # advanced comparison operators
    ("title LIKE 'Mus%' OR title LIKE '%Louvre%'", None, "title LIKE '%Louvre%'"),
    (
        "id BETWEEN 2 AND 4",
        {"op": "between", "args": [{"property": "id"}, [2, 4]]},
        "id BETWEEN 2 AND 4",
    ),
    (
        "commune IN ('62510', '62001')",
        {"op": "in", "args": [{"property": "commune"}, ["62510", "62001"]]},
        "commune_insee IN ('62510', '62001')",
    ),
    # case- and accent-insensitive comparison
    (
        "CASEI(title) = CASEI('ANNEAU DE LA MÉMOIRE')",
        {
            "op": "=",
            "args": [
                {"op": "casei", "args": [{"property": "title"}]},
                {"op": "casei", "args": ["ANNEAU DE LA MÉMOIRE"]},
            ],
        },
        "reference = 'call-anneau-de-la-memoire'",
    ),
    (
        "ACCENTI(title) = ACCENTI('Memorial de Vimy')",
        {
            "op": "=",
            "args": [
                {"op": "accenti", "args": [{"property": "title"}]},
                {"op": "accenti", "args": ["Memorial de Vimy"]},
            ],
        },
        "reference = 'call-memorial-de-vimy'",
    ),
    # basic spatial functions
    (
        "S_INTERSECTS(geometry, BBOX(2.76, 50.41, 2.84, 50.45))",
        {
            "op": "s_intersects",
            "args": [{"property": "geometry"}, {"bbox": [2.76, 50.41, 2.84, 50.45]}],
        },
        "ST_Intersects(geometry, ST_MakeEnvelope(2.76, 50.41, 2.84, 50.45, 4326))",
    ),
    (
        "S_INTERSECTS(geometry, POLYGON((2.6 50.3, 2.8 50.3, 2.8 50.5, 2.6 50.5, 2.6 50.3)))",
        {
            "op": "s_intersects",
            "args": [
                {"property": "geometry"},
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[2.6, 50.3], [2.8, 50.3], [2.8, 50.5], [2.6, 50.5], [2.6, 50.3]]
                    ],
                },
            ],
        },
        "ST_Intersects(geometry, ST_MakeEnvelope(2.6, 50.3, 2.8, 50.5, 4326))",
    ),
]


@pytest.mark.parametrize(("cql_text", "cql_json", "sql"), CASES, ids=[c[0][:40] for c in CASES])
async def test_cql2_filters_select_what_sql_selects(
    client: httpx.AsyncClient,
    session: AsyncSession,
    cql_text: str,
    cql_json: dict[str, Any] | None,
    sql: str,
) -> None:
    expected = await published(session, sql)
    assert await filtered(client, cql_text) == expected
    if cql_json is not None:
        assert await filtered(client, cql_json) == expected


async def test_a_spatial_filter_in_lambert_93(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x1, y1 = to_l93.transform(2.761, 50.411)
    x2, y2 = to_l93.transform(2.839, 50.449)
    cql = f"S_INTERSECTS(geometry, BBOX({x1}, {y1}, {x2}, {y2}))"
    expected = await published(
        session, "ST_Intersects(geometry, ST_MakeEnvelope(2.76, 50.41, 2.84, 50.45, 4326))"
    )
    assert await filtered(client, cql, **{"filter-crs": EPSG + "2154"}) == expected


@pytest.mark.parametrize(
    ("cql", "reason"),
    [
        ("contact = 'x'", "'contact' is not a queryable"),
        ("actions = 'x'", "not a queryable"),
        ("title = ", "not valid CQL2 text"),
        ("id = 'abc'", "cannot be compared"),
        ("published_at > '2020-01-01'", "TIMESTAMP"),
        ("S_CROSSES(geometry, POINT(2.8 50.4))", "not supported"),
        (
            "S_INTERSECTS(geometry, POLYGON((2.8 50.4, 2.9 50.5, 2.9 50.4, 2.8 50.5, 2.8 50.4)))",
            "Self-intersection",
        ),
        ("S_INTERSECTS(title, POINT(2.8 50.4))", "S_INTERSECTS compares the property 'geometry'"),
        ("geometry = 'x'", "only be used in S_INTERSECTS"),
        ("title = 'a' AND " * 200 + "title = 'b'", "nested"),
    ],
)
async def test_unsupported_filters_are_400_saying_what(
    client: httpx.AsyncClient, cql: str, reason: str
) -> None:
    response = await client.get(ITEMS, params={"filter": cql})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]


async def test_temporal_operators_are_not_supported(client: httpx.AsyncClient) -> None:
    cql = {
        "op": "t_before",
        "args": [{"property": "published_at"}, {"timestamp": "2020-01-01T00:00:00Z"}],
    }
    response = await client.get(
        ITEMS, params={"filter": json.dumps(cql), "filter-lang": "cql2-json"}
    )
    assert response.status_code == 400
    assert "BEFORE is not supported" in response.json()["detail"]


async def test_bad_cql2_json_is_400(client: httpx.AsyncClient) -> None:
    for bad in ("{", '{"op": "="}', '{"op": "nope", "args": []}', "[1, 2]", '"x"'):
        response = await client.get(ITEMS, params={"filter": bad, "filter-lang": "cql2-json"})
        assert response.status_code == 400, bad


async def test_unknown_and_repeated_parameters_are_400(client: httpx.AsyncClient) -> None:
    assert (await client.get(ITEMS, params={"category": "3"})).status_code == 400
    assert (await client.get(ITEMS + "?limit=1&limit=2")).status_code == 400


async def test_vector_tiles_are_cacheable(client: httpx.AsyncClient) -> None:
    url = "/ogc/collections/initiatives/tiles/WebMercatorQuad/10/345/520"
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.content
    tag = response.headers["etag"]
    assert tag.startswith('"')
    assert "max-age" in response.headers["cache-control"]
    again = await client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    empty = await client.get("/ogc/collections/initiatives/tiles/WebMercatorQuad/10/0/0")
    assert empty.status_code == 200
    assert empty.content == b""
    for bad in ("10/1024/0", "25/0/0", "actions/1/0/0"):
        target = f"/ogc/collections/initiatives/tiles/WebMercatorQuad/{bad}"
        if bad.startswith("actions"):
            target = "/ogc/collections/actions/tiles/WebMercatorQuad/1/0/0"
        assert (await client.get(target)).status_code in (400, 404), bad


async def test_filters_work_on_every_collection(client: httpx.AsyncClient) -> None:
    communes = await get_json(
        client,
        "/ogc/collections/communes/items",
        filter="population > 20000 AND ACCENTI(CASEI(name)) LIKE 'l%'",
        limit=100,
    )
    assert {f["properties"]["name"] for f in communes["features"]} == {"Lens", "Liévin"}
    assert communes["numberMatched"] == 2
    actions = await get_json(
        client,
        "/ogc/collections/actions/items",
        filter="S_INTERSECTS(geometry, POINT(2.7742751 50.42283))",
    )
    codes = {f["id"] for f in actions["features"]}
    assert codes == {"3.3.1.1", "3.3.1.2", "3.3.2.1"}  # the actions concerning Liévin


async def test_the_geometry_problem_type_is_documented(client: httpx.AsyncClient) -> None:
    response = await client.get("/problems/invalid-geometry")
    assert response.status_code == 200
    assert "outside the territory" in response.json()["description"]


async def test_commune_boundaries_in_lambert_93_match_pyproj(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    feature = await get_json(
        client, "/ogc/collections/communes/items/62498", crs=EPSG + "2154", f="json"
    )
    ring = feature["geometry"]["coordinates"][0][0]
    stored = (
        await session.execute(
            text(
                "SELECT ST_X(p.geom), ST_Y(p.geom) FROM commune, "
                "ST_DumpPoints(ST_ExteriorRing(ST_GeometryN(boundary, 1))) AS p "
                "WHERE insee = '62498' ORDER BY p.path"
            )
        )
    ).all()
    assert len(ring) == len(stored)
    for (x, y), (lon, lat) in zip(ring, stored, strict=True):
        expected_x, expected_y = to_l93.transform(lon, lat)
        assert abs(x - expected_x) < 0.01
        assert abs(y - expected_y) < 0.01


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"filter": "id = title"}, "cannot be compared"),
        ({"filter": "published_at > id"}, "cannot be compared"),
        ({"filter": "CASEI(title) = id"}, "cannot be compared"),
        ({"filter": "id IN (title)"}, "cannot be compared"),
        ({"filter-lang": "cql2-json", "filter": '{"op":"=","args":[{"property":1},1]}'}, "name"),
        (
            {"filter-lang": "cql2-json", "filter": '{"op":"=","args":[{"property":["a"]},1]}'},
            "name",
        ),
        (
            {"bbox": "-100,-180,90,180", "bbox-crs": EPSG + "4326"},
            "outside the area",
        ),
    ],
)
async def test_filters_mixing_kinds_or_out_of_range_are_refused(
    client: httpx.AsyncClient, params: dict[str, str], reason: str
) -> None:
    response = await client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


async def test_numbers_dates_and_lat_lon_boxes_at_their_limits(client: httpx.AsyncClient) -> None:
    # A decimal is not truncated against an integer queryable.
    assert (await get_json(client, ITEMS, filter="id = 1.9"))["features"] == []
    smallest = min(f["id"] for f in (await get_json(client, ITEMS, limit=100))["features"])
    below = await get_json(client, ITEMS, filter=f"id < {smallest}.5")
    assert [f["id"] for f in below["features"]] == [smallest]
    # The last day of the calendar is a valid end of interval.
    everything = await get_json(client, ITEMS, datetime="2000-01-01/9999-12-31", limit=100)
    assert len(everything["features"]) == CALL_INITIATIVES
    assert (await get_json(client, ITEMS, datetime="9999-12-31"))["features"] == []
    # EPSG:4326 boxes are latitude first: the whole world is a valid box.
    world = await get_json(
        client, ITEMS, bbox="-90,-180,90,180", limit=100, **{"bbox-crs": EPSG + "4326"}
    )
    assert len(world["features"]) == CALL_INITIATIVES


async def test_case_and_accent_insensitive_like_and_standard_json_between(
    client: httpx.AsyncClient,
) -> None:
    titles = [
        f["properties"]["title"] for f in (await get_json(client, ITEMS, limit=100))["features"]
    ]
    arena = next(t for t in titles if t.startswith("Arena"))
    text_filter = "CASEI(ACCENTI(title)) LIKE CASEI(ACCENTI('%LIEVIN%'))"
    found = await get_json(client, ITEMS, filter=text_filter, limit=100)
    assert arena in [f["properties"]["title"] for f in found["features"]]
    assert all("liévin" in f["properties"]["title"].lower() for f in found["features"])
    between = '{"op":"between","args":[{"property":"id"},1,3]}'
    ranged = await get_json(
        client, ITEMS, filter=between, limit=100, **{"filter-lang": "cql2-json"}
    )
    assert sorted(f["id"] for f in ranged["features"]) == [
        f["id"]
        for f in sorted(
            (await get_json(client, ITEMS, limit=100))["features"], key=lambda f: f["id"]
        )
        if 1 <= f["id"] <= 3
    ]


async def test_a_quote_is_doubled_inside_a_cql2_text_literal(client: httpx.AsyncClient) -> None:
    titles = [
        f["properties"]["title"] for f in (await get_json(client, ITEMS, limit=100))["features"]
    ]
    quoted = next(t for t in titles if "'" in t)
    literal = quoted.replace("'", "''")
    found = await get_json(client, ITEMS, filter=f"title = '{literal}'")
    assert [f["properties"]["title"] for f in found["features"]] == [quoted]
    unbalanced = await client.get(ITEMS, params={"filter": "title = 'it''s"})
    assert unbalanced.status_code == 400
