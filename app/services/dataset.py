"""Reading a territory's dataset folder, checking all of it, and loading it in one transaction.

Every problem is collected and reported together (file, place, what is wrong); if there is any,
nothing is written. Loading the same folder twice changes nothing the second time.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.plan import Action, Ambition, Axis, Objective
from app.models.territory import Territory
from app.repositories import dataset as repository
from app.repositories.dataset import Changes
from app.schemas.common import INSEE_PATTERN
from app.schemas.dataset import ActionFile, NodeFile, PlanFile, TerritoryFile

TERRITORY_FILE = "territory.yaml"
PLAN_FILE = "plan.yaml"
LEVELS: tuple[tuple[str, type[Axis | Ambition | Objective | Action]], ...] = (
    ("axis", Axis),
    ("ambition", Ambition),
    ("objective", Objective),
    ("action", Action),
)
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class DatasetProblem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


class DatasetError(Exception):
    def __init__(self, problems: list[DatasetProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the dataset")
        self.problems = problems


@dataclass(frozen=True)
class CommuneRecord:
    insee: str
    name: str
    siren: str | None
    population: int | None
    boundary: str  # EWKT, MultiPolygon in WGS84


@dataclass(frozen=True)
class Dataset:
    territory: TerritoryFile
    plan: PlanFile
    communes: list[CommuneRecord]


@dataclass
class LoadReport:
    changes: dict[str, Changes] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deleted for c in self.changes.values())


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def _read_yaml(path: Path, problems: list[DatasetProblem]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(DatasetProblem(path.name, "-", "file not found"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problems.append(DatasetProblem(path.name, "-", f"not valid UTF-8 YAML: {error}"))
    return None


def _validate(
    model: type[ModelT], data: Any, file: str, problems: list[DatasetProblem]
) -> ModelT | None:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "-"
            problems.append(DatasetProblem(file, where, item["msg"]))
        return None


def _read_communes(
    folder: Path, territory: TerritoryFile, problems: list[DatasetProblem]
) -> list[CommuneRecord]:
    spec = territory.communes
    name = spec.file
    try:
        document = json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(DatasetProblem(name, "-", "file not found"))
        return []
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problems.append(DatasetProblem(name, "-", f"not valid UTF-8 JSON: {error}"))
        return []
    features = document.get("features") if isinstance(document, dict) else None
    if document.get("type") != "FeatureCollection" or not isinstance(features, list):
        problems.append(DatasetProblem(name, "-", "expected a GeoJSON FeatureCollection"))
        return []
    records: list[CommuneRecord] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        record = _commune(feature, spec.properties.model_dump(), name, where, problems)
        if record is None:
            continue
        if record.insee in seen:
            problems.append(DatasetProblem(name, where, f"INSEE code {record.insee} appears twice"))
        seen.add(record.insee)
        records.append(record)
    return records


def _commune(
    feature: Any, keys: dict[str, str | None], file: str, where: str, problems: list[DatasetProblem]
) -> CommuneRecord | None:
    before = len(problems)
    properties = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(properties, dict):
        problems.append(DatasetProblem(file, where, "a Feature with properties is expected"))
        return None

    def text(field_name: str, required: bool) -> str | None:
        key = keys[field_name]
        value = properties.get(key) if key else None
        if value is None:
            if required:
                problems.append(DatasetProblem(file, f"{where}.properties.{key}", "missing"))
            return None
        return str(value).strip()

    insee = text("insee", required=True)
    name = text("name", required=True)
    siren = text("siren", required=False)
    population_text = text("population", required=False)
    if insee is not None and not re.match(INSEE_PATTERN, insee):
        problems.append(DatasetProblem(file, where, f"INSEE code {insee!r} is not 5 characters"))
    if siren is not None and not re.fullmatch(r"[0-9]{9}", siren):
        problems.append(DatasetProblem(file, where, f"SIREN {siren!r} is not 9 digits"))
    population: int | None = None
    if population_text is not None:
        try:
            population = int(population_text)
            if population < 0:
                raise ValueError
        except ValueError:
            problems.append(
                DatasetProblem(file, where, f"population {population_text!r} is not a count")
            )
    boundary = _boundary(feature.get("geometry"), file, where, problems)
    if len(problems) > before or insee is None or name is None or boundary is None:
        return None
    return CommuneRecord(insee, name, siren, population, boundary)


def _boundary(geometry: Any, file: str, where: str, problems: list[DatasetProblem]) -> str | None:
    try:
        polygon = shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        problems.append(
            DatasetProblem(file, f"{where}.geometry", f"not a GeoJSON geometry: {error}")
        )
        return None
    if isinstance(polygon, Polygon):
        polygon = MultiPolygon([polygon])
    if not isinstance(polygon, MultiPolygon) or polygon.is_empty:
        problems.append(
            DatasetProblem(file, f"{where}.geometry", "a non-empty (Multi)Polygon is expected")
        )
        return None
    if not polygon.is_valid:
        problems.append(
            DatasetProblem(file, f"{where}.geometry", f"invalid: {explain_validity(polygon)}")
        )
        return None
    minx, miny, maxx, maxy = polygon.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        problems.append(
            DatasetProblem(file, f"{where}.geometry", "coordinates are not WGS84 lon/lat")
        )
        return None
    return f"SRID=4326;{polygon.wkt}"


def _nodes(plan: PlanFile) -> Iterator[tuple[str, NodeFile, str | None]]:
    """Every node of the plan with its level name and its parent's code."""
    for axis in plan.axes:
        yield "axis", axis, None
        for ambition in axis.ambitions:
            yield "ambition", ambition, axis.code
            for objective in ambition.objectives:
                yield "objective", objective, ambition.code
                for action in objective.actions:
                    yield "action", action, objective.code


def _check_plan(
    plan: PlanFile,
    communes: set[str],
    source_text: str | None,
    problems: list[DatasetProblem],
) -> None:
    seen: set[str] = set()
    for level, node, parent in _nodes(plan):
        where = f"{level} {node.code}"
        if node.code in seen:
            problems.append(DatasetProblem(PLAN_FILE, where, "code appears twice"))
        seen.add(node.code)
        if parent is not None and not node.code.startswith(parent + "."):
            problems.append(
                DatasetProblem(PLAN_FILE, where, f"code does not extend its parent's code {parent}")
            )
        excerpts = [("source_excerpt", node.source_excerpt)]
        if isinstance(node, ActionFile):
            excerpts.append(("status_excerpt", node.status_excerpt))
            for insee in node.communes:
                if insee not in communes:
                    problems.append(
                        DatasetProblem(PLAN_FILE, where, f"commune {insee} is not a member commune")
                    )
            if len(set(node.communes)) != len(node.communes):
                problems.append(DatasetProblem(PLAN_FILE, where, "a commune is listed twice"))
            if node.start_date_precision and node.start_date is None:
                problems.append(
                    DatasetProblem(PLAN_FILE, where, "start_date_precision without start_date")
                )
            if node.start_date and node.end_date and node.end_date < node.start_date:
                problems.append(DatasetProblem(PLAN_FILE, where, "end_date precedes start_date"))
        if source_text is not None:
            for name, excerpt in excerpts:
                if excerpt and normalize_space(excerpt) not in source_text:
                    problems.append(
                        DatasetProblem(
                            PLAN_FILE, f"{where}.{name}", "not found in the source document"
                        )
                    )


def read_dataset(folder: Path) -> Dataset:
    """Parse and check a dataset folder; raise DatasetError listing every problem found."""
    problems: list[DatasetProblem] = []
    territory = _validate(
        TerritoryFile, _read_yaml(folder / TERRITORY_FILE, problems), TERRITORY_FILE, problems
    )
    plan = _validate(PlanFile, _read_yaml(folder / PLAN_FILE, problems), PLAN_FILE, problems)
    communes: list[CommuneRecord] = []
    source_text: str | None = None
    if territory is not None:
        communes = _read_communes(folder, territory, problems)
        if territory.source_document.file:
            path = folder / territory.source_document.file
            try:
                source_text = normalize_space(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                problems.append(DatasetProblem(TERRITORY_FILE, "source_document.file", str(error)))
        excerpt = territory.declared_counts_excerpt
        if source_text and excerpt and normalize_space(excerpt) not in source_text:
            problems.append(
                DatasetProblem(
                    TERRITORY_FILE, "declared_counts_excerpt", "not found in the source document"
                )
            )
    if plan is not None:
        _check_plan(plan, {c.insee for c in communes}, source_text, problems)
    if problems or territory is None or plan is None:
        raise DatasetError(problems)
    return Dataset(territory=territory, plan=plan, communes=communes)


def _territory_row(territory: TerritoryFile) -> dict[str, Any]:
    counts = territory.declared_counts
    return {
        "siren": territory.siren,
        "name": territory.name,
        "short_name": territory.short_name,
        "kind": territory.kind,
        "website": territory.website,
        "address": territory.address,
        "phone": territory.phone,
        "licence_title": territory.licence.title,
        "licence_url": territory.licence.url,
        "licence_spdx": territory.licence.spdx,
        "attribution": territory.attribution,
        "source_title": territory.source_document.title,
        "source_publisher": territory.source_document.publisher,
        "declared_axes": counts.axes,
        "declared_ambitions": counts.ambitions,
        "declared_objectives": counts.objectives,
        "declared_actions": counts.actions,
        "declared_counts_excerpt": territory.declared_counts_excerpt,
        "population_year": territory.communes.population_year,
    }


def _node_row(node: NodeFile) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": node.code,
        "title": node.title,
        "description": node.description,
        "source_excerpt": node.source_excerpt,
    }
    if isinstance(node, ActionFile):
        row |= {
            "status": node.status.value if node.status else None,
            "status_excerpt": node.status_excerpt,
            "lead": node.lead,
            "partners": list(node.partners),
            "start_date": node.start_date,
            "start_date_precision": node.start_date_precision.value
            if node.start_date_precision
            else None,
            "end_date": node.end_date,
        }
    return row


class TerritoryMismatchError(DatasetError):
    pass


async def load_dataset(session: AsyncSession, dataset: Dataset) -> LoadReport:
    """Upsert the dataset by its keys (SIREN, INSEE codes, plan codes). The caller commits."""
    stored = await repository.territory_siren(session)
    if stored is not None and stored != dataset.territory.siren:
        raise TerritoryMismatchError(
            [
                DatasetProblem(
                    TERRITORY_FILE,
                    "siren",
                    f"this database publishes territory {stored}; load {dataset.territory.siren} "
                    "into a database of its own",
                )
            ]
        )
    report = LoadReport()
    report.changes["territory"] = await repository.upsert(
        session, Territory, "siren", [_territory_row(dataset.territory)]
    )
    report.changes["commune"] = await repository.upsert(
        session,
        Commune,
        "insee",
        [
            {
                "insee": c.insee,
                "name": c.name,
                "siren": c.siren,
                "population": c.population,
                "boundary": c.boundary,
            }
            for c in dataset.communes
        ],
    )
    nodes = list(_nodes(dataset.plan))
    parent_ids: dict[str, int] = {}
    parent_column = {"ambition": "axis_id", "objective": "ambition_id", "action": "objective_id"}
    for level, model in LEVELS:
        rows = []
        for node_level, node, parent in nodes:
            if node_level != level:
                continue
            row = _node_row(node)
            if parent is not None:
                row[parent_column[level]] = parent_ids[parent]
            rows.append(row)
        report.changes[level] = await repository.upsert(session, model, "code", rows)
        parent_ids = await repository.ids_by_code(session, model, [row["code"] for row in rows])
    action_ids = parent_ids
    pairs = {
        (action_ids[node.code], insee)
        for level, node, _ in nodes
        if isinstance(node, ActionFile)
        for insee in node.communes
    }
    report.changes["action_commune"] = await repository.sync_action_communes(
        session, list(action_ids.values()), pairs
    )
    return report
