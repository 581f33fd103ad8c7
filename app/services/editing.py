"""Editing the plan and its follow-up: the rules each write obeys, the same as the dataset
loader's and the spreadsheet import's (codes extend their parent's, parents exist, member
communes only, dates and periods ordered, checked geometries), each refusal naming its field.

Codes and keys are permanent public identifiers: set at creation, never changed (a PATCH may
repeat them). A record's parent follows from its code (1.2.3 is under 1.2), so a cycle cannot
be written. Deleting a plan record that still has children is a 409; an action takes its own
follow-up with it (milestones, budget lines, its communes, indicator and initiative links), an
indicator its values and links. Each deletion is one transaction, restorable (see deletions).
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
from app.schemas.editing import (
    ActionFields,
    BudgetCreate,
    BudgetLineRecord,
    BudgetPatch,
    IndicatorCreate,
    IndicatorPatch,
    IndicatorValueOut,
    MilestoneCreate,
    MilestonePatch,
    MilestoneRecord,
    NodeCreate,
    NodePatch,
    ValueCreate,
    ValuePatch,
)
from app.schemas.geometry import (
    InvalidGeometryError,
    ewkt,
    territory_area,
    validate_geometry,
)
from app.services.plan_data import PERCENT_UNIT


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


async def serialise(session: AsyncSession) -> None:
    """Take every dataset's version lock, in one order, before anything else: editors' writes
    then run one after the other and never deadlock (a write bumps several datasets in the
    order of its statements, and a PATCH's If-Match locks those its page reads)."""
    await lock_dataset_versions(session, None)


NOT_NULL = ("title", "weight", "name", "unit", "kind", "value", "date", "reached")


def _not_null(given: dict[str, Any]) -> None:
    nulls = {name: "may not be null" for name in NOT_NULL if name in given and given[name] is None}
    if nulls:
        raise InvalidBodyError(nulls)


async def _not_reused(session: AsyncSession, table: str, code: str) -> None:
    # A public code names one record forever: a deleted one is restored, not replaced.
    deletion = await repository.unrestored_deletion(session, table, code)
    if deletion is not None:
        raise ConflictError(
            f"The code {code} belonged to a record deleted by deletion {deletion}; codes are "
            f"never reused: restore it (POST /v1/deletions/{deletion}/restore) or pick another."
        )


async def _node(session: AsyncSession, level: Level, code: str) -> RowMapping:
    found = await repository.row(session, level.table, level.table.c.code == code)
    if found is None:
        raise NotFoundError(f"No {level.name} with code '{code}'.")
    return found


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


async def create_node(session: AsyncSession, level: Level, body: NodeCreate) -> str:
    given = body.given()
    code = body.code
    depth = code.count(".") + 1
    if depth != level.depth:
        raise InvalidBodyError(
            {"code": f"a {level.name} code has {level.depth} dot-separated numbers, not {depth}"}
        )
    values: dict[str, Any] = {
        name: given[name]
        for name in ("title", "description", "source_excerpt", "weight")
        if name in given
    }
    _not_null(values)
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
    await _not_reused(session, level.name, code)
    created = await repository.insert_row(session, level.table, {"code": code, **values})
    if level is ACTIONS:
        await _sync_communes(session, created["id"], given)
    return code


async def update_node(session: AsyncSession, level: Level, code: str, body: NodePatch) -> None:
    current = await _node(session, level, code)
    given = body.given()
    _not_null(given)
    if "code" in given and given["code"] != code:
        raise InvalidBodyError({"code": "codes are permanent: create a new record instead"})
    if "parent" in given:
        expected = code.rsplit(".", 1)[0] if level.parent else None
        if given["parent"] != expected:
            raise InvalidBodyError(
                {"parent": f"the parent follows from the code ({expected}); it cannot change"}
            )
    values: dict[str, Any] = {
        name: given[name]
        for name in ("title", "description", "source_excerpt", "weight")
        if name in given
    }
    if level is ACTIONS:
        values.update(await _action_fields(session, given, current))
    await repository.update_row(session, level.table, current["id"], values)
    if level is ACTIONS:
        await _sync_communes(session, current["id"], given)


async def delete_node(session: AsyncSession, level: Level, code: str, path: str) -> None:
    current = await _node(session, level, code)
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


# --- indicators and their values ------------------------------------------------------------

INDICATORS = cast(Table, Indicator.__table__)
VALUES = cast(Table, IndicatorValue.__table__)
BUDGET = cast(Table, BudgetLine.__table__)
MILESTONES = cast(Table, Milestone.__table__)
INITIATIVES = cast(Table, Initiative.__table__)
INDICATOR_COLUMNS = (
    "name",
    "description",
    "unit",
    "direction",
    "frequency",
    "source_producer",
    "source_method",
    "source_limits",
    "source_url",
    "source_excerpt",
)


async def _indicator(session: AsyncSession, code: str) -> RowMapping:
    found = await repository.row(session, INDICATORS, INDICATORS.c.code == code)
    if found is None:
        raise NotFoundError(f"No indicator with code '{code}'.")
    return found


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in values.items()}


async def _sync_measures(session: AsyncSession, indicator_id: int, codes: list[str]) -> None:
    wanted: dict[str, set[tuple[int, Any]]] = {name: set() for name in INDICATOR_LINKS}
    unknown: list[str] = []
    for code in dict.fromkeys(codes):
        level = BY_DEPTH[code.count(".") + 1]
        if level.name not in INDICATOR_LINKS:
            unknown.append(f"{code} (an axis is measured through its ambitions)")
            continue
        node = await repository.row(session, level.table, level.table.c.code == code)
        if node is None:
            unknown.append(code)
        else:
            wanted[level.name].add((indicator_id, node["id"]))
    if unknown:
        raise InvalidBodyError(
            {"measures": f"no ambition, objective or action {', '.join(unknown)}"}
        )
    for name, link in INDICATOR_LINKS.items():
        await dataset_repository.sync_links(
            session, link, "indicator_id", f"{name}_id", [indicator_id], wanted[name]
        )


async def create_indicator(session: AsyncSession, body: IndicatorCreate) -> str:
    given = body.given()
    values = _plain({k: v for k, v in given.items() if k in INDICATOR_COLUMNS})
    if await repository.exists(session, INDICATORS, INDICATORS.c.code == body.code):
        raise ConflictError(f"The indicator {body.code} exists already; codes are never reused.")
    await _not_reused(session, "indicator", body.code)
    created = await repository.insert_row(session, INDICATORS, {"code": body.code, **values})
    await _sync_measures(session, created["id"], body.measures or [])
    return body.code


async def update_indicator(session: AsyncSession, code: str, body: IndicatorPatch) -> None:
    current = await _indicator(session, code)
    given = body.given()
    _not_null(given)
    if "code" in given and given["code"] != code:
        raise InvalidBodyError({"code": "codes are permanent: create a new indicator instead"})
    values = _plain({k: v for k, v in given.items() if k in INDICATOR_COLUMNS})
    if values.get("unit") == PERCENT_UNIT and current["unit"] != PERCENT_UNIT:
        outside = await repository.exists(
            session, VALUES, VALUES.c.indicator_id == current["id"], ~VALUES.c.value.between(0, 100)
        )
        if outside:
            raise InvalidBodyError({"unit": "'%' needs every value between 0 and 100"})
    await repository.update_row(session, INDICATORS, current["id"], values)
    if "measures" in given:
        await _sync_measures(session, current["id"], given["measures"] or [])


async def delete_indicator(session: AsyncSession, code: str, path: str) -> None:
    current = await _indicator(session, code)
    mark = await repository.audit_mark(session)
    for link in INDICATOR_LINKS.values():
        await repository.delete_rows(session, link, link.c.indicator_id == current["id"])
    await repository.delete_rows(session, VALUES, VALUES.c.indicator_id == current["id"])
    await repository.delete_rows(session, INDICATORS, INDICATORS.c.id == current["id"])
    await repository.record_deletion(session, mark, "indicator", code, path)


def value_record(row: RowMapping, indicator: str) -> IndicatorValueOut:
    return IndicatorValueOut(
        id=row["id"],
        indicator=indicator,
        kind=row["kind"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        period_label=row["period_label"],
        value=float(row["value"]),
        commune=row["commune_insee"],
        comment=row["comment"],
        source=row["source"],
        source_excerpt=row["source_excerpt"],
    )


async def _value(session: AsyncSession, code: str, value_id: int) -> tuple[RowMapping, RowMapping]:
    indicator = await _indicator(session, code)
    found = await repository.row(
        session, VALUES, VALUES.c.id == value_id, VALUES.c.indicator_id == indicator["id"]
    )
    if found is None:
        raise NotFoundError(f"The indicator {code} has no value {value_id}.")
    return indicator, found


async def get_value(session: AsyncSession, code: str, value_id: int) -> IndicatorValueOut:
    _, found = await _value(session, code, value_id)
    return value_record(found, code)


async def _value_columns(
    session: AsyncSession, indicator: RowMapping, given: dict[str, Any], current: RowMapping | None
) -> dict[str, Any]:
    values = _plain({("commune_insee" if k == "commune" else k): v for k, v in given.items()})

    def merged(name: str) -> Any:
        return values[name] if name in values else (current[name] if current else None)

    problems: dict[str, str] = {}
    start, end, label = merged("period_start"), merged("period_end"), merged("period_label")
    if start is None and label is None:
        problems["period_start"] = "give a date (period_start) or a period_label"
    if end is not None and start is None:
        problems["period_end"] = "a period_end needs a period_start"
    elif end is not None and end < start:
        problems["period_end"] = f"{end} precedes period_start {start}"
    commune = values.get("commune_insee")
    if commune is not None and commune not in await repository.member_communes(session):
        problems["commune"] = f"{values['commune_insee']} is not a member commune"
    value = merged("value")
    if indicator["unit"] == PERCENT_UNIT and value is not None and not 0 <= value <= 100:
        problems["value"] = "the unit is '%': a value from 0 to 100"
    if problems:
        raise InvalidBodyError(problems)
    return values


async def _same_point_taken(
    session: AsyncSession, values: dict[str, Any], skip: int | None
) -> None:
    conditions = [
        VALUES.c[name].is_not_distinct_from(values.get(name))
        for name in (
            "indicator_id",
            "kind",
            "commune_insee",
            "period_start",
            "period_end",
            "period_label",
        )
    ]
    if skip is not None:
        conditions.append(VALUES.c.id != skip)
    if await repository.exists(session, VALUES, *conditions):
        raise ConflictError("The series has a value for this kind, commune and period already.")


async def create_value(session: AsyncSession, code: str, body: ValueCreate) -> int:
    indicator = await _indicator(session, code)
    values = await _value_columns(session, indicator, body.given(), None)
    values["indicator_id"] = indicator["id"]
    await _same_point_taken(session, values, None)
    created = await repository.insert_row(session, VALUES, values)
    return int(created["id"])


async def update_value(session: AsyncSession, code: str, value_id: int, body: ValuePatch) -> None:
    indicator, current = await _value(session, code, value_id)
    given = body.given()
    _not_null(given)
    values = await _value_columns(session, indicator, given, current)
    await _same_point_taken(session, {**dict(current), **values}, value_id)
    await repository.update_row(session, VALUES, value_id, values)


async def delete_value(session: AsyncSession, code: str, value_id: int, path: str) -> None:
    _, current = await _value(session, code, value_id)
    mark = await repository.audit_mark(session)
    await repository.delete_rows(session, VALUES, VALUES.c.id == current["id"])
    await repository.record_deletion(session, mark, "indicator_value", str(value_id), path)


# --- budget lines and milestones --------------------------------------------------------------


async def _action(session: AsyncSession, code: str) -> RowMapping:
    return await _node(session, ACTIONS, code)


def budget_record(row: RowMapping, action: str) -> BudgetLineRecord:
    return BudgetLineRecord(
        key=row["line_key"],
        action=action,
        year=row["year"],
        nature=row["nature"],
        planned=None if row["planned"] is None else float(row["planned"]),
        actual=None if row["actual"] is None else float(row["actual"]),
        comment=row["comment"],
        source_excerpt=row["source_excerpt"],
    )


async def _budget_line(session: AsyncSession, code: str, key: str) -> RowMapping:
    action = await _action(session, code)
    found = await repository.row(
        session, BUDGET, BUDGET.c.line_key == key, BUDGET.c.action_id == action["id"]
    )
    if found is None:
        raise NotFoundError(f"The action {code} has no budget line {key}.")
    return found


async def get_budget_line(session: AsyncSession, code: str, key: str) -> BudgetLineRecord:
    return budget_record(await _budget_line(session, code, key), code)


async def create_budget_line(session: AsyncSession, code: str, body: BudgetCreate) -> str:
    action = await _action(session, code)
    values = _plain(body.given())
    taken = await repository.exists(
        session,
        BUDGET,
        BUDGET.c.action_id == action["id"],
        BUDGET.c.year == body.year,
        BUDGET.c.nature == body.nature.value,
    )
    if taken:
        raise ConflictError(
            f"The action {code} has a {body.nature.value} line for {body.year} already: PATCH it."
        )
    # line_key is set by a trigger; a placeholder satisfies NOT NULL until then.
    created = await repository.insert_row(
        session, BUDGET, {**values, "action_id": action["id"], "line_key": ""}
    )
    return str(created["line_key"])


async def update_budget_line(session: AsyncSession, code: str, key: str, body: BudgetPatch) -> None:
    current = await _budget_line(session, code, key)
    await repository.update_row(session, BUDGET, current["id"], _plain(body.given()))


async def delete_budget_line(session: AsyncSession, code: str, key: str, path: str) -> None:
    current = await _budget_line(session, code, key)
    mark = await repository.audit_mark(session)
    await repository.delete_rows(session, BUDGET, BUDGET.c.id == current["id"])
    await repository.record_deletion(session, mark, "budget_line", key, path)


def milestone_record(row: RowMapping, action: str) -> MilestoneRecord:
    return MilestoneRecord(
        key=row["milestone_key"],
        action=action,
        position=row["position"],
        date=row["milestone_date"],
        date_precision=row["date_precision"],
        title=row["title"],
        description=row["description"],
        status=row["status"],
        reached=row["reached"],
        progress=None if row["progress"] is None else float(row["progress"]),
        source_excerpt=row["source_excerpt"],
    )


async def _milestone(session: AsyncSession, code: str, key: str) -> RowMapping:
    action = await _action(session, code)
    found = await repository.row(
        session,
        MILESTONES,
        MILESTONES.c.milestone_key == key,
        MILESTONES.c.action_id == action["id"],
    )
    if found is None:
        raise NotFoundError(f"The action {code} has no milestone {key}.")
    return found


async def get_milestone(session: AsyncSession, code: str, key: str) -> MilestoneRecord:
    return milestone_record(await _milestone(session, code, key), code)


def _milestone_columns(given: dict[str, Any]) -> dict[str, Any]:
    values = _plain(given)
    if "date" in values:
        values["milestone_date"] = values.pop("date")
    return values


async def create_milestone(session: AsyncSession, code: str, body: MilestoneCreate) -> str:
    _not_null(body.given())
    action = await _action(session, code)
    taken = await repository.exists(
        session,
        MILESTONES,
        MILESTONES.c.action_id == action["id"],
        MILESTONES.c.position == body.position,
    )
    if taken:
        raise ConflictError(f"The action {code} has a milestone at position {body.position}.")
    created = await repository.insert_row(
        session,
        MILESTONES,
        {**_milestone_columns(body.given()), "action_id": action["id"], "milestone_key": ""},
    )
    return str(created["milestone_key"])


async def update_milestone(
    session: AsyncSession, code: str, key: str, body: MilestonePatch
) -> None:
    current = await _milestone(session, code, key)
    given = body.given()
    _not_null(given)
    await repository.update_row(session, MILESTONES, current["id"], _milestone_columns(given))


async def delete_milestone(session: AsyncSession, code: str, key: str, path: str) -> None:
    current = await _milestone(session, code, key)
    mark = await repository.audit_mark(session)
    await repository.delete_rows(session, MILESTONES, MILESTONES.c.id == current["id"])
    await repository.record_deletion(session, mark, "milestone", key, path)
