"""Full-text search in French with accents ignored (the french_unaccent configuration), ranked,
with highlighted fragments. Each searchable dataset is a source: a SELECT of its matching rows
with the same columns, so that the sources are searched as one UNION ALL and paged by keyset on
(rank, dataset, sort key)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    Text,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.follow_up import Indicator
from app.models.initiative import Initiative, InitiativeStatus
from app.models.plan import Action, Ambition, Axis, Objective
from app.repositories.plan import _concerns_commune

CONFIGURATION = "french_unaccent"
HEADLINE = (
    "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=12, MaxFragments=2, "
    'FragmentDelimiter=" … "'
)
TITLE_HEADLINE = "StartSel=<mark>, StopSel=</mark>, HighlightAll=true"


@dataclass(frozen=True)
class SearchFilters:
    """The lists' filters; a source that cannot satisfy one is left out of the search."""

    datasets: Sequence[str] | None = None
    commune: str | None = None
    axis: str | None = None
    ambition: str | None = None
    objective: str | None = None
    statuses: Sequence[str] | None = None
    updated_since: datetime | None = None


def _config() -> ColumnElement[Any]:
    # Constants, not bound values: the GIN indexes match the expression only so.
    return literal_column(f"'{CONFIGURATION}'::regconfig")


def tsquery(text: str) -> ColumnElement[Any]:
    """Web-search syntax: words, "quoted phrases", OR, -excluded; never a syntax error."""
    return func.websearch_to_tsquery(_config(), text)


def document(title: Any, description: Any) -> ColumnElement[Any]:
    """The same expression as the GIN indexes of the publication migration (so they serve)."""
    weight_a: ColumnElement[Any] = literal_column("'A'::\"char\"")
    weight_b: ColumnElement[Any] = literal_column("'B'::\"char\"")
    empty: ColumnElement[Any] = literal_column("''::text")
    return func.setweight(func.to_tsvector(_config(), title), weight_a).op("||")(
        func.setweight(func.to_tsvector(_config(), func.coalesce(description, empty)), weight_b)
    )


@dataclass(frozen=True)
class SearchSource:
    """A searchable dataset: `build` gives its matching rows as (key, title, description,
    document, sort_key, updated_at), or None when a filter excludes the whole source."""

    dataset: str
    build: Callable[[SearchFilters], Select[Any] | None]


PlanModel = type[Axis | Ambition | Objective | Action]
_DEPTH: dict[PlanModel, int] = {Axis: 1, Ambition: 2, Objective: 3, Action: 4}


def _plan_source(model: PlanModel) -> Callable[[SearchFilters], Select[Any] | None]:
    depth = _DEPTH[model]

    def build(filters: SearchFilters) -> Select[Any] | None:
        # A parent filter deeper than the level excludes it (an axis is under no ambition).
        wanted = {
            "axis": filters.axis,
            "ambition": filters.ambition,
            "objective": filters.objective,
        }
        deepest = max((i + 1 for i, key in enumerate(wanted) if wanted[key]), default=0)
        if deepest > depth or (filters.statuses and model is not Action):
            return None
        query = select(
            model.code.label("key"),
            model.title.label("title"),
            model.description.label("description"),
            document(model.title, model.description).label("document"),
            cast(model.code_path, ARRAY(BigInteger)).label("sort_key"),
            model.updated_at.label("updated_at"),
        )
        if depth >= 4:
            query = query.join(Objective, Objective.id == Action.objective_id)
        if depth >= 3:
            query = query.join(Ambition, Ambition.id == Objective.ambition_id)
        if depth >= 2:
            query = query.join(Axis, Axis.id == Ambition.axis_id)
        if filters.axis:
            query = query.where(Axis.code == filters.axis)
        if filters.ambition:
            query = query.where(Ambition.code == filters.ambition)
        if filters.objective:
            query = query.where(Objective.code == filters.objective)
        if filters.statuses:
            query = query.where(Action.status.in_(filters.statuses))
        if filters.commune:
            query = query.where(_concerns_commune(model, filters.commune))
        if filters.updated_since:
            query = query.where(model.updated_at >= filters.updated_since)
        return query

    return build


def _initiative_source(filters: SearchFilters) -> Select[Any] | None:
    """Published initiatives; their axis is their category. (Never the private contact.)"""
    if filters.ambition or filters.objective or filters.statuses:
        return None
    query = select(
        cast(Initiative.id, Text).label("key"),
        Initiative.title.label("title"),
        Initiative.description.label("description"),
        document(Initiative.title, Initiative.description).label("document"),
        array([Initiative.id]).label("sort_key"),
        Initiative.updated_at.label("updated_at"),
    ).where(Initiative.status == InitiativeStatus.published.value)
    if filters.axis:
        query = query.where(Initiative.category == filters.axis)
    if filters.commune:
        query = query.where(Initiative.commune_insee == filters.commune)
    if filters.updated_since:
        query = query.where(Initiative.updated_at >= filters.updated_since)
    return query


def _indicator_source(filters: SearchFilters) -> Select[Any] | None:
    if filters.axis or filters.ambition or filters.objective or filters.statuses:
        return None
    if filters.commune:
        return None
    query = select(
        Indicator.code.label("key"),
        Indicator.name.label("title"),
        Indicator.description.label("description"),
        document(Indicator.name, Indicator.description).label("document"),
        array([Indicator.id]).label("sort_key"),
        Indicator.updated_at.label("updated_at"),
    )
    if filters.updated_since:
        query = query.where(Indicator.updated_at >= filters.updated_since)
    return query


@dataclass
class SearchSources:
    sources: list[SearchSource] = field(default_factory=list)

    def register(self, source: SearchSource) -> None:
        self.sources.append(source)

    def datasets(self) -> list[str]:
        return [source.dataset for source in self.sources]


SOURCES = SearchSources()
for _dataset, _model in (
    ("axes", Axis),
    ("ambitions", Ambition),
    ("objectives", Objective),
    ("actions", Action),
):
    SOURCES.register(SearchSource(_dataset, _plan_source(_model)))
SOURCES.register(SearchSource("initiatives", _initiative_source))
SOURCES.register(SearchSource("indicators", _indicator_source))


@dataclass(frozen=True)
class Hit:
    dataset: str
    key: str
    title: str
    rank: float
    order: int
    sort_key: list[int]
    updated_at: datetime
    title_highlight: str | None
    description_highlight: str | None


def _escaped(text: Any) -> ColumnElement[Any]:
    return func.replace(func.replace(func.replace(text, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")


async def has_terms(session: AsyncSession, text: str) -> bool:
    """Whether the text leaves anything to search once stop words and punctuation are gone."""
    result = await session.execute(select(func.numnode(tsquery(text))))
    return bool(result.scalar_one())


async def search(
    session: AsyncSession,
    text: str,
    filters: SearchFilters,
    *,
    after: tuple[float, int, list[int]] | None,
    limit: int,
) -> list[Hit]:
    query = tsquery(text)
    parts = []
    for order, source in enumerate(SOURCES.sources):
        if filters.datasets and source.dataset not in filters.datasets:
            continue
        built = source.build(filters)
        if built is None:
            continue
        matches = built.subquery()
        parts.append(
            select(
                literal(source.dataset).label("dataset"),
                literal(order, Integer).label("dataset_order"),
                matches.c.key,
                matches.c.title,
                matches.c.description,
                cast(func.ts_rank_cd(matches.c.document, query), Float).label("rank"),
                matches.c.sort_key,
                matches.c.updated_at,
            ).where(matches.c.document.op("@@")(query))
        )
    if not parts:
        return []
    hits = union_all(*parts).subquery("hits")
    ranked = select(hits)
    if after is not None:
        rank, order, sort_key = after
        ranked = ranked.where(
            or_(
                hits.c.rank < rank,
                (hits.c.rank == rank)
                & (
                    tuple_(hits.c.dataset_order, hits.c.sort_key)
                    > tuple_(literal(order), type_coerce(sort_key, ARRAY(BigInteger)))
                ),
            )
        )
    page = (
        ranked.order_by(hits.c.rank.desc(), hits.c.dataset_order, hits.c.sort_key)
        .limit(limit)
        .subquery("page")
    )
    statement = select(
        page.c.dataset,
        page.c.key,
        page.c.title,
        page.c.rank,
        page.c.dataset_order,
        page.c.sort_key,
        page.c.updated_at,
        func.ts_headline(_config(), _escaped(page.c.title), query, TITLE_HEADLINE),
        func.ts_headline(_config(), _escaped(page.c.description), query, HEADLINE),
    ).order_by(page.c.rank.desc(), page.c.dataset_order, page.c.sort_key)
    result = await session.execute(statement)
    return [
        Hit(
            dataset=row[0],
            key=row[1],
            title=row[2],
            rank=row[3],
            order=row[4],
            sort_key=list(row[5]),
            updated_at=row[6],
            title_highlight=row[7],
            description_highlight=row[8],
        )
        for row in result
    ]
