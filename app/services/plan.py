"""The plan as published: pages of each level, details with their context, the whole tree."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.models.plan import ACTION_STATUS_LABELS_FR, Action, ActionStatus, Ambition, Axis, Objective
from app.models.territory import Territory
from app.repositories import plan as repository
from app.repositories import territory as territory_repository
from app.repositories.plan import NodeFilters
from app.schemas.common import Page
from app.schemas.plan import (
    ActionDetail,
    ActionOut,
    AmbitionCounts,
    AmbitionDetail,
    AmbitionOut,
    AmbitionTree,
    AxisCounts,
    AxisDetail,
    AxisOut,
    AxisTree,
    CommuneRef,
    NodeRef,
    ObjectiveCounts,
    ObjectiveDetail,
    ObjectiveOut,
    ObjectiveTree,
    PlanTree,
)
from app.schemas.territory import LevelCount, PlanCounts
from app.services.pagination import decode_cursor, encode_cursor

LEVEL_NAMES = {Axis: "axis", Ambition: "ambition", Objective: "objective", Action: "action"}


def _base(row: RowMapping) -> dict[str, Any]:
    return {
        "code": row["code"],
        "title": row["title"],
        "description": row["description"],
        "source_excerpt": row["source_excerpt"],
        "updated_at": row["updated_at"],
    }


def axis_out(row: RowMapping) -> AxisOut:
    counts = AxisCounts(
        ambitions=row["ambition_count"],
        objectives=row["objective_count"],
        actions=row["action_count"],
    )
    return AxisOut(**_base(row), counts=counts)


def ambition_out(row: RowMapping) -> AmbitionOut:
    counts = AmbitionCounts(objectives=row["objective_count"], actions=row["action_count"])
    return AmbitionOut(**_base(row), axis_code=row["axis_code"], counts=counts)


def objective_out(row: RowMapping) -> ObjectiveOut:
    return ObjectiveOut(
        **_base(row),
        axis_code=row["axis_code"],
        ambition_code=row["ambition_code"],
        counts=ObjectiveCounts(actions=row["action_count"]),
    )


def action_out(row: RowMapping) -> ActionOut:
    status = ActionStatus(row["status"]) if row["status"] else None
    return ActionOut(
        **_base(row),
        axis_code=row["axis_code"],
        ambition_code=row["ambition_code"],
        objective_code=row["objective_code"],
        status=status,
        status_label_fr=ACTION_STATUS_LABELS_FR[status] if status else None,
        status_excerpt=row["status_excerpt"],
        lead=row["lead"],
        partners=list(row["partners"]),
        communes=list(row["communes"]),
        start_date=row["start_date"],
        start_date_precision=row["start_date_precision"],
        end_date=row["end_date"],
        geometry=orjson.loads(row["geometry"]) if row["geometry"] else None,
    )


async def _page(
    session: AsyncSession,
    model: type[Axis | Ambition | Objective | Action],
    convert: Any,
    filters: NodeFilters,
    cursor: str | None,
    limit: int,
) -> Page[Any]:
    """One page in code order; one extra row tells whether a next page exists (no COUNT)."""
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.list_nodes(session, model, filters, after=after, limit=limit + 1)
    next_cursor = encode_cursor(rows[limit - 1]["code"]) if len(rows) > limit else None
    return Page(items=[convert(row) for row in rows[:limit]], next_cursor=next_cursor)


async def list_axes(
    session: AsyncSession, filters: NodeFilters, cursor: str | None, limit: int
) -> Page[AxisOut]:
    return await _page(session, Axis, axis_out, filters, cursor, limit)


async def list_ambitions(
    session: AsyncSession, filters: NodeFilters, cursor: str | None, limit: int
) -> Page[AmbitionOut]:
    return await _page(session, Ambition, ambition_out, filters, cursor, limit)


async def list_objectives(
    session: AsyncSession, filters: NodeFilters, cursor: str | None, limit: int
) -> Page[ObjectiveOut]:
    return await _page(session, Objective, objective_out, filters, cursor, limit)


async def list_actions(
    session: AsyncSession, filters: NodeFilters, cursor: str | None, limit: int
) -> Page[ActionOut]:
    return await _page(session, Action, action_out, filters, cursor, limit)


async def _node(
    session: AsyncSession, model: type[Axis | Ambition | Objective | Action], code: str
) -> RowMapping:
    row = await repository.get_node(session, model, code)
    if row is None:
        raise NotFoundError(f"No {LEVEL_NAMES[model]} with code '{code}'.")
    return row


async def _refs(
    session: AsyncSession, model: type[Axis | Ambition | Objective], code: str
) -> NodeRef:
    titles = await repository.titles(session, model, [code])
    return NodeRef(code=code, title=titles[code])


async def get_axis(session: AsyncSession, code: str) -> AxisDetail:
    row = await _node(session, Axis, code)
    children = await repository.list_nodes(session, Ambition, NodeFilters(axis=code))
    return AxisDetail(
        **axis_out(row).model_dump(), ambitions=[ambition_out(child) for child in children]
    )


async def get_ambition(session: AsyncSession, code: str) -> AmbitionDetail:
    row = await _node(session, Ambition, code)
    children = await repository.list_nodes(session, Objective, NodeFilters(ambition=code))
    return AmbitionDetail(
        **ambition_out(row).model_dump(),
        axis=await _refs(session, Axis, row["axis_code"]),
        objectives=[objective_out(child) for child in children],
    )


async def get_objective(session: AsyncSession, code: str) -> ObjectiveDetail:
    row = await _node(session, Objective, code)
    children = await repository.list_nodes(session, Action, NodeFilters(objective=code))
    return ObjectiveDetail(
        **objective_out(row).model_dump(),
        axis=await _refs(session, Axis, row["axis_code"]),
        ambition=await _refs(session, Ambition, row["ambition_code"]),
        actions=[action_out(child) for child in children],
    )


async def get_action(session: AsyncSession, code: str) -> ActionDetail:
    row = await _node(session, Action, code)
    action = action_out(row)
    communes = await repository.commune_names(session, action.communes)
    return ActionDetail(
        **action.model_dump(),
        axis=await _refs(session, Axis, row["axis_code"]),
        ambition=await _refs(session, Ambition, row["ambition_code"]),
        objective=await _refs(session, Objective, row["objective_code"]),
        commune_details=[CommuneRef(insee=c["insee"], name=c["name"]) for c in communes],
    )


def plan_counts(territory: Territory, loaded: dict[str, int]) -> PlanCounts:
    """Declared counts (from the source document) beside the counts actually published."""
    return PlanCounts(
        axes=LevelCount(declared=territory.declared_axes, loaded=loaded["axis"]),
        ambitions=LevelCount(declared=territory.declared_ambitions, loaded=loaded["ambition"]),
        objectives=LevelCount(declared=territory.declared_objectives, loaded=loaded["objective"]),
        actions=LevelCount(declared=territory.declared_actions, loaded=loaded["action"]),
        excerpt=territory.declared_counts_excerpt,
    )


def _group(items: Sequence[Any], key: str) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        groups[getattr(item, key)].append(item)
    return groups


async def plan_tree(session: AsyncSession) -> PlanTree:
    """The whole plan in one nested document: four queries, assembled here."""
    territory = await territory_repository.get_territory(session)
    if territory is None:
        raise NotFoundError("No territory is loaded yet.")
    axes = [axis_out(row) for row in await repository.list_nodes(session, Axis)]
    ambitions = [ambition_out(row) for row in await repository.list_nodes(session, Ambition)]
    objectives = [objective_out(row) for row in await repository.list_nodes(session, Objective)]
    actions = [action_out(row) for row in await repository.list_nodes(session, Action)]
    actions_by_objective = _group(actions, "objective_code")
    objectives_by_ambition = _group(
        [
            ObjectiveTree(**o.model_dump(), actions=actions_by_objective.get(o.code, []))
            for o in objectives
        ],
        "ambition_code",
    )
    ambitions_by_axis = _group(
        [
            AmbitionTree(**a.model_dump(), objectives=objectives_by_ambition.get(a.code, []))
            for a in ambitions
        ],
        "axis_code",
    )
    return PlanTree(
        territory=NodeRef(code=territory.siren, title=territory.name),
        counts=plan_counts(
            territory,
            {
                "axis": len(axes),
                "ambition": len(ambitions),
                "objective": len(objectives),
                "action": len(actions),
            },
        ),
        axes=[
            AxisTree(**a.model_dump(), ambitions=ambitions_by_axis.get(a.code, [])) for a in axes
        ],
    )
