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
from shapely import wkt
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.initiative import InitiativeStatus, LocationPrecision
from app.models.territory import Territory
from app.repositories import dataset as repository
from app.repositories.dataset import Changes
from app.schemas.common import INSEE_PATTERN
from app.schemas.dataset import (
    ActionFile,
    IndicatorsFile,
    InitiativeFile,
    InitiativesFile,
    NodeFile,
    PlanFile,
    TerritoryFile,
)
from app.schemas.geometry import (
    InvalidGeometryError,
    TerritoryArea,
    ewkt,
    territory_area,
    validate_geometry,
)
from app.services import plan_data
from app.services.plan_data import (
    BudgetRecord,
    IndicatorRecord,
    Known,
    MilestoneRecord,
    NodeRecord,
    PlanData,
    ValueRecord,
)
from app.services.spreadsheet_reading import parse_values_csv

TERRITORY_FILE = "territory.yaml"
PLAN_FILE = "plan.yaml"
INDICATORS_FILE = "indicators.yaml"  # optional
INITIATIVES_FILE = "initiatives.yaml"  # optional
ModelT = TypeVar("ModelT", bound=BaseModel)
DatasetProblem = plan_data.Problem
wkt_loads = wkt.loads


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
class InitiativeRecord:
    initiative: InitiativeFile
    geometry: str | None  # EWKT when given; None when placed on its commune


@dataclass(frozen=True)
class Dataset:
    territory: TerritoryFile
    plan: PlanFile
    communes: list[CommuneRecord]
    records: PlanData
    initiatives: list[InitiativeRecord] = field(default_factory=list)


@dataclass
class LoadReport:
    changes: dict[str, Changes] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deleted for c in self.changes.values())


normalize_space = plan_data.normalize_space


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


def _node_record(level: str, node: NodeFile, parent: str | None) -> NodeRecord:
    record = NodeRecord(
        level=level,
        code=node.code,
        parent=parent,
        title=node.title,
        file=PLAN_FILE,
        where=f"{level} {node.code}",
        description=node.description,
        source_excerpt=node.source_excerpt,
        weight=node.weight,
    )
    if isinstance(node, ActionFile):
        record.status = node.status.value if node.status else None
        record.status_excerpt = node.status_excerpt
        record.lead = node.lead
        record.partners = list(node.partners)
        record.communes = list(node.communes)
        record.start_date = node.start_date
        record.start_date_precision = (
            node.start_date_precision.value if node.start_date_precision else None
        )
        record.end_date = node.end_date
        record.progress = node.progress
    return record


def plan_records(plan: PlanFile, indicators: IndicatorsFile | None) -> PlanData:
    """The records the files describe, each with where it comes from."""
    data = PlanData()
    for level, node, parent in _nodes(plan):
        data.nodes.append(_node_record(level, node, parent))
        if not isinstance(node, ActionFile):
            continue
        for index, milestone in enumerate(node.milestones):
            data.milestones.append(
                MilestoneRecord(
                    action=node.code,
                    position=milestone.position,
                    milestone_date=milestone.date,
                    title=milestone.title,
                    file=PLAN_FILE,
                    where=f"action {node.code} milestones[{index}]",
                    date_precision=milestone.date_precision.value
                    if milestone.date_precision
                    else None,
                    description=milestone.description,
                    status=milestone.status.value if milestone.status else None,
                    reached=milestone.reached,
                    progress=milestone.progress,
                    source_excerpt=milestone.source_excerpt,
                )
            )
        for index, line in enumerate(node.budget):
            data.budget_lines.append(
                BudgetRecord(
                    action=node.code,
                    year=line.year,
                    nature=line.nature.value,
                    planned=line.planned,
                    actual=line.actual,
                    file=PLAN_FILE,
                    where=f"action {node.code} budget[{index}]",
                    comment=line.comment,
                    source_excerpt=line.source_excerpt,
                )
            )
    for indicator in indicators.indicators if indicators else []:
        where = f"indicator {indicator.code}"
        data.indicators.append(
            IndicatorRecord(
                code=indicator.code,
                name=indicator.name,
                unit=indicator.unit,
                file=INDICATORS_FILE,
                where=where,
                description=indicator.description,
                direction=indicator.direction.value if indicator.direction else None,
                frequency=indicator.frequency.value if indicator.frequency else None,
                source_producer=indicator.source.producer,
                source_method=indicator.source.method,
                source_limits=indicator.source.limits,
                source_url=indicator.source.url,
                source_excerpt=indicator.source_excerpt,
                measures=list(indicator.measures),
            )
        )
        for index, value in enumerate(indicator.values):
            data.values.append(
                ValueRecord(
                    indicator=indicator.code,
                    kind=value.kind.value,
                    period_start=value.period_start,
                    period_end=value.period_end,
                    period_label=value.period_label,
                    value=value.value,
                    commune=value.commune,
                    comment=value.comment,
                    source=value.source,
                    source_excerpt=value.source_excerpt,
                    file=INDICATORS_FILE,
                    where=f"{where} values[{index}]",
                )
            )
    return data


def _check_initiatives(
    document: InitiativesFile,
    plan: PlanFile | None,
    communes: list[CommuneRecord],
    source_text: str | None,
    problems: list[DatasetProblem],
) -> list[InitiativeRecord]:
    axes = {axis.code for axis in plan.axes} if plan else set()
    actions = {node.code for level, node, _ in _nodes(plan) if level == "action"} if plan else set()
    members = {commune.insee for commune in communes}
    area: TerritoryArea | None = None
    if communes:
        area = territory_area(wkt_loads(c.boundary.split(";", 1)[1]) for c in communes)
    records: list[InitiativeRecord] = []
    seen: set[str] = set()
    for index, initiative in enumerate(document.initiatives):
        where = f"initiatives[{index}] {initiative.reference}"
        before = len(problems)

        def problem(message: str, where: str = where) -> None:
            problems.append(DatasetProblem(INITIATIVES_FILE, where, message))

        if initiative.reference in seen:
            problem("reference appears twice")
        seen.add(initiative.reference)
        if plan is not None and initiative.category not in axes:
            problem(f"category {initiative.category} is not an axis of the plan")
        for code in initiative.actions:
            if plan is not None and code not in actions:
                problem(f"action {code} is not an action of the plan")
        if len(set(initiative.actions)) != len(initiative.actions):
            problem("an action is listed twice")
        location = initiative.location
        geometry: str | None = None
        if (location.commune is None) == (location.geometry is None):
            problem("location: give either a commune or a geometry")
        elif location.commune is not None:
            if members and location.commune not in members:
                problem(f"location: commune {location.commune} is not a member commune")
            if location.precision not in (None, LocationPrecision.commune):
                problem("location: a record placed on its commune has precision 'commune'")
        else:
            if location.precision not in (LocationPrecision.exact, LocationPrecision.address):
                problem("location: a geometry needs precision 'exact' or 'address'")
            try:
                geometry = ewkt(validate_geometry(location.geometry, area))
            except InvalidGeometryError as error:
                problem(f"location.geometry: {error.detail}")
        excerpt = initiative.source_excerpt
        if source_text is not None and excerpt and normalize_space(excerpt) not in source_text:
            problem("not found in the source document", f"{where}.source_excerpt")
        if len(problems) == before:
            records.append(InitiativeRecord(initiative, geometry))
    return records


def read_dataset(folder: Path) -> Dataset:
    """Parse and check a dataset folder; raise DatasetError listing every problem found."""
    problems: list[DatasetProblem] = []
    territory = _validate(
        TerritoryFile, _read_yaml(folder / TERRITORY_FILE, problems), TERRITORY_FILE, problems
    )
    plan = _validate(PlanFile, _read_yaml(folder / PLAN_FILE, problems), PLAN_FILE, problems)
    indicators: IndicatorsFile | None = None
    if (folder / INDICATORS_FILE).exists():
        indicators = _validate(
            IndicatorsFile,
            _read_yaml(folder / INDICATORS_FILE, problems),
            INDICATORS_FILE,
            problems,
        )
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
    records = PlanData()
    if plan is not None:
        records = plan_records(plan, indicators)
        if indicators is not None and indicators.values_csv:
            more = parse_values_csv(folder / indicators.values_csv, indicators.values_csv)
            problems.extend(more.problems)
            records.values.extend(more.data.values)
        known = Known(communes={c.insee for c in communes})
        problems.extend(plan_data.check(records, known, source_text))
    initiatives: list[InitiativeRecord] = []
    if (folder / INITIATIVES_FILE).exists():
        document = _validate(
            InitiativesFile,
            _read_yaml(folder / INITIATIVES_FILE, problems),
            INITIATIVES_FILE,
            problems,
        )
        if document is not None:
            initiatives = _check_initiatives(document, plan, communes, source_text, problems)
    if problems or territory is None or plan is None:
        raise DatasetError(problems)
    return Dataset(
        territory=territory,
        plan=plan,
        communes=communes,
        records=records,
        initiatives=initiatives,
    )


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
        "synthetic": territory.synthetic,
    }


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
    report.changes |= await plan_data.write(session, dataset.records)
    await _load_initiatives(session, dataset, report)
    return report


async def _load_initiatives(session: AsyncSession, dataset: Dataset, report: LoadReport) -> None:
    rows = [_initiative_row(record) for record in dataset.initiatives]
    report.changes["initiative"] = await repository.upsert_initiatives(session, rows)
    ids = await repository.initiative_ids(session, [row["reference"] for row in rows])
    pairs = {
        (ids[record.initiative.reference], code)
        for record in dataset.initiatives
        for code in record.initiative.actions
    }
    report.changes["initiative_action"] = await repository.sync_initiative_actions(
        session, list(ids.values()), pairs
    )


def _initiative_row(record: InitiativeRecord) -> dict[str, Any]:
    initiative = record.initiative
    location = initiative.location
    precision = location.precision or LocationPrecision.commune
    return {
        "reference": initiative.reference,
        "title": initiative.title,
        "description": initiative.description,
        "category": initiative.category,
        "status": initiative.status.value,
        "published": initiative.status in (InitiativeStatus.published, InitiativeStatus.archived),
        "location_precision": precision.value,
        "author_name": initiative.author_name,
        "source_excerpt": initiative.source_excerpt,
        "commune": location.commune,
        "geometry": record.geometry,
    }
