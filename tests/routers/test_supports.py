"""Supports: once per supporter (an HMAC of their identity, never the identity), only on
published initiatives, the count public."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.proposal_fixtures import insert_proposal

SUPPORTER = "Support.Tester-91@example.org"


async def test_each_supporter_counts_once_and_the_count_is_public(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    url = "/v1/initiatives/1/supports"
    first = await client.post(url, json={"supporter": SUPPORTER})
    assert first.status_code == 201, first.text
    assert first.json() == {"initiative_id": 1, "support_count": 1, "counted": True}
    again = await client.post(url, json={"supporter": "  " + SUPPORTER.lower()})
    assert again.status_code == 200
    assert again.json() == {"initiative_id": 1, "support_count": 1, "counted": False}
    other = await client.post(url, json={"supporter": "a-client-generated-id-42"})
    assert other.json()["support_count"] == 2

    rows = (
        await session.execute(text("SELECT supporter_digest FROM support WHERE initiative_id = 1"))
    ).scalars()
    digests = [bytes(row) for row in rows]
    assert len(digests) == 2
    assert all(len(d) == 32 and SUPPORTER.encode() not in d for d in digests)

    feature = (await client.get("/v1/initiatives/1")).json()
    assert feature["properties"]["support_count"] == 2
    item = (await client.get("/ogc/collections/initiatives/items/1")).json()
    assert item["properties"]["support_count"] == 2
    export = (await client.get("/v1/datasets/initiatives.json")).json()
    assert {r["id"]: r["support_count"] for r in export}["1"] == 2
    csv = (await client.get("/v1/datasets/initiatives.csv")).text
    assert "support_count" in csv.splitlines()[0]
    schema = (await client.get("/v1/schemas/initiatives.json")).json()
    assert "support_count" in {field["name"] for field in schema["fields"]}


async def test_only_published_initiatives_take_supports(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    submitted = await insert_proposal(session)
    for target in (submitted, 999_999_999):
        response = await client.post(
            f"/v1/initiatives/{target}/supports", json={"supporter": SUPPORTER}
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    assert (await session.execute(text("SELECT count(*) FROM support"))).scalar() == 0


async def test_bad_supports(client: httpx.AsyncClient) -> None:
    for body, field in (
        ({}, "supporter"),
        ({"supporter": "abc"}, "supporter"),
        ({"supporter": "x" * 321}, "supporter"),
        ({"supporter": SUPPORTER, "count": 5}, "count"),
    ):
        response = await client.post("/v1/initiatives/1/supports", json=body)
        assert response.status_code == 422, body
        assert field in {e["name"] for e in response.json()["errors"]}
    bad_id = await client.post("/v1/initiatives/abc/supports", json={"supporter": SUPPORTER})
    assert bad_id.status_code == 400


async def test_deleting_an_initiative_takes_its_supports(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (
        await client.post("/v1/initiatives/2/supports", json={"supporter": SUPPORTER})
    ).status_code == 201
    await session.execute(text("DELETE FROM initiative WHERE id = 2"))
    remaining = await session.execute(text("SELECT count(*) FROM support WHERE initiative_id = 2"))
    assert remaining.scalar() == 0
