"""/v1/initiatives: published initiatives as GeoJSON, with spatial and thematic filters."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import CALL_INITIATIVES

GEOJSON = "application/geo+json"


async def published(session: AsyncSession, where: str = "TRUE", **params: Any) -> set[int]:
    result = await session.execute(
        text(f"SELECT id FROM initiative WHERE status = 'published' AND {where}"), params
    )
    return set(result.scalars())


async def ids(client: httpx.AsyncClient, **params: Any) -> set[int]:
    response = await client.get("/v1/initiatives", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == GEOJSON
    return {feature["id"] for feature in response.json()["features"]}


async def add(session: AsyncSession, reference: str, status: str, wkt: str, **extra: Any) -> int:
    values = {
        "reference": reference,
        "status": status,
        "wkt": wkt,
        "contact": extra.get("contact"),
        "category": extra.get("category", "1"),
    }
    result = await session.execute(
        text(
            "INSERT INTO initiative (reference, title, description, category, status, "
            "location_precision, contact, geometry, commune_insee, published_at) VALUES "
            "(:reference, 'Essai ' || :reference, 'Une idée d''habitant', :category, :status, "
            "'exact', :contact, ST_GeomFromText(:wkt, 4326), "
            "(SELECT insee FROM commune WHERE ST_Intersects(boundary, ST_GeomFromText(:wkt, 4326))"
            " LIMIT 1), CASE WHEN :status IN ('published', 'archived') THEN now() END) "
            "RETURNING id"
        ),
        values,
    )
    return int(result.scalar_one())


GARE = "POINT(2.828254 50.426818)"


async def test_the_call_initiatives_are_a_feature_collection(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await client.get("/v1/initiatives")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == CALL_INITIATIVES
    assert body["numberMatched"] == CALL_INITIATIVES
    assert body["next_cursor"] is None
    assert {f["id"] for f in body["features"]} == await published(session)
    arena = next(f for f in body["features"] if f["properties"]["title"].startswith("Arena"))
    assert arena["geometry"]["type"] == "Point"
    props = arena["properties"]
    assert props["commune"] == "62510"
    assert props["commune_name"] == "Liévin"
    assert props["location_precision"] == "commune"
    assert props["actions"] == ["3.3.1.2"]
    assert props["category"] == "3"
    assert props["status"] == "published"
    assert "Liévin" in props["source_excerpt"]
    assert props["published_at"].endswith("+00:00")
    assert "contact" not in props


async def test_only_published_initiatives_are_public_and_contacts_never(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    public = await add(session, "public", "published", GARE, contact="secret@example.org")
    hidden = [await add(session, s, s, GARE) for s in ("submitted", "rejected", "archived")]
    found = await ids(client, limit=1000)
    assert public in found
    assert not found & set(hidden)
    for hidden_id in hidden:
        assert (await client.get(f"/v1/initiatives/{hidden_id}")).status_code == 404
    one = await client.get(f"/v1/initiatives/{public}")
    assert one.status_code == 200
    assert one.headers["content-type"] == GEOJSON
    assert "secret@example.org" not in one.text
    listing = await client.get("/v1/initiatives", params={"limit": 1000})
    assert "secret@example.org" not in listing.text
    assert one.json()["geometry"] == {"type": "Point", "coordinates": [2.828254, 50.426818]}


async def test_pages_follow_the_cursor_without_gaps_or_repeats(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 4}
    pages = 0
    while True:
        response = await client.get("/v1/initiatives", params=params)
        body = response.json()
        seen += [f["id"] for f in body["features"]]
        pages += 1
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert "numberMatched" not in body  # not free on a partial page
        assert 'rel="next"' in response.headers["link"]
        params["cursor"] = body["next_cursor"]
    assert pages == 3
    assert seen == sorted(await published(session))


async def test_bbox_and_distance_filters(client: httpx.AsyncClient, session: AsyncSession) -> None:
    gare = await add(session, "gare", "published", GARE)
    far = await add(session, "loin", "published", "POINT(2.70 50.38)")
    box = await ids(client, bbox="2.82,50.42,2.84,50.43", limit=1000)
    assert gare in box
    assert far not in box
    assert box == await published(
        session, "ST_Intersects(geometry, ST_MakeEnvelope(2.82, 50.42, 2.84, 50.43, 4326))"
    )
    near = await ids(client, near="2.8283,50.4270,50")
    assert gare in near  # about 20 m away
    assert far not in near
    within = await ids(client, near="2.8283,50.4270,3000", limit=1000)
    expected = await published(
        session,
        "ST_DWithin(geometry::geography, ST_SetSRID(ST_MakePoint(2.8283, 50.4270), 4326)"
        "::geography, 3000)",
    )
    assert within == expected


async def test_thematic_filters(client: httpx.AsyncClient, session: AsyncSession) -> None:
    assert await ids(client, commune="62510") == await published(session, "commune_insee = '62510'")
    assert await ids(client, category="4") == await published(session, "category = '4'")
    linked = await ids(client, action="3.3.2.1")
    assert len(linked) == 3
    assert await ids(client, q="LIEVIN") == await published(
        session, "unaccent(title || coalesce(description, '')) ILIKE '%lievin%'"
    )
    assert await ids(client, q="nauticaa", commune="62510") != set()
    assert await ids(client, q="nauticaa", commune="62498") == set()


async def test_updated_since(client: httpx.AsyncClient, session: AsyncSession) -> None:
    assert len(await ids(client, updated_since="2000-01-01T00:00:00Z")) == CALL_INITIATIVES
    assert await ids(client, updated_since="2999-01-01T00:00:00+01:00") == set()
    await session.execute(
        text("UPDATE initiative SET title = 'Renommé' WHERE reference = 'call-nauticaa'")
    )
    moment = (
        await session.execute(
            text("SELECT updated_at FROM initiative WHERE reference = 'call-nauticaa'")
        )
    ).scalar_one()
    changed = await ids(client, updated_since=moment.isoformat())
    assert changed == await published(session, "reference = 'call-nauticaa'")
    assert (
        len(await published(session, "updated_at < :moment", moment=moment)) == CALL_INITIATIVES - 1
    )


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"near": "2.8,50.4"}, "near"),
        ({"near": "2.8,50.4,0"}, "near"),
        ({"near": "200,50,10"}, "near"),
        ({"near": "2.8,50.4,100000"}, "near"),
        ({"near": "2.8,50.4,nan"}, "near"),
        ({"bbox": "2.8,50.4,2.7"}, "bbox"),
        ({"bbox": "2.9,50.4,2.8,50.5"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"updated_since": "2020-01-01T00:00:00"}, "updated_since"),
        ({"cursor": "bm90IG91cnM"}, "cursor"),
        ({"commune": "Lens"}, "commune"),
        ({"category": "1.2"}, "category"),
        ({"limit": 1001}, "limit"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: httpx.AsyncClient, params: dict[str, Any], name: str
) -> None:
    response = await client.get("/v1/initiatives", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert name in response.json()["detail"]


async def test_an_unknown_initiative_is_404(client: httpx.AsyncClient) -> None:
    for value in ("999999", "99999999999999999999"):
        response = await client.get(f"/v1/initiatives/{value}")
        assert response.status_code in (404, 400)
        assert response.headers["content-type"] == "application/problem+json"
