"""Queries over indicators and their values."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.follow_up import INDICATOR_LINKS, Indicator, IndicatorValue
from app.models.plan import Action, Ambition, Objective, PlanNodeMixin
from app.repositories.plan import escape_like

LEVEL_MODELS: dict[str, type[PlanNodeMixin]] = {
    "ambition": Ambition,
    "objective": Objective,
    "action": Action,
}


@dataclass(frozen=True)
class IndicatorFilters:
    q: str | None = None
    commune: str | None = None
    # A code of the plan: indicators measuring that record or one below it.
    node: str | None = None


@dataclass(frozen=True)
class ValueFilters:
    kinds: Sequence[str] | None = None
    commune: str | None = None
    since: date | None = None
    until: date | None = None
    territory_only: bool = False  # the territory's own series (values of no commune)


def _linked_codes(level: str) -> Any:
    link = INDICATOR_LINKS[level]
    model = LEVEL_MODELS[level]
    code = model.code
    return (
        select(
            func.coalesce(
                func.array_agg(aggregate_order_by(code, model.code_path)),
                literal([], ARRAY(String)),
            )
        )
        .select_from(link)
        .join(model, model.id == link.c[f"{level}_id"])
        .where(link.c.indicator_id == Indicator.id)
        .scalar_subquery()
    )


def _value_count() -> Any:
    return (
        select(func.count())
        .select_from(IndicatorValue)
        .where(IndicatorValue.indicator_id == Indicator.id)
        .scalar_subquery()
    )


def _indicators() -> Select[Any]:
    return select(
        *Indicator.__table__.c,
        _linked_codes("ambition").label("ambitions"),
        _linked_codes("objective").label("objectives"),
        _linked_codes("action").label("actions"),
        _value_count().label("value_count"),
    )


_QUERY = _indicators()


def measures_node(code: str) -> ColumnElement[bool]:
    """The indicator measures the record with this code, or one below it."""
    clauses = []
    for level, link in INDICATOR_LINKS.items():
        model = LEVEL_MODELS[level]
        below = (
            select(literal(1))
            .select_from(link)
            .join(model, model.id == link.c[f"{level}_id"])
            .where(
                link.c.indicator_id == Indicator.id,
                or_(model.code == code, model.code.startswith(code + ".", autoescape=True)),
            )
        )
        clauses.append(exists(below))
    return or_(*clauses)


def _where(filters: IndicatorFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [true()]
    if filters.q is not None:
        pattern = func.unaccent("%" + escape_like(filters.q) + "%")
        clauses.append(
            or_(
                Indicator.code == filters.q,
                func.unaccent(Indicator.name).ilike(pattern, escape="\\"),
                func.unaccent(func.coalesce(Indicator.description, "")).ilike(pattern, escape="\\"),
            )
        )
    if filters.commune is not None:
        clauses.append(
            exists(
                select(literal(1)).where(
                    IndicatorValue.indicator_id == Indicator.id,
                    IndicatorValue.commune_insee == filters.commune,
                )
            )
        )
    if filters.node is not None:
        clauses.append(measures_node(filters.node))
    return clauses


async def list_indicators(
    session: AsyncSession,
    filters: IndicatorFilters = IndicatorFilters(),
    *,
    after: str | None = None,
    limit: int | None = None,
) -> Sequence[RowMapping]:
    """Indicators in code order (bytewise), after the `after` code, at most `limit`."""
    ordered = Indicator.code.collate("C")
    query = _QUERY.where(*_where(filters))
    if after is not None:
        query = query.where(ordered > after)
    query = query.order_by(ordered)
    if limit is not None:
        query = query.limit(limit)
    rows: Sequence[RowMapping] = (await session.execute(query)).mappings().all()
    return rows


async def get_indicator(session: AsyncSession, code: str) -> RowMapping | None:
    query = _QUERY.where(Indicator.code == code)
    row: RowMapping | None = (await session.execute(query)).mappings().one_or_none()
    return row


def _value_columns() -> list[Any]:
    return [
        IndicatorValue.id,
        IndicatorValue.sort_date,
        IndicatorValue.kind,
        IndicatorValue.period_start,
        IndicatorValue.period_end,
        IndicatorValue.period_label,
        IndicatorValue.value,
        IndicatorValue.commune_insee.label("commune"),
        IndicatorValue.comment,
        IndicatorValue.source,
        IndicatorValue.source_excerpt,
    ]


async def list_values(
    session: AsyncSession,
    indicator_id: int,
    filters: ValueFilters = ValueFilters(),
    *,
    after: tuple[date, int] | None = None,
    limit: int | None = None,
) -> Sequence[RowMapping]:
    """Values of one indicator in chronological order (undated first), then by id."""
    clauses: list[ColumnElement[bool]] = [IndicatorValue.indicator_id == indicator_id]
    if filters.kinds:
        clauses.append(IndicatorValue.kind.in_(filters.kinds))
    if filters.commune is not None:
        clauses.append(IndicatorValue.commune_insee == filters.commune)
    elif filters.territory_only:
        clauses.append(IndicatorValue.commune_insee.is_(None))
    start = IndicatorValue.period_start
    end = func.coalesce(IndicatorValue.period_end, IndicatorValue.period_start)
    # A period filter keeps the values whose date or period overlaps it; undated ones go.
    if filters.since is not None:
        clauses.append(and_(start.is_not(None), end >= filters.since))
    if filters.until is not None:
        clauses.append(and_(start.is_not(None), start <= filters.until))
    if after is not None:
        clauses.append(tuple_(IndicatorValue.sort_date, IndicatorValue.id) > tuple_(*after))
    query = (
        select(*_value_columns())
        .where(*clauses)
        .order_by(IndicatorValue.sort_date, IndicatorValue.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return (await session.execute(query)).mappings().all()


async def series_for_progress(
    session: AsyncSession, indicator_id: int, commune: str | None
) -> Sequence[RowMapping]:
    """Results and targets of one series (the territory's when `commune` is None)."""
    query = (
        select(*_value_columns())
        .where(
            IndicatorValue.indicator_id == indicator_id,
            IndicatorValue.kind.in_(("result", "target")),
            IndicatorValue.commune_insee.is_(None)
            if commune is None
            else IndicatorValue.commune_insee == commune,
        )
        .order_by(IndicatorValue.sort_date, IndicatorValue.id)
    )
    return (await session.execute(query)).mappings().all()


async def value_communes(session: AsyncSession, indicator_id: int) -> list[str]:
    query = (
        select(IndicatorValue.commune_insee)
        .where(
            IndicatorValue.indicator_id == indicator_id,
            IndicatorValue.commune_insee.is_not(None),
        )
        .distinct()
        .order_by(IndicatorValue.commune_insee)
    )
    return [code for code in (await session.execute(query)).scalars() if code is not None]


async def indicators_measuring(
    session: AsyncSession, level: str, code: str
) -> Sequence[RowMapping]:
    """Indicators linked to exactly this record."""
    link = INDICATOR_LINKS[level]
    model = LEVEL_MODELS[level]
    query = (
        select(Indicator.code, Indicator.name, Indicator.unit)
        .join(link, link.c.indicator_id == Indicator.id)
        .join(model, model.id == link.c[f"{level}_id"])
        .where(model.code == code)
        .order_by(Indicator.code.collate("C"))
    )
    return (await session.execute(query)).mappings().all()
