"""The searchable datasets, each a source: a SELECT of its matching rows with the same columns
(plan records, milestones, initiatives, indicators), registered in SOURCES in a fixed order."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Select, Text, cast, exists, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, array

from app.models.follow_up import Indicator, IndicatorValue, Milestone
from app.models.initiative import Initiative, InitiativeStatus, initiative_action
from app.models.plan import Action, Ambition, Axis, Objective
from app.repositories.indicator import measures_node
from app.repositories.plan import _concerns_commune
from app.repositories.search_terms import SearchFilters, document, place_conditions, within_code


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


def _hits(model: Any, key: Any, title: Any, sort_key: Any = None) -> Select[Any]:
    """A source's SELECT of the columns every source gives, in their order; its rows sort by id
    unless told otherwise."""
    return select(
        key.label("key"),
        title.label("title"),
        model.description.label("description"),
        document(title, model.description).label("document"),
        (array([model.id]) if sort_key is None else sort_key).label("sort_key"),
        model.updated_at.label("updated_at"),
    )


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
        sort_key = cast(model.code_path, ARRAY(BigInteger))
        query = _hits(model, model.code, model.title, sort_key)
        query = _plan_scope(query, depth, filters)
        if filters.statuses:
            query = query.where(Action.status.in_(filters.statuses))
        if filters.located:
            query = query.where(
                Action.geometry.is_not(None), *place_conditions(Action.geometry, filters)
            )
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
    query = _hits(Milestone, Milestone.milestone_key, Milestone.title).join(
        Action, Action.id == Milestone.action_id
    )
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
    query = _hits(Initiative, cast(Initiative.id, Text), Initiative.title).where(
        Initiative.status == InitiativeStatus.published.value
    )
    if filters.axis:
        query = query.where(Initiative.category == filters.axis)
    linked = [
        within_code(initiative_action.c.action_code, level, code)
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
        query = query.where(*place_conditions(Initiative.geometry, filters))
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
    query = _hits(Indicator, Indicator.code, Indicator.name)
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
