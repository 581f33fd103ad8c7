"""The initiatives of a dataset: checked against the plan and the territory, then written."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.initiative import InitiativeStatus, LocationPrecision
from app.repositories import dataset as repository
from app.schemas.dataset import InitiativesFile, PlanFile
from app.schemas.geometry import (
    InvalidGeometryError,
    TerritoryArea,
    ewkt,
    territory_area,
    validate_geometry,
)
from app.services.dataset_files import (
    INITIATIVES_FILE,
    CommuneRecord,
    Dataset,
    DatasetProblem,
    InitiativeRecord,
    LoadReport,
    wkt_loads,
)
from app.services.dataset_plan import plan_nodes
from app.services.plan_data_checks import normalize_space


def check_initiatives(
    document: InitiativesFile,
    plan: PlanFile | None,
    communes: list[CommuneRecord],
    source_text: str | None,
    problems: list[DatasetProblem],
) -> list[InitiativeRecord]:
    axes = {axis.code for axis in plan.axes} if plan else set()
    actions = (
        {node.code for level, node, _ in plan_nodes(plan) if level == "action"} if plan else set()
    )
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


async def load_initiatives(session: AsyncSession, dataset: Dataset, report: LoadReport) -> None:
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
