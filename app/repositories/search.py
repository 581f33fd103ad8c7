"""Full-text search in French with accents ignored (the french_unaccent configuration), ranked,
with highlighted fragments. Each searchable dataset is a source: a SELECT of its matching rows
with the same columns, so that the sources are searched as one UNION ALL and paged by keyset on
(rank, dataset, sort key).

The lists' filters apply to every source they make sense for, and leave out the others:

- `commune`: plan records concerning it (through the actions below them), milestones of an
  action concerning it, initiatives located in it, indicators with values for it.
- `axis`, `ambition`, `objective`, `action` (a record of the plan): that record and the plan
  records below it (a level above the filter's is left out), milestones of an action within it,
  indicators measuring a record within it (the indicators list's `node`); for initiatives the
  axis is their `category` (as in their list), and the other three take those linked to an
  action within.
- `status` (an action status): actions with it; every other source is left out.
- `bbox`, `near` (as in the initiatives list): initiatives and located actions that lie there;
  every other source is left out.
- `updated_since`: records whose own fields changed since, in every source.

Budget lines are not searched: their only text is an optional comment on figures, and a reader
finds them through their action. Milestones are: their titles name public steps ("Ouverture de
la Popschool"). They have no GIN index (a few per action: the planner reads the table anyway).
"""

import re
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
    exists,
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

from app.models.follow_up import Indicator, IndicatorValue, Milestone
from app.models.initiative import Initiative, InitiativeStatus, initiative_action
from app.models.plan import Action, Ambition, Axis, Objective
from app.repositories.indicator import measures_node
from app.repositories.initiative import degree_margins
from app.repositories.plan import _concerns_commune

CONFIGURATION = "french_unaccent"
HEADLINE = (
    "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=12, MaxFragments=2, "
    'FragmentDelimiter=" … "'
)
TITLE_HEADLINE = "StartSel=<mark>, StopSel=</mark>, HighlightAll=true"
LEVELS = ("axis", "ambition", "objective", "action")


@dataclass(frozen=True)
class Near:
    longitude: float
    latitude: float
    metres: float


@dataclass(frozen=True)
class SearchFilters:
    """The lists' filters; a source that cannot satisfy one is left out of the search."""

    datasets: Sequence[str] | None = None
    commune: str | None = None
    axis: str | None = None
    ambition: str | None = None
    objective: str | None = None
    action: str | None = None
    statuses: Sequence[str] | None = None
    updated_since: datetime | None = None
    bbox: tuple[float, float, float, float] | None = (
        None  # WGS84: min lon, min lat, max lon, max lat
    )
    near: Near | None = None

    def scope(self) -> list[tuple[int, str]]:
        """The plan codes given (axis, ambition, objective, action), with their depth (1-4)."""
        codes = (self.axis, self.ambition, self.objective, self.action)
        return [(depth, code) for depth, code in enumerate(codes, start=1) if code]

    @property
    def located(self) -> bool:
        return self.bbox is not None or self.near is not None


def _config() -> ColumnElement[Any]:
    # Constants, not bound values: the GIN indexes match the expression only so.
    return literal_column(f"'{CONFIGURATION}'::regconfig")


# A run of `-` that websearch_to_tsquery reads as nested negations: each `-` at the start of a
# word, separated only by what its parser skips there (spaces and the characters of to_tsquery's
# operators). 33 of them overflow the parser's stack of 32 operators ("tsquery stack too small").
_NEGATIONS = re.compile(r"(?<![^ \t\n\r\f\v!&|()<])-(?:[ \t\n\r\f\v!&|()<]*-)+")


def websearch_text(text: str) -> str:
    """The text with each run of negations reduced to what it means: one `-` when their number
    is odd, none when it is even (not not x is x)."""
    return _NEGATIONS.sub(lambda run: "-" if run.group().count("-") % 2 else " ", text)


def tsquery(text: str) -> ColumnElement[Any]:
    """Web-search syntax: words, "quoted phrases", OR, -excluded; never a syntax error."""
    return func.websearch_to_tsquery(_config(), websearch_text(text))


def document(title: Any, description: Any) -> ColumnElement[Any]:
    """The same expression as the GIN indexes of the publication migration (so they serve)."""
    weight_a: ColumnElement[Any] = literal_column("'A'::\"char\"")
    weight_b: ColumnElement[Any] = literal_column("'B'::\"char\"")
    empty: ColumnElement[Any] = literal_column("''::text")
    return func.setweight(func.to_tsvector(_config(), title), weight_a).op("||")(
        func.setweight(func.to_tsvector(_config(), func.coalesce(description, empty)), weight_b)
    )


def _located(geometry: Any, filters: SearchFilters) -> list[ColumnElement[bool]]:
    """The geometry intersects the bbox and lies within `near`'s distance (on the spheroid)."""
    clauses: list[ColumnElement[bool]] = []
    if filters.bbox is not None:
        envelope = func.ST_MakeEnvelope(*filters.bbox, 4326)
        clauses.append(func.ST_Intersects(geometry, envelope))
    if filters.near is not None:
        near = filters.near
        dlon, dlat = degree_margins(near.latitude, near.metres)
        point = func.ST_SetSRID(func.ST_MakePoint(near.longitude, near.latitude), 4326)
        clauses.append(geometry.op("&&")(func.ST_Expand(point, dlon, dlat)))
        clauses.append(
            func.ST_DWithin(func.geography(geometry), func.geography(point), near.metres, True)
        )
    return clauses


def _within(code_column: Any, depth: int, code: str) -> ColumnElement[bool]:
    """An action's code lies within the record of that code and depth (codes nest: 1.2.3.4
    is under 1.2.3, 1.2 and 1)."""
    if depth >= 4:
        return code_column == code  # type: ignore[no-any-return]
    return code_column.startswith(code + ".", autoescape=True)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SearchSource:
    """A searchable dataset: `build` gives its matching rows as (key, title, description,
    document, sort_key, updated_at), or None when a filter excludes the whole source; `path`
    gives a hit's API path from its key (else the dataset's record_path)."""

    dataset: str
    build: Callable[[SearchFilters], Select[Any] | None]
    path: Callable[[str], str] | None = None


PlanModel = type[Axis | Ambition | Objective | Action]
_DEPTH: dict[PlanModel, int] = {Axis: 1, Ambition: 2, Objective: 3, Action: 4}
_MODELS: dict[int, PlanModel] = {depth: model for model, depth in _DEPTH.items()}


def _plan_scope(query: Select[Any], depth: int, filters: SearchFilters) -> Select[Any]:
    """Join the levels above the one at `depth` (its table already in the query) and keep the
    records within the codes the filters give."""
    if depth >= 4:
        query = query.join(Objective, Objective.id == Action.objective_id)
    if depth >= 3:
        query = query.join(Ambition, Ambition.id == Objective.ambition_id)
    if depth >= 2:
        query = query.join(Axis, Axis.id == Ambition.axis_id)
    for level, code in filters.scope():
        query = query.where(_MODELS[level].code == code)
    return query


def _plan_source(model: PlanModel) -> Callable[[SearchFilters], Select[Any] | None]:
    depth = _DEPTH[model]

    def build(filters: SearchFilters) -> Select[Any] | None:
        # A filter deeper than the level excludes it (an axis is under no ambition), and so do
        # those only actions have: a status, a location.
        deepest = max((level for level, _ in filters.scope()), default=0)
        if deepest > depth or ((filters.statuses or filters.located) and model is not Action):
            return None
        query = select(
            model.code.label("key"),
            model.title.label("title"),
            model.description.label("description"),
            document(model.title, model.description).label("document"),
            cast(model.code_path, ARRAY(BigInteger)).label("sort_key"),
            model.updated_at.label("updated_at"),
        )
        query = _plan_scope(query, depth, filters)
        if filters.statuses:
            query = query.where(Action.status.in_(filters.statuses))
        if filters.located:
            query = query.where(Action.geometry.is_not(None), *_located(Action.geometry, filters))
        if filters.commune:
            query = query.where(_concerns_commune(model, filters.commune))
        if filters.updated_since:
            query = query.where(model.updated_at >= filters.updated_since)
        return query

    return build


def _milestone_source(filters: SearchFilters) -> Select[Any] | None:
    """The steps of the actions' timelines; they take their place in the plan from their action.
    A status filter leaves them out: theirs is the status the action takes at the step."""
    if filters.statuses or filters.located:
        return None
    query = select(
        Milestone.milestone_key.label("key"),
        Milestone.title.label("title"),
        Milestone.description.label("description"),
        document(Milestone.title, Milestone.description).label("document"),
        array([Milestone.id]).label("sort_key"),
        Milestone.updated_at.label("updated_at"),
    ).join(Action, Action.id == Milestone.action_id)
    if filters.scope():
        query = _plan_scope(query, 4, filters)
    if filters.commune:
        query = query.where(_concerns_commune(Action, filters.commune))
    if filters.updated_since:
        query = query.where(Milestone.updated_at >= filters.updated_since)
    return query


def _milestone_path(key: str) -> str:
    return f"/v1/actions/{key.rpartition('-')[0]}/milestones"


def _initiative_source(filters: SearchFilters) -> Select[Any] | None:
    """Published initiatives; their axis is their category, and an ambition, objective or action
    takes those linked to an action within it. (Never the private contact.)"""
    if filters.statuses:
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
    linked = [
        _within(initiative_action.c.action_code, level, code)
        for level, code in filters.scope()
        if level > 1
    ]
    if linked:
        query = query.where(
            exists(
                select(literal(1)).where(
                    initiative_action.c.initiative_id == Initiative.id, *linked
                )
            )
        )
    if filters.located:
        query = query.where(*_located(Initiative.geometry, filters))
    if filters.commune:
        query = query.where(Initiative.commune_insee == filters.commune)
    if filters.updated_since:
        query = query.where(Initiative.updated_at >= filters.updated_since)
    return query


def _indicator_source(filters: SearchFilters) -> Select[Any] | None:
    """Indicators; a plan code takes those measuring a record within it (the list's `node`), a
    commune those with values for it."""
    if filters.statuses or filters.located:
        return None
    query = select(
        Indicator.code.label("key"),
        Indicator.name.label("title"),
        Indicator.description.label("description"),
        document(Indicator.name, Indicator.description).label("document"),
        array([Indicator.id]).label("sort_key"),
        Indicator.updated_at.label("updated_at"),
    )
    for _, code in filters.scope():
        query = query.where(measures_node(code))
    if filters.commune:
        query = query.where(
            exists(
                select(literal(1)).where(
                    IndicatorValue.indicator_id == Indicator.id,
                    IndicatorValue.commune_insee == filters.commune,
                )
            )
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

    def get(self, dataset: str) -> SearchSource | None:
        return next((source for source in self.sources if source.dataset == dataset), None)


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
# Last: a source's position is part of the search cursors already handed out.
SOURCES.register(SearchSource("milestones", _milestone_source, _milestone_path))


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
