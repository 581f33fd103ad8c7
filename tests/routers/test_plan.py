"""The plan through the API: tree, lists with filters and paging, details, errors."""

import re
from typing import Any

import httpx
import pytest
import yaml

from app.services.plan_data_checks import normalize_space
from tests.conftest import CALL_DATASET

LEVELS = ("axes", "ambitions", "objectives", "actions")


def dataset_nodes() -> dict[str, list[dict[str, Any]]]:
    """The CALL plan file, flattened per level: what the API must publish."""
    plan = yaml.safe_load((CALL_DATASET / "plan.yaml").read_text(encoding="utf-8"))
    nodes: dict[str, list[dict[str, Any]]] = {level: [] for level in LEVELS}
    for axis in plan["axes"]:
        nodes["axes"].append(axis)
        for ambition in axis["ambitions"]:
            nodes["ambitions"].append(ambition)
            for objective in ambition["objectives"]:
                nodes["objectives"].append(objective)
                nodes["actions"].extend(objective["actions"])
    return nodes


async def all_pages(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    """Follow the Link headers to the end, checking they agree with next_cursor."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        link = response.headers.get("link")
        if body["next_cursor"] is None:
            assert link is None
            next_url = None
        else:
            assert link is not None
            match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
            assert match, link
            assert f"cursor={body['next_cursor']}" in match.group(1)
            next_url = match.group(1)
    return items


async def test_the_tree_holds_the_whole_plan_with_codes_and_excerpts(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/plan")
    assert response.status_code == 200
    tree = response.json()
    expected = dataset_nodes()
    assert [axis["code"] for axis in tree["axes"]] == ["1", "2", "3", "4", "5"]
    seen: dict[str, list[str]] = {level: [] for level in LEVELS}
    for axis in tree["axes"]:
        seen["axes"].append(axis["code"])
        for ambition in axis["ambitions"]:
            assert ambition["axis_code"] == axis["code"]
            seen["ambitions"].append(ambition["code"])
            for objective in ambition["objectives"]:
                assert objective["ambition_code"] == ambition["code"]
                seen["objectives"].append(objective["code"])
                for action in objective["actions"]:
                    assert action["objective_code"] == objective["code"]
                    assert action["axis_code"] == axis["code"]
                    seen["actions"].append(action["code"])
    for level in LEVELS:
        assert seen[level] == [node["code"] for node in expected[level]], level
    assert tree["territory"] == {
        "code": "246200364",
        "title": "Communauté d'agglomération de Lens-Liévin",
    }
    counts = tree["counts"]
    assert counts["axes"] == {"declared": 5, "loaded": 5}
    assert counts["ambitions"] == {"declared": 23, "loaded": len(expected["ambitions"])}
    assert counts["objectives"] == {"declared": 51, "loaded": len(expected["objectives"])}
    assert counts["actions"] == {"declared": 124, "loaded": len(expected["actions"])}


async def test_every_record_cites_its_source(client: httpx.AsyncClient) -> None:
    brochure = normalize_space(
        (CALL_DATASET / "source" / "projet-de-territoire-call.txt").read_text(encoding="utf-8")
    )
    for level in LEVELS:
        for item in await all_pages(client, f"/v1/{level}?limit=1000"):
            assert item["source_excerpt"], (level, item["code"])
            assert normalize_space(item["source_excerpt"]) in brochure, (level, item["code"])


@pytest.mark.parametrize("level", LEVELS)
async def test_paging_by_cursor_returns_each_record_once_in_code_order(
    client: httpx.AsyncClient, level: str
) -> None:
    everything = (await client.get(f"/v1/{level}?limit=1000")).json()["items"]
    paged = await all_pages(client, f"/v1/{level}?limit=2")
    assert [item["code"] for item in paged] == [item["code"] for item in everything]
    codes = [tuple(int(part) for part in item["code"].split(".")) for item in paged]
    assert codes == sorted(codes)
    assert len(set(codes)) == len(codes)


async def test_paging_keeps_the_filters(client: httpx.AsyncClient) -> None:
    paged = await all_pages(client, "/v1/objectives?axis=3&limit=1")
    assert paged
    assert {item["axis_code"] for item in paged} == {"3"}


async def test_filters_by_parent(client: httpx.AsyncClient) -> None:
    ambitions = (await client.get("/v1/ambitions?axis=2")).json()["items"]
    assert ambitions
    assert {a["axis_code"] for a in ambitions} == {"2"}
    objectives = (await client.get("/v1/objectives?ambition=1.2")).json()["items"]
    assert objectives
    assert {o["ambition_code"] for o in objectives} == {"1.2"}
    actions = (await client.get("/v1/actions?objective=1.2.1")).json()["items"]
    assert [a["code"] for a in actions] == ["1.2.1.1"]
    by_axis = (await client.get("/v1/actions?axis=5")).json()["items"]
    expected = [a["code"] for a in dataset_nodes()["actions"] if a["code"].startswith("5.")]
    assert [a["code"] for a in by_axis] == expected


async def test_filters_by_status(client: httpx.AsyncClient) -> None:
    nodes = dataset_nodes()["actions"]
    for status in ("planned", "in_progress"):
        body = (await client.get(f"/v1/actions?status={status}")).json()
        expected = [a["code"] for a in nodes if a.get("status") == status]
        assert expected, status
        assert [a["code"] for a in body["items"]] == expected
    both = (await client.get("/v1/actions?status=planned&status=in_progress")).json()
    assert len(both["items"]) == sum(
        1 for a in nodes if a.get("status") in {"planned", "in_progress"}
    )
    bad = await client.get("/v1/actions?status=ongoing")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["name"] == "status"


async def test_filters_by_commune_at_every_level(client: httpx.AsyncClient) -> None:
    lievin = "62510"
    actions = (await client.get(f"/v1/actions?commune={lievin}")).json()["items"]
    expected = [a["code"] for a in dataset_nodes()["actions"] if lievin in a.get("communes", [])]
    assert expected
    assert [a["code"] for a in actions] == expected
    assert all(lievin in a["communes"] for a in actions)
    objectives = (await client.get(f"/v1/objectives?commune={lievin}")).json()["items"]
    assert [o["code"] for o in objectives] == sorted(
        {a["objective_code"] for a in actions}, key=lambda c: [int(p) for p in c.split(".")]
    )
    axes = (await client.get(f"/v1/axes?commune={lievin}")).json()["items"]
    assert [a["code"] for a in axes] == sorted({a["axis_code"] for a in actions})
    # A member commune no action names: nothing, not an error.
    assert (await client.get("/v1/actions?commune=62001")).json()["items"] != []
    assert (await client.get("/v1/actions?commune=62193")).json()["items"] == []


async def test_text_filter_ignores_case_and_accents(client: httpx.AsyncClient) -> None:
    accented = (await client.get("/v1/ambitions?q=rénovation")).json()["items"]
    plain = (await client.get("/v1/ambitions?q=RENOVATION")).json()["items"]
    assert accented
    assert plain == accented
    assert all("rénovation" in (a["title"] + (a["description"] or "")).lower() for a in plain)
    by_code = (await client.get("/v1/actions?q=1.2.1.1")).json()["items"]
    assert [a["code"] for a in by_code] == ["1.2.1.1"]


@pytest.mark.parametrize("q", ["%", "_", "a%e", "a_e", "\\"])
async def test_like_wildcards_are_literal(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/v1/actions", params={"q": q})
    assert response.status_code == 200
    for item in response.json()["items"]:
        assert q in item["title"] + (item["description"] or "")


async def test_details_give_context_and_children(client: httpx.AsyncClient) -> None:
    axis = (await client.get("/v1/axes/3")).json()
    assert [a["code"] for a in axis["ambitions"]] == ["3.1", "3.2", "3.3"]
    assert axis["counts"]["ambitions"] == 3
    ambition = (await client.get("/v1/ambitions/3.3")).json()
    assert ambition["axis"]["code"] == "3"
    assert all(o["ambition_code"] == "3.3" for o in ambition["objectives"])
    objective = (await client.get("/v1/objectives/3.3.2")).json()
    assert objective["ambition"]["code"] == "3.3"
    assert objective["counts"]["actions"] == len(objective["actions"])
    action = (await client.get("/v1/actions/3.3.2.1")).json()
    assert action["objective"]["code"] == "3.3.2"
    assert action["axis"]["title"] == axis["title"]
    assert {c["insee"]: c["name"] for c in action["commune_details"]} == {
        "62032": "Angres",
        "62510": "Liévin",
    }
    assert action["status"] == "in_progress"
    assert action["status_label_fr"] == "En cours"


async def test_the_popschool_keeps_its_month_precision(client: httpx.AsyncClient) -> None:
    found = (await client.get("/v1/actions?q=popschool")).json()["items"]
    popschool = [a for a in found if a["title"] == "Popschool"]
    assert len(popschool) == 1
    assert popschool[0]["start_date"] == "2016-11-01"
    assert popschool[0]["start_date_precision"] == "month"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/v1/axes/9", "'9'"),
        ("/v1/ambitions/1.99", "'1.99'"),
        ("/v1/objectives/1.1.99", "'1.1.99'"),
        ("/v1/actions/9.9.9.9", "'9.9.9.9'"),
    ],
)
async def test_an_unknown_code_is_a_404_naming_it(
    client: httpx.AsyncClient, url: str, named: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert named in problem["detail"]
    assert problem["instance"] == url


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/v1/axes/1.2", "code"),
        ("/v1/actions/abc", "code"),
        ("/v1/actions?limit=0", "limit"),
        ("/v1/actions?limit=1001", "limit"),
        ("/v1/actions?limit=ten", "limit"),
        ("/v1/actions?cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("/v1/actions?commune=6251", "commune"),
        ("/v1/actions?colour=blue", "colour"),
        ("/v1/actions?limit=1&limit=2", "limit"),
        ("/v1/ambitions?axis=x", "axis"),
    ],
)
async def test_a_malformed_parameter_is_a_400_naming_it(
    client: httpx.AsyncClient, url: str, parameter: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [error["name"] for error in problem["errors"]] == [parameter]
    assert parameter in problem["detail"]


async def test_an_empty_plan_is_published_as_empty(client: httpx.AsyncClient, session: Any) -> None:
    from sqlalchemy import text

    for table in ("milestone", "budget_line", "indicator_action", "action_commune", "action"):
        await session.execute(text(f"DELETE FROM {table}"))
    body = (await client.get("/v1/actions")).json()
    assert body == {"items": [], "next_cursor": None}
    tree = (await client.get("/v1/plan")).json()
    assert tree["counts"]["actions"] == {"declared": 124, "loaded": 0}
