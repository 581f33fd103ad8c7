"""The progress roll-up of a plan computed by hand: weights, milestones and missing data."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.progress import WEIGHTED_MEAN
from tests.plan_fixtures import write_hand_tree

# Computed by hand from tests/plan_fixtures.py:
# 1.1.1 = (1×50 + 3×10) / 4 = 20
# 1.1.2.1 = 40 (latest reached milestone stating a progress: position 2, 2024-06-01)
# 1.1.2 = 40 (1.1.2.2 has no data and is left out)
# 1.1 = (20 + 40) / 2 = 30;  1.2 = 100 (1.2.1.1 set to 100, its milestone ignored)
# 1 = (2×30 + 1×100) / 3 = 53.333… → 53.33
# 2.1.1 = (33.33 + 66.67 + 0) / 3 = 33.333… → 33.33;  2.1 = 33.33 (2.1.2 has no action)
# 2 = 33.33;  3 = no data
# territory = (1×53.33 + 0.5×33.33) / 1.5 = 46.6633… → 46.66 (axis 3 left out)
EXPECTED = {
    "1": 53.33,
    "1.1": 30.0,
    "1.1.1": 20.0,
    "1.1.1.1": 50.0,
    "1.1.1.2": 10.0,
    "1.1.2": 40.0,
    "1.1.2.1": 40.0,
    "1.1.2.2": None,
    "1.2": 100.0,
    "1.2.1": 100.0,
    "1.2.1.1": 100.0,
    "2": 33.33,
    "2.1": 33.33,
    "2.1.1": 33.33,
    "2.1.1.1": 33.33,
    "2.1.1.2": 66.67,
    "2.1.1.3": 0.0,
    "2.1.2": None,
    "3": None,
}


@pytest.fixture
async def tree(session: AsyncSession, client: httpx.AsyncClient) -> dict[str, Any]:
    await write_hand_tree(session)
    response = await client.get("/v1/plan")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def nodes(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for axis in tree["axes"]:
        found[axis["code"]] = axis
        for ambition in axis["ambitions"]:
            found[ambition["code"]] = ambition
            for objective in ambition["objectives"]:
                found[objective["code"]] = objective
                for action in objective["actions"]:
                    found[action["code"]] = action
    return found


async def test_the_hand_computed_figures_are_published(tree: dict[str, Any]) -> None:
    published = {code: n["progress"]["value"] for code, n in nodes(tree).items()}
    assert published == EXPECTED
    assert tree["progress"]["value"] == 46.66


async def test_each_figure_says_how_it_was_computed(tree: dict[str, Any]) -> None:
    by_code = nodes(tree)
    assert by_code["1.1.2"]["progress"] == {
        "value": 40.0,
        "method": "weighted_mean",
        "formula": WEIGHTED_MEAN,
        "children_counted": 1,
        "children_without_data": 1,
        "weight_counted": 1.0,
        "inputs": [
            {"code": "1.1.2.1", "weight": 1.0, "value": 40.0},
            {"code": "1.1.2.2", "weight": 1.0, "value": None},
        ],
        "milestone": None,
    }
    milestones = by_code["1.1.2.1"]["progress"]
    assert milestones["method"] == "milestones"
    assert milestones["milestone"] == {
        "position": 2,
        "date": "2024-06-01",
        "title": "step 2",
        "progress": 40.0,
    }
    assert by_code["1.2.1.1"]["progress"]["method"] == "set"
    assert by_code["1.1.2.2"]["progress"]["method"] == "none"
    assert by_code["3"]["progress"] == {
        "value": None,
        "method": "none",
        "formula": "none of the children has a value",
        "children_counted": 0,
        "children_without_data": 0,
        "weight_counted": 0.0,
        "inputs": [],
        "milestone": None,
    }
    territory = tree["progress"]
    assert territory["inputs"] == [
        {"code": "1", "weight": 1.0, "value": 53.33},
        {"code": "2", "weight": 0.5, "value": 33.33},
        {"code": "3", "weight": 1.0, "value": None},
    ]
    assert (territory["children_counted"], territory["children_without_data"]) == (2, 1)
    assert by_code["2"]["weight"] == 0.5
    assert by_code["1.1.1.2"]["weight"] == 3.0


def recompute(progress: dict[str, Any]) -> float | None:
    counted = [(i["weight"], i["value"]) for i in progress["inputs"] if i["value"] is not None]
    if not counted:
        return None
    total = sum(round(w * 10_000) * round(v * 100) for w, v in counted)
    weights = sum(round(w * 10_000) for w, _ in counted)
    # Half up, in integers: the published rule, recomputed without floating point.
    quotient, remainder = divmod(total, weights)
    return (quotient + (1 if 2 * remainder >= weights else 0)) / 100


async def test_a_reader_recomputes_every_figure_from_the_response(tree: dict[str, Any]) -> None:
    by_code = nodes(tree)
    means = [n["progress"] for n in by_code.values() if n["progress"]["inputs"] is not None]
    assert len(means) == 11
    for progress in [*means, tree["progress"]]:
        assert recompute(progress) == progress["value"]
    # And the inputs are the children as published.
    for code, n in by_code.items():
        children = n.get("ambitions") or n.get("objectives") or n.get("actions") or []
        if "actions" in n or "objectives" in n or "ambitions" in n:
            expected = [
                {"code": c["code"], "weight": c["weight"], "value": c["progress"]["value"]}
                for c in children
            ]
            assert n["progress"]["inputs"] == expected, code


async def test_lists_details_and_territory_carry_the_same_figures(
    tree: dict[str, Any], client: httpx.AsyncClient
) -> None:
    by_code = nodes(tree)
    for level in ("axes", "ambitions", "objectives", "actions"):
        items = (await client.get(f"/v1/{level}?limit=1000")).json()["items"]
        assert items
        for item in items:
            assert item["progress"] == by_code[item["code"]]["progress"], item["code"]
    detail = (await client.get("/v1/ambitions/1.1")).json()
    assert detail["progress"]["value"] == 30.0
    assert [o["progress"]["value"] for o in detail["objectives"]] == [20.0, 40.0]
    territory = (await client.get("/v1/territory")).json()
    assert territory["progress"] == tree["progress"]
    assert territory["synthetic"] is False


async def test_budget_totals_add_up_at_every_level(
    tree: dict[str, Any], client: httpx.AsyncClient
) -> None:
    by_code = nodes(tree)
    assert by_code["1.1.1"]["budget"] == {
        "planned": {"investment": 1000.5, "operating": 200.0, "total": 1200.5},
        "actual": {"investment": 800.0, "operating": 0.0, "total": 800.0},
        "lines": 2,
    }
    assert by_code["1"]["budget"]["planned"]["total"] == 6200.5
    assert by_code["1"]["budget"]["actual"]["total"] == 5800.0
    assert by_code["2"]["budget"]["lines"] == 0
    assert tree["budget"] == by_code["1"]["budget"]
    report = (await client.get("/v1/budget?level=ambition&year=2024")).json()
    assert [(i["code"], i["totals"]["planned"]["total"]) for i in report["items"]] == [
        ("1.1", 1200.5)
    ]
    assert report["territory"]["lines"] == 2
    everything = (await client.get("/v1/budget?level=objective")).json()
    assert [(i["code"], i["totals"]["lines"]) for i in everything["items"]] == [
        ("1.1.1", 2),
        ("1.2.1", 1),
    ]
    action = (await client.get("/v1/actions/1.1.1.1/budget")).json()
    assert action["lines"] == [
        {
            "year": 2024,
            "nature": "investment",
            "planned": 1000.5,
            "actual": 800.0,
            "comment": None,
            "source_excerpt": None,
        },
        {
            "year": 2024,
            "nature": "operating",
            "planned": 200.0,
            "actual": None,
            "comment": None,
            "source_excerpt": None,
        },
    ]
    assert action["totals"] == by_code["1.1.1.1"]["budget"]


async def test_the_timeline_is_in_date_order(
    tree: dict[str, Any], client: httpx.AsyncClient
) -> None:
    response = await client.get("/v1/actions/1.1.2.1/milestones")
    assert response.status_code == 200
    steps = response.json()["milestones"]
    assert [(s["position"], s["date"], s["reached"]) for s in steps] == [
        (1, "2024-01-01", True),
        (4, "2024-03-01", True),
        (2, "2024-06-01", True),
        (3, "2025-01-01", False),
    ]
    assert steps[0]["status_label_fr"] == "En cours"
    detail = (await client.get("/v1/actions/1.1.2.1")).json()
    assert detail["milestones"] == steps
    missing = await client.get("/v1/actions/9.9.9.9/milestones")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
