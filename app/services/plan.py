"""The plan as published: pages of each level, details with their context, the whole tree."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from app.schemas.follow_up import BudgetTotals
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
from app.services import follow_up
from app.services.pagination import decode_cursor, encode_cursor
from app.services.progress import RollUp, empty_budget, plan_budget, plan_roll_up

# Shared by every record without budget lines: the models are never mutated.
EMPTY_BUDGET = empty_budget()

LEVEL_NAMES = {Axis: "axis", Ambition: "ambition", Objective: "objective", Action: "action"}


@dataclass(frozen=True)
class Figures:
    """The progress roll-up and the budget totals of the whole plan, computed once per request."""

    roll_up: RollUp
    budgets: dict[str, BudgetTotals]
    territory_budget: BudgetTotals


async def figures(session: AsyncSession) -> Figures:
    budgets, territory_budget = await plan_budget(session)
    return Figures(await plan_roll_up(session), budgets, territory_budget)


def _base(row: RowMapping, figures: Figures) -> dict[str, Any]:
    code = row["code"]
    return {
        "code": code,
        "title": row["title"],
        "description": row["description"],
        "source_excerpt": row["source_excerpt"],
        "updated_at": row["updated_at"],
        "weight": float(row["weight"]),
        "progress": figures.roll_up.by_code[code],
        "budget": figures.budgets.get(code) or EMPTY_BUDGET,
    }


def axis_out(row: RowMapping, figures: Figures) -> AxisOut:
    counts = AxisCounts(
        ambitions=row["ambition_count"],
        objectives=row["objective_count"],
        actions=row["action_count"],
    )
    return AxisOut(**_base(row, figures), counts=counts)


def ambition_out(row: RowMapping, figures: Figures) -> AmbitionOut:
    counts = AmbitionCounts(objectives=row["objective_count"], actions=row["action_count"])
    return AmbitionOut(**_base(row, figures), axis_code=row["axis_code"], counts=counts)


def objective_out(row: RowMapping, figures: Figures) -> ObjectiveOut:
    return ObjectiveOut(
        **_base(row, figures),
        axis_code=row["axis_code"],
        ambition_code=row["ambition_code"],
        counts=ObjectiveCounts(actions=row["action_count"]),
    )


def action_out(row: RowMapping, figures: Figures) -> ActionOut:
    status = ActionStatus(row["status"]) if row["status"] else None
    return ActionOut(
        **_base(row, figures),
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
    convert: Callable[[RowMapping, Figures], Any],
    filters: NodeFilters,
    cursor: str | None,
    limit: int,
) -> Page[Any]:
    """One page in code order; one extra row tells whether a next page exists (no COUNT)."""
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.list_nodes(session, model, filters, after=after, limit=limit + 1)
    next_cursor = encode_cursor(rows[limit - 1]["code"]) if len(rows) > limit else None
    context = await figures(session)
    return Page(items=[convert(row, context) for row in rows[:limit]], next_cursor=next_cursor)


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
    context = await figures(session)
    return AxisDetail(
        **dict(axis_out(row, context)),
        ambitions=[ambition_out(child, context) for child in children],
    )


async def get_ambition(session: AsyncSession, code: str) -> AmbitionDetail:
    row = await _node(session, Ambition, code)
    children = await repository.list_nodes(session, Objective, NodeFilters(ambition=code))
    context = await figures(session)
    return AmbitionDetail(
        **dict(ambition_out(row, context)),
        axis=await _refs(session, Axis, row["axis_code"]),
        objectives=[objective_out(child, context) for child in children],
    )


async def get_objective(session: AsyncSession, code: str) -> ObjectiveDetail:
    row = await _node(session, Objective, code)
    children = await repository.list_nodes(session, Action, NodeFilters(objective=code))
    context = await figures(session)
    return ObjectiveDetail(
        **dict(objective_out(row, context)),
        axis=await _refs(session, Axis, row["axis_code"]),
        ambition=await _refs(session, Ambition, row["ambition_code"]),
        actions=[action_out(child, context) for child in children],
    )


async def get_action(session: AsyncSession, code: str) -> ActionDetail:
    row = await _node(session, Action, code)
    action = action_out(row, await figures(session))
    communes = await repository.commune_names(session, action.communes)
    return ActionDetail(
        **dict(action),
        axis=await _refs(session, Axis, row["axis_code"]),
        ambition=await _refs(session, Ambition, row["ambition_code"]),
        objective=await _refs(session, Objective, row["objective_code"]),
        commune_details=[CommuneRef(insee=c["insee"], name=c["name"]) for c in communes],
        milestones=await follow_up.milestones(session, code),
        budget_lines=await follow_up.budget_lines(session, code),
        indicators=await follow_up.indicators_of(session, Action, code),
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
    context = await figures(session)
    axes = [axis_out(row, context) for row in await repository.list_nodes(session, Axis)]
    ambitions = [
        ambition_out(row, context) for row in await repository.list_nodes(session, Ambition)
    ]
    objectives = [
        objective_out(row, context) for row in await repository.list_nodes(session, Objective)
    ]
    actions = [action_out(row, context) for row in await repository.list_nodes(session, Action)]
    actions_by_objective = _group(actions, "objective_code")
    objectives_by_ambition = _group(
        [
            ObjectiveTree.model_construct(**dict(o), actions=actions_by_objective.get(o.code, []))
            for o in objectives
        ],
        "ambition_code",
    )
    ambitions_by_axis = _group(
        [
            AmbitionTree.model_construct(
                **dict(a), objectives=objectives_by_ambition.get(a.code, [])
            )
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
        progress=context.roll_up.territory,
        budget=context.territory_budget,
        axes=[
            AxisTree.model_construct(**dict(a), ambitions=ambitions_by_axis.get(a.code, []))
            for a in axes
        ],
    )
