"""Indicators through the API: the CALL figures, series as JSON and CSV, progress to target."""

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import plan_data_write
from app.services.plan_data import IndicatorRecord, PlanData, ValueRecord
from tests.conftest import CALL_DATASET
from tests.routers.test_plan import all_pages


def call_indicators() -> list[dict[str, Any]]:
    document = yaml.safe_load((CALL_DATASET / "indicators.yaml").read_text(encoding="utf-8"))
    indicators: list[dict[str, Any]] = document["indicators"]
    return indicators


async def test_every_call_indicator_is_published_with_its_source(
    client: httpx.AsyncClient,
) -> None:
    published = await all_pages(client, "/v1/indicators?limit=2")
    expected = call_indicators()
    assert sorted(i["code"] for i in published) == sorted(i["code"] for i in expected)
    assert [i["code"] for i in published] == sorted(i["code"] for i in published)
    popschool = next(i for i in published if i["code"] == "popschool-part-call")
    assert popschool["unit"] == "%"
    assert popschool["direction"] == "higher_is_better"
    assert popschool["measures"] == {"ambitions": [], "objectives": [], "actions": ["2.2.2.1"]}
    assert popschool["value_count"] == 1
    assert popschool["source"]["producer"] == "Communauté d'agglomération de Lens-Liévin"


async def test_the_brochure_figures(client: httpx.AsyncClient) -> None:
    figures = {}
    for code in (
        "bulles-intervalle-pointe",
        "bulles-intervalle-creuses",
        "popschool-eleves-promo1",
        "popschool-part-call",
        "popschool-part-qpv",
        "incubateur-llv-projets",
        "incubateur-llv-personnes",
        "communes-membres",
    ):
        values = (await client.get(f"/v1/indicators/{code}/values")).json()["items"]
        assert len(values) == 1, code
        figures[code] = (values[0]["kind"], values[0]["value"], values[0]["period_start"])
    assert figures == {
        "bulles-intervalle-pointe": ("target", 7.0, None),
        "bulles-intervalle-creuses": ("target", 15.0, None),
        "popschool-eleves-promo1": ("result", 23.0, None),
        "popschool-part-call": ("result", 61.0, None),
        "popschool-part-qpv": ("result", 30.0, None),
        "incubateur-llv-projets": ("result", 13.0, None),
        "incubateur-llv-personnes": ("result", 55.0, None),
        "communes-membres": ("result", 36.0, None),
    }


async def test_filters_by_plan_node_text_and_commune(client: httpx.AsyncClient) -> None:
    async def codes(query: str) -> list[str]:
        response = await client.get(f"/v1/indicators?{query}")
        assert response.status_code == 200, response.text
        return [i["code"] for i in response.json()["items"]]

    popschool = ["popschool-eleves-promo1", "popschool-part-call", "popschool-part-qpv"]
    assert await codes("node=2.2.2.1") == popschool
    assert await codes("node=2.2") == popschool
    assert await codes("node=2") == [
        "incubateur-llv-personnes",
        "incubateur-llv-projets",
        *popschool,
    ]
    assert await codes("node=3.1.1") == ["communes-membres"]
    assert await codes("node=5") == []
    assert await codes("q=ecole") == []
    assert await codes("q=QUARTIERS") == ["popschool-part-qpv"]
    assert await codes("q=élèves&node=2.2") == popschool
    assert await codes("commune=62498") == []


async def test_the_detail_gives_the_latest_result_and_the_current_target(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/indicators/popschool-part-qpv")
    assert response.status_code == 200
    body = response.json()
    assert body["latest_result"]["value"] == 30.0
    assert body["latest_result"]["period_label"] == "première promotion"
    assert body["latest_result"]["source_excerpt"] == "dont 30 % des Quartiers prioritaires"
    assert body["current_target"] is None
    assert body["communes"] == []
    bulles = (await client.get("/v1/indicators/bulles-intervalle-pointe")).json()
    assert bulles["latest_result"] is None
    assert bulles["current_target"]["value"] == 7.0
    assert bulles["measures"]["actions"] == ["1.2.1.1"]
    action = (await client.get("/v1/actions/1.2.1.1")).json()
    assert [i["code"] for i in action["indicators"]] == [
        "bulles-intervalle-creuses",
        "bulles-intervalle-pointe",
    ]
    missing = await client.get("/v1/indicators/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No indicator with code 'nope'."


def value(
    kind: str,
    amount: str,
    start: str | None,
    end: str | None = None,
    commune: str | None = None,
    label: str | None = None,
) -> ValueRecord:
    return ValueRecord(
        indicator="test-series",
        kind=kind,
        period_start=date.fromisoformat(start) if start else None,
        period_end=date.fromisoformat(end) if end else None,
        period_label=label,
        value=Decimal(amount),
        commune=commune,
        comment=None,
        source="test",
        source_excerpt=None,
        file="test",
        where=f"{kind} {start}",
    )


async def add_series(session: AsyncSession, direction: str, values: list[ValueRecord]) -> None:
    indicator = IndicatorRecord(
        code="test-series",
        name="Série de test",
        unit="logements",
        file="test",
        where="test",
        direction=direction,
        measures=["5.3.2.2"],
    )
    await plan_data_write.write(session, PlanData(indicators=[indicator], values=values))
    await session.flush()


SERIES = [
    value("result", "100", "2018-01-01"),
    value("target", "150", "2020-12-31"),
    value("result", "120", "2019-01-01", "2019-12-31"),
    value("estimate", "130", "2020-01-01"),
    value("target", "300", "2030-12-31"),
    value("target", "999", None, label="sans date"),
    value("result", "7", "2019-06-01", commune="62498"),
    value("target", "10", "2025-01-01", commune="62498"),
]


async def test_progress_from_a_baseline(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await add_series(session, "higher_is_better", SERIES)
    body = (await client.get("/v1/indicators/test-series/progress")).json()
    # latest result 120 (2019), baseline 100 (2018), current target: the first dated on or
    # after the latest result, 150 (2020); (120 − 100) / (150 − 100) = 40 %
    assert body["latest_result"]["value"] == 120.0
    assert body["baseline"]["value"] == 100.0
    assert body["current_target"]["value"] == 150.0
    assert body["value"] == 40.0
    assert body["method"] == "baseline"
    assert body["formula"] == "round(100 × (latest − baseline) / (target − baseline), 2)"
    assert body["achieved"] is False
    assert body["reason"] is None
    commune = (await client.get("/v1/indicators/test-series/progress?commune=62498")).json()
    # one result only: 7 / 10
    assert (commune["method"], commune["value"], commune["baseline"]) == ("ratio", 70.0, None)
    detail = (await client.get("/v1/indicators/test-series")).json()
    assert detail["latest_result"]["value"] == 120.0
    assert detail["current_target"]["value"] == 150.0
    assert detail["communes"] == ["62498"]
    assert detail["measures"]["actions"] == ["5.3.2.2"]


async def test_progress_when_lower_is_better_and_without_data(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await add_series(
        session,
        "lower_is_better",
        [value("result", "12", "2024-01-01"), value("target", "8", "2026-01-01")],
    )
    body = (await client.get("/v1/indicators/test-series/progress")).json()
    assert (body["method"], body["value"], body["achieved"]) == ("ratio", 66.67, False)
    assert body["formula"] == "round(100 × target / latest, 2)"
    nothing = (await client.get("/v1/indicators/test-series/progress?commune=62510")).json()
    assert (nothing["value"], nothing["method"], nothing["reason"]) == (None, "none", "no result")
    popschool = (await client.get("/v1/indicators/popschool-part-call/progress")).json()
    assert (popschool["value"], popschool["reason"]) == (None, "no target")


async def test_values_are_filtered_and_paged_in_date_order(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await add_series(session, "higher_is_better", SERIES)
    paged = await all_pages(client, "/v1/indicators/test-series/values?limit=3")
    assert [(v["kind"], v["period_start"], v["commune"]) for v in paged] == [
        ("target", None, None),
        ("result", "2018-01-01", None),
        ("result", "2019-06-01", "62498"),
        ("result", "2019-01-01", None),
        ("estimate", "2020-01-01", None),
        ("target", "2020-12-31", None),
        ("target", "2025-01-01", "62498"),
        ("target", "2030-12-31", None),
    ]

    async def kinds(query: str) -> list[tuple[str, float]]:
        response = await client.get(f"/v1/indicators/test-series/values?{query}")
        assert response.status_code == 200, response.text
        return [(v["kind"], v["value"]) for v in response.json()["items"]]

    assert await kinds("kind=estimate") == [("estimate", 130.0)]
    assert await kinds("kind=result&kind=estimate&commune=62498") == [("result", 7.0)]
    assert await kinds("since=2019-06-01&until=2020-06-30") == [
        ("result", 7.0),
        ("result", 120.0),
        ("estimate", 130.0),
    ]
    bad = await client.get("/v1/indicators/test-series/values?since=2020-01-01&until=2019-01-01")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"location": "query", "name": "until", "reason": "2019-01-01 precedes since (2020-01-01)"}
    ]
    wrong = await client.get("/v1/indicators/test-series/values?kind=measure")
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["name"] == "kind"


async def test_values_as_csv(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await add_series(session, "higher_is_better", SERIES)
    response = await client.get("/v1/indicators/test-series/values.csv?commune=62498")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="test-series.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        [
            "indicator_code",
            "kind",
            "period_start",
            "period_end",
            "period_label",
            "value",
            "commune",
            "comment",
            "source",
            "source_excerpt",
        ],
        ["test-series", "result", "2019-06-01", "", "", "7", "62498", "", "test", ""],
        ["test-series", "target", "2025-01-01", "", "", "10", "62498", "", "test", ""],
    ]
    call = await client.get("/v1/indicators/popschool-part-qpv/values.csv")
    assert "première promotion" in call.content.decode("utf-8")
    missing = await client.get("/v1/indicators/nope/values.csv")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/indicators?cursor=YWJj", "cursor"),
        ("/v1/indicators/communes-membres/values?cursor=YWJj", "cursor"),
        ("/v1/indicators?node=1.2.3.4.5", "node"),
        ("/v1/indicators/a%20b", "code"),
        ("/v1/budget?level=region", "level"),
        ("/v1/budget?year=1200", "year"),
    ],
)
async def test_bad_parameters_are_named(client: httpx.AsyncClient, path: str, name: str) -> None:
    response = await client.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["name"] == name


async def test_the_popschool_timeline(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/actions/2.2.2.1/milestones")).json()
    assert body["milestones"] == [
        {
            "position": 1,
            "date": "2016-11-01",
            "date_precision": "month",
            "title": "Ouverture de la Popschool",
            "description": None,
            "status": "in_progress",
            "status_label_fr": "En cours",
            "reached": True,
            "progress": None,
            "source_excerpt": "La Popschool, ouverte en novembre 2016",
        }
    ]
