"""Vector tiles through the real app: what a dense tile carries and weighs, where its points are,
gzip and its validators, and the TileJSON document that describes the tileset."""

import gzip
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

TILES = "/ogc/collections/initiatives/tiles/WebMercatorQuad"
# The z14 tile over Lens that the benchmark reads (z/row/col), and its envelope in WGS84.
Z, ROW, COL = 14, 5526, 8320
WEST, SOUTH, EAST, NORTH = 2.8125, 50.415519, 2.834473, 50.429518
DENSE = 4000
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
async def dense(session: AsyncSession) -> dict[str, Any]:
    """4 000 published initiatives inside the tile (titles as long as the benchmark's), and
    unpublished ones there too; returns one published point and the ids the tile must not hold
    (the unpublished, and a published line that passes around the tile)."""
    await session.execute(
        text(
            """
            INSERT INTO initiative (reference, title, description, category, status,
                location_precision, author_name, address, geometry, published_at)
            SELECT 'dense-' || n, 'Initiative synthétique n° ' || (900000 + n),
                repeat('Une description qui ne va pas dans les tuiles. ', 4),
                CAST(1 + n % 5 AS text),
                CASE WHEN n <= :dense THEN 'published' ELSE 'submitted' END,
                'exact', 'Habitant ' || n, n || ' rue du Test',
                ST_SetSRID(ST_MakePoint(
                    :west + 0.0005 + (:east - :west - 0.001) * ((n * 7919) % 1000) / 1000.0,
                    :south + 0.0005 + (:north - :south - 0.001) * ((n * 104729) % 997) / 997.0
                ), 4326),
                CASE WHEN n <= :dense THEN now() END
            FROM generate_series(1, :dense + 50) AS n
            """
        ),
        {"dense": DENSE, "west": WEST, "east": EAST, "south": SOUTH, "north": NORTH},
    )
    # Published, its bounding box over the tile, the line itself around it: clipped away.
    await session.execute(
        text(
            "INSERT INTO initiative (reference, title, category, status, location_precision, "
            "geometry, published_at) VALUES ('dense-around', 'Around', '1', 'published', "
            "'exact', ST_GeomFromText(:line, 4326), now())"
        ),
        {
            "line": f"LINESTRING({WEST - 0.01} {SOUTH - 0.01}, {WEST - 0.01} {NORTH + 0.01}, "
            f"{EAST + 0.01} {NORTH + 0.01})"
        },
    )
    first = (
        await session.execute(
            text(
                "SELECT id, ST_X(geometry), ST_Y(geometry) FROM initiative "
                "WHERE reference = 'dense-1'"
            )
        )
    ).one()
    hidden = (
        await session.execute(
            text(
                "SELECT id FROM initiative WHERE reference LIKE 'dense-%' AND status <> 'published'"
            )
        )
    ).scalars()
    return {"id": first[0], "lon": first[1], "lat": first[2], "hidden": set(hidden)}


def decode(body: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = mapbox_vector_tile.decode(
        body, default_options={"y_coord_down": True}
    )
    return decoded


async def test_a_dense_tile_carries_what_a_map_draws_and_weighs_little(
    client: httpx.AsyncClient, dense: dict[str, Any]
) -> None:
    identity = await client.get(f"{TILES}/{Z}/{ROW}/{COL}", headers=IDENTITY)
    assert identity.status_code == 200
    assert "content-encoding" not in identity.headers
    layer = decode(identity.content)["initiatives"]
    assert layer["extent"] == 4096
    features = {feature["id"]: feature for feature in layer["features"]}
    assert len(features) >= DENSE
    assert not dense["hidden"] & set(features)
    assert {frozenset(f["properties"]) for f in features.values()} == {
        frozenset({"title", "category", "status"})
    }
    mine = features[dense["id"]]
    assert mine["properties"] == {
        "title": "Initiative synthétique n° 900001",
        "category": "2",
        "status": "published",
    }
    # Where the map draws it: the point in Web Mercator, on the tile's 4096 grid (y down).
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(dense["lon"], dense["lat"])
    size = 2 * 20037508.342789244 / 2**Z
    left, top = -20037508.342789244 + COL * size, 20037508.342789244 - ROW * size
    expected = [round((x - left) / size * 4096), round((top - y) / size * 4096)]
    assert mine["geometry"]["type"] == "Point"
    got = mine["geometry"]["coordinates"]
    assert max(abs(g - e) for g, e in zip(got, expected, strict=True)) <= 1, (got, expected)
    # The weight: about 60 bytes a point as sent (most of it the title), under 150 kB gzipped.
    assert len(identity.content) < 65 * len(features), len(identity.content)
    packed = await client.get(f"{TILES}/{Z}/{ROW}/{COL}", headers=GZIP)
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < 150_000
    assert packed.content == identity.content  # httpx decoded it


async def test_tiles_are_gzipped_when_asked_with_an_etag_per_encoding(
    client: httpx.AsyncClient, dense: dict[str, Any]
) -> None:
    url = f"{TILES}/{Z}/{ROW}/{COL}"
    identity = await client.get(url, headers=IDENTITY)
    packed = await client.get(url, headers={"Accept-Encoding": "br;q=1, gzip;q=0.5"})
    refused = await client.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    for answer in (identity, packed, refused):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert "accept-encoding" in answer.headers["vary"].lower()
        assert not answer.headers["etag"].startswith("W/")
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in identity.headers
    assert "content-encoding" not in refused.headers
    assert packed.content == identity.content
    assert refused.headers["etag"] == identity.headers["etag"]
    # Two representations, two strong validators (RFC 9110, 8.8.3).
    assert packed.headers["etag"] != identity.headers["etag"]
    # Each validator revalidates its own representation; the other one is sent again.
    for headers, answer in ((IDENTITY, identity), (GZIP, packed)):
        tag = answer.headers["etag"]
        again = await client.get(url, headers={**headers, "If-None-Match": tag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == tag
        assert "accept-encoding" in again.headers["vary"].lower()
        weak = await client.get(url, headers={**headers, "If-None-Match": f'"x", W/{tag}'})
        assert weak.status_code == 304
    crossed = await client.get(url, headers={**IDENTITY, "If-None-Match": packed.headers["etag"]})
    assert crossed.status_code == 200
    assert crossed.content == identity.content
    # A HEAD says what a GET would send.
    head = await client.head(url, headers=GZIP)
    assert head.status_code == 200
    assert head.headers["etag"] == packed.headers["etag"]
    # The bytes are those of gzip itself: a client without httpx's decoding reads them too.
    async with client.stream("GET", url, headers=GZIP) as stream:
        raw = b"".join([chunk async for chunk in stream.aiter_raw()])
    assert gzip.decompress(raw) == identity.content


async def test_an_empty_or_tiny_tile_is_sent_as_it_is(client: httpx.AsyncClient) -> None:
    empty = await client.get(f"{TILES}/10/0/0", headers=GZIP)
    assert empty.status_code == 200
    assert empty.content == b""
    assert "content-encoding" not in empty.headers
    assert empty.headers["etag"].startswith('"')


async def test_tilejson_describes_each_tiled_collection(
    client: httpx.AsyncClient, dense: dict[str, Any]
) -> None:
    for collection_id, fields in (
        ("initiatives", {"title", "category", "status"}),
        ("communes", {"insee", "name"}),
    ):
        collection = (await client.get(f"/ogc/collections/{collection_id}")).json()
        (described,) = [x for x in collection["links"] if x["rel"] == "describedby"]
        assert described["type"] == "application/json"
        answer = await client.get(httpx.URL(described["href"]).path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        document = answer.json()
        assert document["tilejson"] == "3.0.0"
        assert document["scheme"] == "xyz"
        assert document["minzoom"] == 0
        assert document["maxzoom"] == 14
        (template,) = document["tiles"]
        assert template.startswith("http://testserver/ogc/collections/")
        assert {"{z}", "{x}", "{y}"} <= set(_placeholders(template))
        (layer,) = document["vector_layers"]
        assert layer["id"] == collection_id
        assert set(layer["fields"]) == fields
        assert all(isinstance(v, str) and v for v in layer["fields"].values())
        assert layer["minzoom"] == 0
        assert layer["maxzoom"] == 14
        west, south, east, north = document["bounds"]
        assert -180 <= west < east <= 180
        assert -85.06 <= south < north <= 85.06
        lon, lat, zoom = document["center"]
        assert west < lon < east
        assert south < lat < north
        assert document["minzoom"] <= zoom <= document["maxzoom"]
        # The template, filled as a map client fills it, gives the tile the route gives.
        url = template.format(z=Z, x=COL, y=ROW)
        assert url.endswith(f"/{collection_id}/tiles/WebMercatorQuad/{Z}/{ROW}/{COL}")
        filled = await client.get(httpx.URL(url).path, headers=IDENTITY)
        direct = await client.get(
            f"/ogc/collections/{collection_id}/tiles/WebMercatorQuad/{Z}/{ROW}/{COL}",
            headers=IDENTITY,
        )
        assert filled.content == direct.content
        layers = decode(filled.content)
        assert set(layers) == {layer["id"]}
        (first, *_) = layers[layer["id"]]["features"]
        assert set(first["properties"]) == fields
    # The dense tile's points lie within the initiatives' bounds.
    document = (await client.get(f"{TILES}/tilejson.json")).json()
    west, south, east, north = document["bounds"]
    assert west <= dense["lon"] <= east
    assert south <= dense["lat"] <= north


async def test_tilejson_of_an_untiled_or_unknown_collection_is_404(
    client: httpx.AsyncClient,
) -> None:
    for collection_id in ("actions", "nothing"):
        url = f"/ogc/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json"
        answer = await client.get(url)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
    collection = (await client.get("/ogc/collections/actions")).json()
    assert not [x for x in collection["links"] if x["rel"] == "describedby"]
    assert (await client.get(f"{TILES}/tilejson.json?minzoom=3")).status_code == 400


def _placeholders(template: str) -> list[str]:
    return ["{" + part.split("}")[0] + "}" for part in template.split("{")[1:]]
