"""Search in French: accents and inflections ignored, ranked, highlighted, filtered, paged."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.routers.test_plan import all_pages, dataset_nodes


async def search(client: httpx.AsyncClient, query: str) -> list[dict[str, object]]:
    response = await client.get("/v1/search", params={"q": query, "limit": "1000"})
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_accents_and_inflections_are_ignored(client: httpx.AsyncClient) -> None:
    accented = await search(client, "rénovation")
    plain = await search(client, "renovation")
    assert accented
    assert [(h["dataset"], h["key"]) for h in plain] == [(h["dataset"], h["key"]) for h in accented]
    # French stemming: "rénover" and "rénovations" find "rénovation".
    keys = {h["key"] for h in plain}
    assert keys <= {h["key"] for h in await search(client, "RENOVATIONS")}
    assert "5.3.2.2" in keys


async def test_hits_are_ranked_and_highlighted(client: httpx.AsyncClient) -> None:
    hits = await search(client, "renovation energetique")
    ranks = [h["rank"] for h in hits]
    assert ranks == sorted(ranks, reverse=True)  # type: ignore[type-var]
    best = hits[0]
    assert best["key"] == "5.3.2.2"
    assert best["url"] == "http://testserver/v1/actions/5.3.2.2"
    highlights = best["highlights"]
    assert isinstance(highlights, dict)
    assert "<mark>Rénovation</mark> <mark>énergétique</mark>" in highlights["title"]
    assert "<mark>" in highlights["description"]
    # Title matches weigh more than description matches.
    title_only = [h for h in hits if "<mark>" in h["highlights"]["title"]]  # type: ignore[index]
    assert hits[: len(title_only)] == title_only


async def test_markup_in_the_data_is_escaped(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await session.execute(
        text("UPDATE action SET title = :title WHERE code = '1.2.1.1'").bindparams(
            title="<script>x</script> Vélo & rénovation"
        )
    )
    (hit,) = [h for h in await search(client, "velo renovation") if h["key"] == "1.2.1.1"]
    title = hit["highlights"]["title"]  # type: ignore[index]
    assert "<script>" not in title
    assert "&lt;script&gt;" in title
    assert "&amp;" in title
    assert "<mark>Vélo</mark>" in title
    assert hit["title"] == "<script>x</script> Vélo & rénovation"


async def test_the_lists_filters_apply(client: httpx.AsyncClient) -> None:
    everything = await search(client, "territoire")
    assert {h["dataset"] for h in everything} >= {"axes", "ambitions", "objectives", "actions"}
    by_axis = (await client.get("/v1/search?q=territoire&axis=5&limit=1000")).json()["items"]
    assert by_axis
    assert all(h["key"].startswith("5") for h in by_axis)
    only_actions = (await client.get("/v1/search?q=territoire&dataset=actions")).json()["items"]
    assert {h["dataset"] for h in only_actions} == {"actions"}
    planned = {a["code"] for a in dataset_nodes()["actions"] if a.get("status") == "planned"}
    statuses = (await client.get("/v1/search?q=territoire&status=planned")).json()["items"]
    assert {h["key"] for h in statuses} <= planned
    lievin = {a["code"] for a in dataset_nodes()["actions"] if "62510" in a.get("communes", [])}
    local = (await client.get("/v1/search?q=lievin&commune=62510&dataset=actions")).json()
    assert {h["key"] for h in local["items"]} <= lievin
    ambition = (await client.get("/v1/search?q=territoire&ambition=5.3")).json()["items"]
    assert {h["dataset"] for h in ambition} <= {"ambitions", "objectives", "actions"}
    assert all(h["key"].startswith("5.3") for h in ambition)


async def test_paging_returns_each_hit_once(client: httpx.AsyncClient) -> None:
    everything = await search(client, "territoire")
    paged = await all_pages(client, "/v1/search?q=territoire&limit=3")
    assert [(h["dataset"], h["key"]) for h in paged] == [
        (h["dataset"], h["key"]) for h in everything
    ]


async def test_updated_since(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await session.execute(text("UPDATE action SET lead = 'CALL' WHERE code = '5.3.2.2'"))
    changed_at = await session.scalar(text("SELECT now()"))
    assert changed_at is not None
    since = changed_at.isoformat()
    hits = await client.get("/v1/search", params={"q": "renovation", "updated_since": since})
    assert [h["key"] for h in hits.json()["items"]] == ["5.3.2.2"]


@pytest.mark.parametrize(
    "query",
    [
        '"gare de lens"',
        "bus OR tram",
        "-bus mobilité",
        "a & b | !c <-> d:*",
        "((((",
        "'\"",
        "rénovation" + " énergie" * 20,
    ],
)
async def test_operators_and_quotes_are_searched_not_parsed(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get("/v1/search", params={"q": query})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["errors"][0]["name"] == "q"


@pytest.mark.parametrize("query", ["", "   ", "de", "!!!", "x" * 201, "a\x00b"])
async def test_nothing_to_search_is_a_400(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get("/v1/search", params={"q": query})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["name"] == "q"


async def test_initiatives_and_indicators_are_searched(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    secret = "zorglub-contact@example.org"
    for title, status in (("Grainothèque zorglub", "published"), ("Zorglub caché", "submitted")):
        await session.execute(
            text(
                "INSERT INTO initiative (title, category, status, location_precision, contact, "
                "published_at, geometry) VALUES (:title, '1', :status, 'exact', :contact, "
                "now(), ST_SetSRID(ST_MakePoint(2.83, 50.43), 4326))"
            ),
            {"title": title, "status": status, "contact": secret},
        )
    response = await client.get("/v1/search", params={"q": "zorglub", "limit": "1000"})
    assert secret not in response.text
    (hit,) = response.json()["items"]
    assert hit["dataset"] == "initiatives"
    assert hit["title"] == "Grainothèque zorglub"
    assert hit["url"] == f"http://testserver/v1/initiatives/{hit['key']}"
    # Filters that initiatives cannot satisfy leave them out; their axis is their category.
    assert await search_with(client, "zorglub", axis="1")
    assert not await search_with(client, "zorglub", axis="2")
    assert not await search_with(client, "zorglub", ambition="1.1")

    hits = await search(client, "intervalle passages bulles")
    assert {h["dataset"] for h in hits} == {"indicators"}
    assert len(hits) == 2
    assert all(h["url"] == f"http://testserver/v1/indicators/{h['key']}" for h in hits)


async def search_with(client: httpx.AsyncClient, query: str, **filters: str) -> list[object]:
    params = {"q": query, "limit": "1000", **filters}
    response = await client.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    items: list[object] = response.json()["items"]
    return items
