"""Search in French: accents and inflections ignored, ranked, highlighted, filtered, paged."""

from urllib.parse import urlencode

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


# --- the lists' filters, dataset by dataset ----------------------------------------------------


async def keys_with(client: httpx.AsyncClient, query: str, **filters: str) -> set[str]:
    return {h["key"] for h in await search_with(client, query, **filters)}  # type: ignore[index]


async def add_initiative(session: AsyncSession, title: str, insee: str, action: str) -> str:
    """A published initiative at a point inside the commune, of the action's axis, linked to it."""
    initiative_id = await session.scalar(
        text(
            "INSERT INTO initiative (title, category, status, commune_insee, location_precision, "
            "published_at, geometry) SELECT :title, split_part(:action, '.', 1), 'published', "
            ":insee, 'exact', now(), ST_PointOnSurface(boundary) FROM commune "
            "WHERE insee = :insee RETURNING id"
        ),
        {"title": title, "insee": insee, "action": action},
    )
    await session.execute(
        text("INSERT INTO initiative_action (initiative_id, action_code) VALUES (:id, :action)"),
        {"id": initiative_id, "action": action},
    )
    return str(initiative_id)


async def point_of(session: AsyncSession, insee: str) -> tuple[float, float]:
    row = (
        await session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p "
                "FROM commune WHERE insee = :insee) AS x"
            ),
            {"insee": insee},
        )
    ).one()
    return float(row[0]), float(row[1])


async def test_initiatives_take_the_plan_and_place_filters(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = await add_initiative(session, "Grainothèque zorglub", "62510", "3.3.2.1")
    found = {key}
    assert await keys_with(client, "zorglub") == found
    # Its axis is its category; an ambition, objective or action: an action it is linked to.
    for name, inside, outside in (
        ("axis", "3", "2"),
        ("ambition", "3.3", "3.1"),
        ("objective", "3.3.2", "3.3.1"),
        ("action", "3.3.2.1", "3.3.1.1"),
    ):
        assert await keys_with(client, "zorglub", **{name: inside}) == found, name
        assert not await keys_with(client, "zorglub", **{name: outside}), name
    assert await keys_with(client, "zorglub", commune="62510") == found
    assert not await keys_with(client, "zorglub", commune="62498")
    x, y = await point_of(session, "62510")
    box = f"{x - 0.001},{y - 0.001},{x + 0.001},{y + 0.001}"
    assert await keys_with(client, "zorglub", bbox=box) == found
    assert not await keys_with(client, "zorglub", bbox=f"{x + 0.01},{y},{x + 0.02},{y + 0.01}")
    assert await keys_with(client, "zorglub", near=f"{x + 0.001},{y},200") == found
    assert not await keys_with(client, "zorglub", near=f"{x + 0.01},{y},200")
    # The same as the initiatives list with the same filters.
    listed = await client.get(
        "/v1/initiatives", params={"q": "zorglub", "action": "3.3.2.1", "bbox": box}
    )
    assert {str(f["id"]) for f in listed.json()["features"]} == found
    # An action status is no initiative's: left out.
    assert not await keys_with(client, "zorglub", status="planned")


async def test_indicators_take_the_plan_and_commune_filters(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    query = "intervalle passages bulles"
    both = {"bulles-intervalle-pointe", "bulles-intervalle-creuses"}  # they measure 1.2.1.1
    assert await keys_with(client, query) == both
    for name, inside, outside in (
        ("axis", "1", "2"),
        ("ambition", "1.2", "1.1"),
        ("objective", "1.2.1", "2.2.2"),
        ("action", "1.2.1.1", "2.2.2.1"),
    ):
        hits = await search_with(client, query, dataset="indicators", **{name: inside})
        assert {h["key"] for h in hits} == both, name  # type: ignore[index]
        listed = await client.get("/v1/indicators", params={"node": inside})
        assert both <= {i["code"] for i in listed.json()["items"]}
        assert not await keys_with(client, query, dataset="indicators", **{name: outside}), name
    # A commune: the indicators with values for it, as in their list.
    assert not await keys_with(client, query, dataset="indicators", commune="62510")
    await session.execute(
        text(
            "INSERT INTO indicator_value (indicator_id, kind, period_label, value, commune_insee) "
            "SELECT id, 'result', '2025', 6, '62510' FROM indicator "
            "WHERE code = 'bulles-intervalle-pointe'"
        )
    )
    local = await keys_with(client, query, dataset="indicators", commune="62510")
    assert local == {"bulles-intervalle-pointe"}
    listed = await client.get("/v1/indicators", params={"commune": "62510", "node": "1.2"})
    assert {i["code"] for i in listed.json()["items"]} == local
    # Action statuses and places are no indicator's: left out.
    for filters in ({"status": "planned"}, {"bbox": "2.7,50.3,2.9,50.5"}):
        assert not await keys_with(client, query, dataset="indicators", **filters)


async def test_milestones_are_searched_within_their_action(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hits = await search_with(client, "ouverture popschool", dataset="milestones")
    (hit,) = hits
    assert isinstance(hit, dict)
    assert hit["key"] == "2.2.2.1-1"
    assert hit["title"] == "Ouverture de la Popschool"
    assert hit["url"] == "http://testserver/v1/actions/2.2.2.1/milestones"
    assert (await client.get(hit["url"])).status_code == 200
    assert "<mark>Ouverture</mark>" in hit["highlights"]["title"]
    for name, inside, outside in (
        ("axis", "2", "1"),
        ("ambition", "2.2", "2.1"),
        ("objective", "2.2.2", "2.2.1"),
        ("action", "2.2.2.1", "1.2.1.1"),
    ):
        assert await keys_with(client, "popschool", dataset="milestones", **{name: inside})
        assert not await keys_with(client, "popschool", dataset="milestones", **{name: outside})
    # Their action concerns no commune yet.
    assert not await keys_with(client, "popschool", dataset="milestones", commune="62510")
    await session.execute(
        text(
            "INSERT INTO action_commune (action_id, commune_insee) "
            "SELECT id, '62510' FROM action WHERE code = '2.2.2.1'"
        )
    )
    local = await keys_with(client, "popschool", commune="62510")
    assert {"2.2.2.1-1", "2.2.2.1"} <= local
    # A status filter is about actions: the milestones are left out.
    assert not await keys_with(client, "popschool", dataset="milestones", status="in_progress")


async def test_located_actions_take_the_place_filters(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    x, y = await point_of(session, "62498")
    assert not await keys_with(client, "bulles", near=f"{x},{y},500")
    await session.execute(
        text(
            "UPDATE action SET geometry = ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
            "WHERE code = '1.2.1.1'"
        ),
        {"x": x, "y": y},
    )
    near = await search_with(client, "bulles", near=f"{x},{y},500")
    assert {(h["dataset"], h["key"]) for h in near} == {("actions", "1.2.1.1")}  # type: ignore[index]
    box = f"{x - 0.01},{y - 0.01},{x + 0.01},{y + 0.01}"
    assert await keys_with(client, "bulles", bbox=box) == {"1.2.1.1"}
    assert not await keys_with(client, "bulles", bbox=f"{x + 0.1},{y},{x + 0.2},{y + 0.1}")


async def test_plan_filters_follow_the_plan_lists(client: httpx.AsyncClient) -> None:
    """Each plan level's hits, filtered, are records its list gives with the same filter."""
    for filters in (
        {"axis": "3"},
        {"ambition": "3.3"},
        {"objective": "3.3.2"},
        {"commune": "62510"},
        {"status": "planned"},
    ):
        hits = await search_with(client, "territoire OR action OR projet OR ville", **filters)
        assert hits, filters
        for level, own in (
            ("axes", "axis"),
            ("ambitions", "ambition"),
            ("objectives", "objective"),
            ("actions", "action"),
        ):
            keys = {h["key"] for h in hits if h["dataset"] == level}  # type: ignore[index]
            if not keys:  # e.g. a level above the filter's, left out
                continue
            if own in filters:  # the record itself, which its level's list does not filter on
                assert keys <= {filters[own]}, (level, filters)
                continue
            listed = await all_pages(client, f"/v1/{level}?limit=1000&" + urlencode(filters))
            assert keys <= {n["code"] for n in listed}, (level, filters)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("bbox", "1,2,3"),
        ("bbox", "a,b,c,d"),
        ("bbox", "3,50,2,51"),
        ("bbox", "2,50,3,NaN"),
        ("bbox", "200,50,210,51"),
        ("near", "2.8,50.4"),
        ("near", "2.8,50.4,0"),
        ("near", "2.8,50.4,1e9"),
        ("near", "400,50.4,10"),
        ("action", "1.2.1"),
        ("action", "1.2.1.1.1"),
        ("ambition", "1"),
        ("commune", "6251"),
        ("status", "unknown"),
        ("dataset", "budget_lines"),
        ("dataset", "nope"),
        ("cursor", "czE6WzAuMSwzLFsxLDIsMSwxXV0x"),
        ("updated_since", "2026-13-01T00:00:00Z"),
    ],
)
async def test_bad_filters_are_a_400(client: httpx.AsyncClient, name: str, value: str) -> None:
    response = await client.get("/v1/search", params={"q": "territoire", name: value})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["name"] == name


@pytest.mark.parametrize(
    "query",
    [
        "!" * 200,
        "a:* & b:* | !c " * 13,
        "(" * 100 + "mobilité" + ")" * 92,
        '"' * 199 + "x",
        "\\'" * 100,
        "mobilité <-> transport <2> bus",
        " or ".join(["bus"] * 40),
        "-" * 100 + "bus",
        "bus:A | tram:B & vélo:*",
        "énergie " * 25,
        "é" * 200,
    ],
)
async def test_hostile_text_is_text(client: httpx.AsyncClient, query: str) -> None:
    """Operators, quotes and long text: a page or a 400 that names q, never a 500."""
    for filters in ({}, {"commune": "62510", "axis": "3", "dataset": "initiatives"}):
        response = await client.get("/v1/search", params={"q": query[:200], **filters})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["errors"][0]["name"] == "q"
