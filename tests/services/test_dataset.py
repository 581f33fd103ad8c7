"""The dataset loader: checks everything first, writes in one transaction, idempotently."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import load_folder
from app.config import Settings
from app.db import create_database
from app.main import PROJECT_ROOT
from app.repositories import dataset as dataset_repository
from app.services.dataset import load_dataset, read_dataset
from app.services.dataset_files import DatasetError
from tests.conftest import (
    CALL_DATASET,
    CALL_INITIATIVES,
    TEST_DATABASE_URL,
    migrate,
    recreate_database,
)

TABLES = (
    "territory",
    "commune",
    "axis",
    "ambition",
    "objective",
    "action",
    "action_commune",
    "indicator",
    "indicator_ambition",
    "indicator_objective",
    "indicator_action",
    "indicator_value",
    "budget_line",
    "milestone",
    "initiative",
    "initiative_action",
)


async def snapshot(session: AsyncSession) -> dict[str, list[Any]]:
    """Every row of every table, as text, in a stable order."""
    rows: dict[str, list[Any]] = {}
    for table in TABLES:
        result = await session.execute(text(f"SELECT t::text FROM {table} t ORDER BY 1"))
        rows[table] = list(result.scalars())
    return rows


def copy_dataset(tmp_path: Path) -> Path:
    target = tmp_path / "dataset"
    shutil.copytree(CALL_DATASET, target)
    return target


def edit_yaml(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_call_dataset_is_consistent() -> None:
    dataset = read_dataset(CALL_DATASET)
    assert dataset.territory.siren == "246200364"
    assert len(dataset.communes) == 36
    assert [axis.code for axis in dataset.plan.axes] == ["1", "2", "3", "4", "5"]


async def test_loading_again_changes_nothing(session: AsyncSession) -> None:
    before = await snapshot(session)
    report = await load_dataset(session, read_dataset(CALL_DATASET))
    assert not report.changed
    assert report.changes["commune"].unchanged == 36
    assert await snapshot(session) == before


async def test_a_changed_record_is_the_only_one_updated(
    session: AsyncSession, tmp_path: Path
) -> None:
    folder = copy_dataset(tmp_path)
    edit_yaml(
        folder / "plan.yaml",
        lambda plan: plan["axes"][0]["ambitions"][0].update(title="Titre révisé"),
    )
    before = await snapshot(session)
    report = await load_dataset(session, read_dataset(folder))
    assert report.changes["ambition"].updated == 1
    assert report.changes["ambition"].created == 0
    assert sum(c.updated + c.created + c.deleted for c in report.changes.values()) == 1
    after = await snapshot(session)
    assert [t for t in TABLES if before[t] != after[t]] == ["ambition"]


async def test_moving_communes_of_an_action_syncs_the_links(
    session: AsyncSession, tmp_path: Path
) -> None:
    folder = copy_dataset(tmp_path)

    def move(plan: Any) -> None:
        action = plan["axes"][2]["ambitions"][2]["objectives"][1]["actions"][0]
        assert action["code"] == "3.3.2.1"
        action["communes"] = ["62498"]

    edit_yaml(folder / "plan.yaml", move)
    report = await load_dataset(session, read_dataset(folder))
    assert report.changes["action_commune"].created == 1
    assert report.changes["action_commune"].deleted == 2
    result = await session.execute(
        text(
            "SELECT commune_insee FROM action_commune JOIN action ON action.id = action_id "
            "WHERE action.code = '3.3.2.1'"
        )
    )
    assert list(result.scalars()) == ["62498"]


def break_everything(folder: Path) -> None:
    def plan_errors(plan: Any) -> None:
        axis = plan["axes"][0]
        axis["ambitions"][0]["code"] = "2.1"  # does not extend its axis' code
        axis["ambitions"][1]["source_excerpt"] = "Une phrase que la brochure ne contient pas."
        objective = axis["ambitions"][1]["objectives"][0]
        objective["actions"][0]["communes"] = ["75056"]  # not a member commune
        objective["actions"][0]["status"] = "ongoing"
        plan["axes"][1]["code"] = "1"  # duplicate
        plan["axes"][2]["surprise"] = True  # unknown field

    edit_yaml(folder / "plan.yaml", plan_errors)
    communes = json.loads((folder / "communes.geojson").read_text(encoding="utf-8"))
    communes["features"][0]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[2.7, 50.4], [2.8, 50.5], [2.8, 50.4], [2.7, 50.5], [2.7, 50.4]]],
    }
    communes["features"][1]["properties"]["insee"] = "6200"
    (folder / "communes.geojson").write_text(json.dumps(communes), encoding="utf-8")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    folder = copy_dataset(tmp_path)
    break_everything(folder)
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder)
    messages = [str(problem) for problem in caught.value.problems]
    text_of = "\n".join(messages)
    assert "axes.2.surprise: Extra inputs are not permitted" in text_of
    assert "status: Input should be" in text_of
    assert "features[0].geometry: invalid: Self-intersection" in text_of
    assert "INSEE code '6200' is not 5 characters" in text_of
    # Pydantic errors stop the plan checks; fix the schema errors and the rest shows up.


def test_plan_consistency_problems_are_reported_together(tmp_path: Path) -> None:
    folder = copy_dataset(tmp_path)

    def plan_errors(plan: Any) -> None:
        axis = plan["axes"][0]
        axis["ambitions"][0]["code"] = "2.9"
        axis["ambitions"][1]["source_excerpt"] = "Une phrase que la brochure ne contient pas."
        axis["ambitions"][1]["objectives"][0]["actions"] = [
            {"code": "1.2.1.1", "title": "Doublon", "communes": ["75056"]},
            {
                "code": "1.2.1.1",
                "title": "Doublon",
                "end_date": "2020-01-01",
                "start_date": "2021-01-01",
            },
        ]

    edit_yaml(folder / "plan.yaml", plan_errors)
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder)
    messages = "\n".join(str(problem) for problem in caught.value.problems)
    assert "ambition 2.9: code does not extend its parent's code 1" in messages
    assert "ambition 1.2.source_excerpt: not found in the source document" in messages
    assert "action 1.2.1.1: commune 75056 is not a member commune" in messages
    assert "action 1.2.1.1: code appears twice" in messages
    assert "action 1.2.1.1: end_date precedes start_date" in messages


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    folder = copy_dataset(tmp_path)
    (folder / "plan.yaml").write_text("axes: [unclosed", encoding="utf-8")
    (folder / "communes.geojson").write_bytes(b"\xff\xfe not json")
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder)
    files = {problem.file for problem in caught.value.problems}
    assert files == {"plan.yaml", "communes.geojson"}


async def test_another_territory_is_refused_in_this_database(
    session: AsyncSession, tmp_path: Path
) -> None:
    folder = copy_dataset(tmp_path)
    edit_yaml(folder / "territory.yaml", lambda territory: territory.update(siren="200000000"))
    with pytest.raises(DatasetError, match="problem"):
        await load_dataset(session, read_dataset(folder))


def example_territory(folder: Path) -> Path:
    """A small made-up intercommunality: the code must not depend on the CALL."""
    folder.mkdir()
    square = [[[5.0, 45.0], [5.1, 45.0], [5.1, 45.1], [5.0, 45.1], [5.0, 45.0]]]
    other = [[[5.1, 45.0], [5.2, 45.0], [5.2, 45.1], [5.1, 45.1], [5.1, 45.0]]]
    features = [
        {
            "type": "Feature",
            "properties": {"code": "38001", "nom": "Alpha"},
            "geometry": {"type": "Polygon", "coordinates": square},
        },
        {
            "type": "Feature",
            "properties": {"code": "38002", "nom": "Bêta"},
            "geometry": {"type": "Polygon", "coordinates": other},
        },
    ]
    (folder / "communes.json").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    (folder / "territory.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "Communauté de communes Exemple",
                "siren": "200000000",
                "licence": {"title": "ODbL", "url": "https://opendatacommons.org/licenses/odbl/"},
                "attribution": "Exemple",
                "source_document": {"title": "Projet"},
                "communes": {
                    "file": "communes.json",
                    "properties": {"insee": "code", "name": "nom"},
                },
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    (folder / "plan.yaml").write_text(
        yaml.safe_dump(
            {
                "axes": [
                    {
                        "code": "1",
                        "title": "Eau",
                        "ambitions": [
                            {
                                "code": "1.1",
                                "title": "Protéger la ressource",
                                "objectives": [
                                    {
                                        "code": "1.1.1",
                                        "title": "Réduire les fuites",
                                        "actions": [
                                            {
                                                "code": "1.1.1.1",
                                                "title": "Réseau",
                                                "status": "done",
                                                "communes": ["38002"],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return folder


async def test_any_territory_loads_and_is_published(
    session: AsyncSession, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    for table in reversed(TABLES):
        await session.execute(text(f"DELETE FROM {table}"))
    report = await load_dataset(session, read_dataset(example_territory(tmp_path / "example")))
    assert report.changes["commune"].created == 2
    territory = (await client.get("/v1/territory")).json()
    assert territory["siren"] == "200000000"
    assert territory["plan_counts"]["actions"] == {"declared": None, "loaded": 1}
    assert territory["communes"]["count"] == 2
    action = (await client.get("/v1/actions/1.1.1.1")).json()
    assert action["status"] == "done"
    assert action["commune_details"] == [{"insee": "38002", "name": "Bêta"}]


@pytest.fixture
async def cli_database() -> str:
    url = TEST_DATABASE_URL + "_cli"
    await recreate_database(url)
    await migrate(url)
    return url


def run_cli(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_command_loads_once_then_changes_nothing_and_refuses_bad_files(
    cli_database: str, tmp_path: Path
) -> None:
    first = run_cli(cli_database, "load", str(CALL_DATASET))
    assert first.returncode == 0, first.stderr
    assert "commune            36 created" in first.stdout
    second = run_cli(cli_database, "load", str(CALL_DATASET))
    assert second.returncode == 0
    assert second.stdout.strip().endswith("nothing changed")

    folder = copy_dataset(tmp_path)
    edit_yaml(folder / "plan.yaml", lambda plan: plan["axes"][0].update(title="Changé"))
    dry = run_cli(cli_database, "load", str(folder), "--dry-run")
    assert "axis                0 created     1 updated" in dry.stdout
    assert "dry run" in dry.stdout
    unchanged = run_cli(cli_database, "load", str(CALL_DATASET))
    assert unchanged.stdout.strip().endswith("nothing changed")

    break_everything(folder)
    failed = run_cli(cli_database, "load", str(folder))
    assert failed.returncode == 1
    assert "nothing was written" in failed.stderr
    assert "plan.yaml: axes.2.surprise" in failed.stderr
    assert (
        run_cli(cli_database, "load", str(CALL_DATASET)).stdout.strip().endswith("nothing changed")
    )


async def test_a_failure_midway_leaves_the_database_as_it_was(
    cli_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(cli_database, "load", str(CALL_DATASET)).returncode == 0
    folder = copy_dataset(tmp_path)
    edit_yaml(folder / "plan.yaml", lambda plan: plan["axes"][0].update(title="Changé"))
    settings = Settings(database_url=cli_database)  # type: ignore[arg-type]

    async def dump() -> dict[str, list[Any]]:
        database = create_database(settings)
        try:
            async with database.sessionmaker() as session:
                return await snapshot(session)
        finally:
            await database.dispose()

    before = await dump()

    async def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(dataset_repository, "sync_action_communes", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        await load_folder(folder, dry_run=False, settings=settings)
    assert await dump() == before


def test_indicator_problems_are_reported_together(tmp_path: Path) -> None:
    folder = copy_dataset(tmp_path)

    def indicator_errors(document: Any) -> None:
        indicators = document["indicators"]
        indicators[0]["measures"] = ["9.9", "1"]  # no such ambition; an axis is not measured
        indicators[1]["code"] = indicators[0]["code"]
        call = next(i for i in indicators if i["code"] == "popschool-part-call")
        call["values"][0]["value"] = 161
        call["values"].append(dict(call["values"][0], value=10))  # same point twice
        call["values"].append(
            {"kind": "result", "period_start": "2021-06-01", "period_end": "2021-01-01", "value": 1}
        )
        call["values"].append({"kind": "result", "value": 2})
        call["source_excerpt"] = "Une phrase que la brochure ne contient pas."

    edit_yaml(folder / "indicators.yaml", indicator_errors)
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder)
    messages = sorted(str(problem) for problem in caught.value.problems)
    pointe = "indicators.yaml: indicator bulles-intervalle-pointe"
    call = "indicators.yaml: indicator popschool-part-call"
    assert messages == [
        # The second indicator took the first one's code: its value now repeats a point.
        f"{pointe} values[0]: the same indicator, kind, commune and period as "
        "indicator bulles-intervalle-pointe values[0]",
        f"{pointe}: indicator code bulles-intervalle-pointe appears 2 times",
        f"{pointe}: indicator code bulles-intervalle-pointe appears 2 times",
        f"{pointe}: measures 1: not the code of an ambition, objective or action",
        f"{pointe}: measures 9.9: no such ambition",
        f"{call} values[0]: value 161 is a percentage outside 0-100",
        f"{call} values[1]: the same indicator, kind, commune and period as "
        "indicator popschool-part-call values[0]",
        f"{call} values[2]: period_end 2021-01-01 precedes period_start 2021-06-01",
        f"{call} values[3]: no period: give period_start, or period_label for an undated period",
        f"{call}.source_excerpt: not found in the source document",
    ]


async def test_the_call_initiatives_are_placed_on_the_commune_the_brochure_names(
    session: AsyncSession,
) -> None:
    rows = (
        await session.execute(
            text(
                "SELECT i.reference, i.commune_insee, i.location_precision, i.status, "
                "i.published_at IS NOT NULL AS dated, "
                "ST_Equals(i.geometry, ST_PointOnSurface(c.boundary)) AS on_surface, "
                "array(SELECT ia.action_code FROM initiative_action ia "
                "WHERE ia.initiative_id = i.id ORDER BY ia.action_code) AS actions "
                "FROM initiative i JOIN commune c ON c.insee = i.commune_insee "
                "WHERE i.reference LIKE 'call-%' ORDER BY i.reference"
            )
        )
    ).mappings()
    found = {row["reference"]: row for row in rows}
    assert len(found) == len(read_dataset(CALL_DATASET).initiatives) == CALL_INITIATIVES
    assert found["call-anneau-de-la-memoire"]["commune_insee"] == "62001"
    assert found["call-arena-stade-couvert"]["commune_insee"] == "62510"
    assert found["call-maison-des-sports-angres"]["commune_insee"] == "62032"
    assert found["call-louvre-lens"]["actions"] == ["4.2.1.1"]
    for row in found.values():
        assert row["location_precision"] == "commune"
        assert row["on_surface"], row["reference"]
        assert row["status"] == "published"
        assert row["dated"]
        assert row["actions"]


def add_initiatives(folder: Path, *records: dict[str, Any]) -> None:
    edit_yaml(folder / "initiatives.yaml", lambda data: data["initiatives"].extend(records))


def record(reference: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reference": reference,
        "title": "Essai",
        "category": "1",
        "location": {"commune": "62498"},
    }
    return base | changes


async def test_initiative_problems_are_all_reported(tmp_path: Path) -> None:
    folder = copy_dataset(tmp_path)
    add_initiatives(
        folder,
        record("bad-category", category="9"),
        record("bad-action", actions=["9.9.9.9"]),
        record("bad-commune", location={"commune": "75056"}),
        record("both", location={"commune": "62498", "geometry": {"type": "Point"}}),
        record(
            "bowtie",
            location={
                "precision": "exact",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[2.82, 50.42], [2.83, 50.43], [2.83, 50.42], [2.82, 50.43], [2.82, 50.42]]
                    ],
                },
            },
        ),
        record(
            "paris",
            location={
                "precision": "exact",
                "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
            },
        ),
        record("invented-quote", source_excerpt="Une phrase que la brochure ne contient pas."),
        record("call-louvre-lens"),
    )
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder)
    messages = "\n".join(str(problem) for problem in caught.value.problems)
    assert "bad-category: category 9 is not an axis of the plan" in messages
    assert "bad-action: action 9.9.9.9 is not an action of the plan" in messages
    assert "bad-commune: location: commune 75056 is not a member commune" in messages
    assert "both: location: give either a commune or a geometry" in messages
    assert "bowtie: location.geometry: invalid Polygon: Self-intersection" in messages
    assert "paris: location.geometry: the geometry lies outside the territory" in messages
    assert "invented-quote.source_excerpt: not found in the source document" in messages
    assert "call-louvre-lens: reference appears twice" in messages


async def test_an_exact_initiative_gets_its_commune_by_spatial_join(
    session: AsyncSession, tmp_path: Path
) -> None:
    folder = copy_dataset(tmp_path)
    gare = {"type": "Point", "coordinates": [2.828254, 50.426818]}
    add_initiatives(
        folder,
        record("gare", location={"precision": "exact", "geometry": gare}, actions=["1.2.1.1"]),
    )
    report = await load_dataset(session, read_dataset(folder))
    assert report.changes["initiative"].created == 1
    assert report.changes["initiative_action"].created == 1
    row = (
        await session.execute(
            text(
                "SELECT commune_insee, location_precision, ST_AsText(geometry) FROM initiative "
                "WHERE reference = 'gare'"
            )
        )
    ).one()
    assert tuple(row) == ("62498", "exact", "POINT(2.828254 50.426818)")
    again = await load_dataset(session, read_dataset(folder))
    assert not again.changed
