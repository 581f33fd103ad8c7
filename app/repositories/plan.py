"""Queries over the plan: lists with filters and keyset paging, details, counts."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.models.commune import Commune
from app.models.plan import Action, Ambition, Axis, Objective, PlanNodeMixin, action_commune

EMPTY_TEXT_ARRAY = literal([], ARRAY(Text))


@dataclass(frozen=True)
class NodeFilters:
    """Filters the lists accept; each is ignored when None."""

    q: str | None = None
    commune: str | None = None
    axis: str | None = None
    ambition: str | None = None
    objective: str | None = None
    statuses: Sequence[str] | None = None
    updated_since: datetime | None = None


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(model: type[PlanNodeMixin], q: str) -> ColumnElement[bool]:
    """Accent- and case-insensitive substring match on title and description, or the exact code."""
    pattern = func.unaccent("%" + escape_like(q) + "%")
    return or_(
        model.code == q,
        func.unaccent(model.title).ilike(pattern, escape="\\"),
        func.unaccent(func.coalesce(model.description, "")).ilike(pattern, escape="\\"),
    )


def _below(model: type[PlanNodeMixin]) -> tuple[Select[Any], Any]:
    """COUNT(*) over the actions under the outer query's row of `model` (correlated), and the
    alias of the action table in it. Inner tables are aliases so the outer one is correlated."""
    action = aliased(Action)
    objective = aliased(Objective)
    ambition = aliased(Ambition)
    query = select(func.count()).select_from(action)
    if model is Action:
        return query.where(action.id == Action.id), action
    if model is Objective:
        return query.where(action.objective_id == Objective.id), action
    query = query.join(objective, objective.id == action.objective_id)
    if model is Ambition:
        return query.where(objective.ambition_id == Ambition.id), action
    query = query.join(ambition, ambition.id == objective.ambition_id)
    return query.where(ambition.axis_id == Axis.id), action


def _action_count(model: type[PlanNodeMixin]) -> Any:
    return _below(model)[0].scalar_subquery()


# Statements are built once: building them (aliases above all) costs more than running them.
_BELOW: dict[type[PlanNodeMixin], tuple[Select[Any], Any]] = {
    model: _below(model) for model in (Axis, Ambition, Objective, Action)
}


def _concerns_commune(model: type[PlanNodeMixin], insee: str) -> ColumnElement[bool]:
    query, action = _BELOW[model]
    linked = query.join(action_commune, action_commune.c.action_id == action.id).where(
        action_commune.c.commune_insee == insee
    )
    return exists(linked.with_only_columns(literal(1), maintain_column_froms=False))


def _common(model: type[PlanNodeMixin]) -> list[Any]:
    return [
        model.code,
        model.title,
        model.description,
        model.source_excerpt,
        model.updated_at,
        model.weight,
    ]


def _axes() -> Select[Any]:
    objective = aliased(Objective)
    ambition = aliased(Ambition)
    ambition_count = select(func.count()).select_from(ambition).where(ambition.axis_id == Axis.id)
    objective_count = (
        select(func.count())
        .select_from(objective)
        .join(ambition, ambition.id == objective.ambition_id)
        .where(ambition.axis_id == Axis.id)
    )
    return select(
        *_common(Axis),
        ambition_count.scalar_subquery().label("ambition_count"),
        objective_count.scalar_subquery().label("objective_count"),
        _action_count(Axis).label("action_count"),
    )


def _ambitions() -> Select[Any]:
    objective = aliased(Objective)
    objective_count = (
        select(func.count()).select_from(objective).where(objective.ambition_id == Ambition.id)
    )
    return select(
        *_common(Ambition),
        Axis.code.label("axis_code"),
        objective_count.scalar_subquery().label("objective_count"),
        _action_count(Ambition).label("action_count"),
    ).join(Axis, Axis.id == Ambition.axis_id)


def _objectives() -> Select[Any]:
    return (
        select(
            *_common(Objective),
            Axis.code.label("axis_code"),
            Ambition.code.label("ambition_code"),
            _action_count(Objective).label("action_count"),
        )
        .join(Ambition, Ambition.id == Objective.ambition_id)
        .join(Axis, Axis.id == Ambition.axis_id)
    )


def _actions() -> Select[Any]:
    insee = action_commune.c.commune_insee
    communes = (
        select(func.coalesce(func.array_agg(aggregate_order_by(insee, insee)), EMPTY_TEXT_ARRAY))
        .where(action_commune.c.action_id == Action.id)
        .scalar_subquery()
    )
    return (
        select(
            *_common(Action),
            Axis.code.label("axis_code"),
            Ambition.code.label("ambition_code"),
            Objective.code.label("objective_code"),
            Action.status,
            Action.status_excerpt,
            Action.lead,
            Action.partners,
            Action.start_date,
            Action.start_date_precision,
            Action.end_date,
            func.ST_AsGeoJSON(Action.geometry, 6).label("geometry"),
            communes.label("communes"),
        )
        .join(Objective, Objective.id == Action.objective_id)
        .join(Ambition, Ambition.id == Objective.ambition_id)
        .join(Axis, Axis.id == Ambition.axis_id)
    )


MODELS: dict[str, type[PlanNodeMixin]] = {
    "axis": Axis,
    "ambition": Ambition,
    "objective": Objective,
    "action": Action,
}

_QUERIES: dict[type[PlanNodeMixin], Select[Any]] = {
    Axis: _axes(),
    Ambition: _ambitions(),
    Objective: _objectives(),
    Action: _actions(),
}


def _where(model: type[PlanNodeMixin], filters: NodeFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [true()]
    if filters.q is not None:
        clauses.append(_contains(model, filters.q))
    if filters.commune is not None:
        clauses.append(_concerns_commune(model, filters.commune))
    if filters.axis is not None:
        clauses.append(Axis.code == filters.axis)
    if filters.ambition is not None:
        clauses.append(Ambition.code == filters.ambition)
    if filters.objective is not None:
        clauses.append(Objective.code == filters.objective)
    if filters.statuses:
        clauses.append(Action.status.in_(filters.statuses))
    if filters.updated_since is not None:
        clauses.append(model.updated_at >= filters.updated_since)
    return clauses


async def list_nodes(
    session: AsyncSession,
    model: type[PlanNodeMixin],
    filters: NodeFilters = NodeFilters(),
    *,
    after: list[int] | None = None,
    limit: int | None = None,
) -> Sequence[RowMapping]:
    """Rows of one level in code order, after the `after` code path, at most `limit` of them."""
    query = _QUERIES[model].where(*_where(model, filters))
    if after is not None:
        query = query.where(model.code_path > type_coerce(after, ARRAY(Integer)))
    query = query.order_by(model.code_path)
    if limit is not None:
        query = query.limit(limit)
    rows: Sequence[RowMapping] = (await session.execute(query)).mappings().all()
    return rows


async def get_node(
    session: AsyncSession, model: type[PlanNodeMixin], code: str
) -> RowMapping | None:
    query = _QUERIES[model].where(model.code == code)
    row: RowMapping | None = (await session.execute(query)).mappings().one_or_none()
    return row


async def titles(
    session: AsyncSession, model: type[PlanNodeMixin], codes: Sequence[str]
) -> dict[str, str]:
    result = await session.execute(select(model.code, model.title).where(model.code.in_(codes)))
    return dict(result.all())


async def commune_names(session: AsyncSession, codes: Sequence[str]) -> Sequence[RowMapping]:
    result = await session.execute(
        select(Commune.insee, Commune.name).where(Commune.insee.in_(codes)).order_by(Commune.insee)
    )
    return result.mappings().all()


async def count_nodes(session: AsyncSession) -> dict[str, int]:
    query = select(
        *(
            select(func.count()).select_from(model).scalar_subquery().label(model.__tablename__)
            for model in (Axis, Ambition, Objective, Action)
        )
    )
    return dict((await session.execute(query)).mappings().one())


async def action_status_counts(session: AsyncSession) -> list[tuple[str | None, int]]:
    result = await session.execute(
        select(Action.status, func.count()).group_by(Action.status).order_by(Action.status)
    )
    return list(result.all())
