"""Editing the plan and its follow-up: the rules each write obeys, the same as the dataset
loader's and the spreadsheet import's (codes extend their parent's, parents exist, member
communes only, dates and periods ordered, checked geometries), each refusal naming its field.

Codes and keys are permanent public identifiers: set at creation, never changed (a PATCH may
repeat them). A record's parent follows from its code (1.2.3 is under 1.2), so a cycle cannot
be written. Deleting a plan record that still has children is a 409; an action takes its own
follow-up with it (milestones, budget lines, its communes, indicator and initiative links), an
indicator its values and links. Each deletion is one transaction, restorable (see deletions).

Here: the levels of the plan and their nodes, with the checks every write shares; indicators and
values are in editing_indicators, budget lines and milestones in editing_follow_up.
"""

import enum
from dataclasses import dataclass
from typing import Any, cast

from shapely import wkt
from sqlalchemy import Table, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ConflictError, InvalidBodyError, NotFoundError
from app.models.follow_up import (
    INDICATOR_LINKS,
    BudgetLine,
    Indicator,
    IndicatorValue,
    Milestone,
    indicator_action,
)
from app.models.initiative import Initiative, initiative_action
from app.models.plan import Action, Ambition, Axis, Objective, PlanNodeMixin, action_commune
from app.repositories import dataset as dataset_repository
from app.repositories import editing as repository
from app.repositories.publication import lock_dataset_versions
from app.schemas.editing import ActionFields, NodeCreate, NodePatch
from app.schemas.geometry import InvalidGeometryError, ewkt, territory_area, validate_geometry


@dataclass(frozen=True)
class Level:
    collection: str  # the URL segment: /v1/<collection>/{code}
    name: str
    model: type[PlanNodeMixin]
    depth: int
    parent: "Level | None"
    parent_column: str | None

    @property
    def table(self) -> Table:
        table: Table = self.model.__table__  # type: ignore[attr-defined]
        return table


AXES = Level("axes", "axis", Axis, 1, None, None)
AMBITIONS = Level("ambitions", "ambition", Ambition, 2, AXES, "axis_id")
OBJECTIVES = Level("objectives", "objective", Objective, 3, AMBITIONS, "ambition_id")
ACTIONS = Level("actions", "action", Action, 4, OBJECTIVES, "objective_id")
LEVELS = {level.collection: level for level in (AXES, AMBITIONS, OBJECTIVES, ACTIONS)}
CHILD = {"axes": AMBITIONS, "ambitions": OBJECTIVES, "objectives": ACTIONS}
BY_DEPTH = {level.depth: level for level in LEVELS.values()}
# What a record of every level holds of its own (the action adds its fields, ActionFields).
NODE_FIELDS = ("title", "description", "source_excerpt", "weight")
INDICATORS = cast(Table, Indicator.__table__)
VALUES = cast(Table, IndicatorValue.__table__)
BUDGET = cast(Table, BudgetLine.__table__)
MILESTONES = cast(Table, Milestone.__table__)
INITIATIVES = cast(Table, Initiative.__table__)


async def serialise(session: AsyncSession) -> None:
    """Take every dataset's version lock, in one order, before anything else: editors' writes
    then run one after the other and never deadlock (a write bumps several datasets in the
    order of its statements, and a PATCH's If-Match locks those its page reads)."""
    await lock_dataset_versions(session, None)


NOT_NULL = ("title", "weight", "name", "unit", "kind", "value", "date", "reached")


def check_not_null(given: dict[str, Any]) -> None:
    nulls = {name: "may not be null" for name in NOT_NULL if name in given and given[name] is None}
    if nulls:
        raise InvalidBodyError(nulls)


async def check_code_not_reused(session: AsyncSession, table: str, code: str) -> None:
    # A public code names one record forever: a deleted one is restored, not replaced.
    deletion = await repository.unrestored_deletion(session, table, code)
    if deletion is not None:
        raise ConflictError(
            f"The code {code} belonged to a record deleted by deletion {deletion}; codes are "
            f"never reused: restore it (POST /v1/deletions/{deletion}/restore) or pick another."
        )


async def node_row(session: AsyncSession, level: Level, code: str) -> RowMapping:
    found = await repository.row(session, level.table, level.table.c.code == code)
    if found is None:
        raise NotFoundError(f"No {level.name} with code '{code}'.")
    return found


async def check_node(session: AsyncSession, level: Level, code: str) -> None:
    """404 unless the node exists (one row, without building its detail)."""
    await node_row(session, level, code)


async def _action_fields(
    session: AsyncSession, given: dict[str, Any], current: RowMapping | None
) -> dict[str, Any]:
    """The action's own columns from a body, checked against each other and the territory."""
    problems: dict[str, str] = {}
    values = {k: v for k, v in given.items() if k in ActionFields.model_fields}
    values.pop("communes", None)
    for listed in ("partners",):
        if listed in values and values[listed] is None:
            values[listed] = []
    if "status" in values and values["status"] is not None:
        values["status"] = values["status"].value
    if values.get("start_date_precision") is not None:
        values["start_date_precision"] = values["start_date_precision"].value

    def merged(name: str) -> Any:
        if name in values:
            return values[name]
        return current[name] if current is not None else None

    start, end = merged("start_date"), merged("end_date")
    if start is not None and end is not None and end < start:
        problems["end_date"] = f"{end} precedes start_date {start}"
    if merged("start_date_precision") is not None and start is None:
        problems["start_date_precision"] = "given without a start_date"
    if given.get("communes"):
        members = await repository.member_communes(session)
        unknown = [insee for insee in given["communes"] if insee not in members]
        if unknown:
            problems["communes"] = f"not member communes: {', '.join(unknown)}"
        elif len(set(given["communes"])) != len(given["communes"]):
            problems["communes"] = "a commune is listed twice"
    if values.get("geometry") is not None:
        boundaries = await repository.commune_boundaries(session)
        area = territory_area(wkt.loads(boundary) for boundary in boundaries)
        try:
            values["geometry"] = ewkt(validate_geometry(values["geometry"], area))
        except InvalidGeometryError as error:
            problems["geometry"] = error.detail
    if problems:
        raise InvalidBodyError(problems)
    return values


async def _sync_communes(session: AsyncSession, action_id: int, given: dict[str, Any]) -> None:
    if "communes" in given:
        pairs = {(action_id, insee) for insee in given["communes"] or []}
        await dataset_repository.sync_action_communes(session, [action_id], pairs)


def _own_fields(given: dict[str, Any]) -> dict[str, Any]:
    """The fields every level has of its own, as given in a body (creation or merge patch)."""
    return {name: given[name] for name in NODE_FIELDS if name in given}


async def create_node(session: AsyncSession, level: Level, body: NodeCreate) -> str:
    given = body.given()
    code = body.code
    depth = code.count(".") + 1
    if depth != level.depth:
        raise InvalidBodyError(
            {"code": f"a {level.name} code has {level.depth} dot-separated numbers, not {depth}"}
        )
    values = _own_fields(given)
    check_not_null(values)
    if level.parent is None:
        if body.parent is not None:
            raise InvalidBodyError({"parent": "an axis has no parent"})
    else:
        expected = code.rsplit(".", 1)[0]
        if body.parent is not None and body.parent != expected:
            raise InvalidBodyError(
                {"parent": f"code {code} is under {expected}, not {body.parent}"}
            )
        parent = await repository.row(
            session, level.parent.table, level.parent.table.c.code == expected
        )
        if parent is None:
            raise InvalidBodyError({"parent": f"no {level.parent.name} {expected}"})
        assert level.parent_column is not None
        values[level.parent_column] = parent["id"]
    if level is ACTIONS:
        values.update(await _action_fields(session, given, None))
    if await repository.exists(session, level.table, level.table.c.code == code):
        raise ConflictError(f"The {level.name} {code} exists already; codes are never reused.")
    await check_code_not_reused(session, level.name, code)
    created = await repository.insert_row(session, level.table, {"code": code, **values})
    if level is ACTIONS:
        await _sync_communes(session, created["id"], given)
    return code


async def update_node(session: AsyncSession, level: Level, code: str, body: NodePatch) -> None:
    current = await node_row(session, level, code)
    given = body.given()
    check_not_null(given)
    if "code" in given and given["code"] != code:
        raise InvalidBodyError({"code": "codes are permanent: create a new record instead"})
    if "parent" in given:
        expected = code.rsplit(".", 1)[0] if level.parent else None
        if given["parent"] != expected:
            raise InvalidBodyError(
                {"parent": f"the parent follows from the code ({expected}); it cannot change"}
            )
    values = _own_fields(given)
    if level is ACTIONS:
        values.update(await _action_fields(session, given, current))
    await repository.update_row(session, level.table, current["id"], values)
    if level is ACTIONS:
        await _sync_communes(session, current["id"], given)


async def delete_node(session: AsyncSession, level: Level, code: str, path: str) -> None:
    current = await node_row(session, level, code)
    mark = await repository.audit_mark(session)
    child = CHILD.get(level.collection)
    if child is not None:
        assert child.parent_column is not None
        count = await session.scalar(
            select(func.count())
            .select_from(child.table)
            .where(child.table.c[child.parent_column] == current["id"])
        )
        if count:
            raise ConflictError(
                f"The {level.name} {code} still has {count} {child.collection}: delete them first."
            )
    if level is AXES and await repository.exists(
        session, INITIATIVES, INITIATIVES.c.category == code
    ):
        raise ConflictError(f"Initiatives are filed under the axis {code}: refile them first.")
    node_id = current["id"]
    if level is ACTIONS:
        await repository.delete_rows(
            session, initiative_action, initiative_action.c.action_code == code
        )
        await repository.delete_rows(
            session, indicator_action, indicator_action.c.action_id == node_id
        )
        await repository.delete_rows(session, action_commune, action_commune.c.action_id == node_id)
        for table in (MILESTONES, BUDGET):
            await repository.delete_rows(session, table, table.c.action_id == node_id)
    elif level.name in INDICATOR_LINKS:
        link = INDICATOR_LINKS[level.name]
        await repository.delete_rows(session, link, link.c[f"{level.name}_id"] == node_id)
    await repository.delete_rows(session, level.table, level.table.c.id == node_id)
    await repository.record_deletion(session, mark, level.name, code, path)


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in values.items()}
