"""Each published dataset's row source: a SELECT with one labelled column per published column
(typed: dates are dates, arrays are arrays, geometries are geometries) and an `_order` column
giving a stable order. Only the dataset's own fields and the permanent codes of what it links to."""

from typing import Any

from sqlalchemy import Numeric, Select, Text, case, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased

from app.models.commune import Commune
from app.models.follow_up import INDICATOR_LINKS, BudgetLine, Indicator, IndicatorValue, Milestone
from app.models.initiative import Initiative, InitiativeStatus
from app.models.initiative import initiative_action as initiative_action_table
from app.models.plan import ACTION_STATUS_LABELS_FR, Action, Ambition, Axis, Objective
from app.models.plan import action_commune as action_commune_table
from app.models.territory import Territory
from app.repositories.publication_columns import GEOJSON_DECIMALS, ORDER

# The columns published under their own attribute's name, in the order a dataset lists them.
_TEXT = ("title", "description", "source_excerpt", "updated_at")


def _named(model: Any, *names: str) -> list[Any]:
    """The model's columns `names`, each labelled with its own name."""
    return [getattr(model, name).label(name) for name in names]


def territory_rows() -> Select[Any]:
    columns: list[Any] = [
        *_named(Territory, "siren", "name", "short_name", "kind", "website", "address", "phone"),
        *_named(Territory, "licence_title", "licence_url", "attribution", "source_title"),
        Territory.updated_at.label("updated_at"),
        Territory.siren.label(ORDER),
    ]
    return select(*columns)


def commune_rows() -> Select[Any]:
    point = func.ST_PointOnSurface(Commune.boundary)
    return select(
        *_named(Commune, "insee", "name", "siren", "population"),
        func.round(cast(func.ST_X(point), Numeric), GEOJSON_DECIMALS).label("longitude"),
        func.round(cast(func.ST_Y(point), Numeric), GEOJSON_DECIMALS).label("latitude"),
        Commune.updated_at.label("updated_at"),
        Commune.boundary.label("boundary"),
        Commune.insee.label(ORDER),
    )


def _node_columns(model: type[Axis | Ambition | Objective | Action]) -> list[Any]:
    return [model.code.label("code")]


def _node_text(model: type[Axis | Ambition | Objective | Action]) -> list[Any]:
    return [*_named(model, *_TEXT), model.code_path.label(ORDER)]


def axis_rows() -> Select[Any]:
    return select(*_node_columns(Axis), *_node_text(Axis))


def ambition_rows() -> Select[Any]:
    return select(
        *_node_columns(Ambition), Axis.code.label("axis_code"), *_node_text(Ambition)
    ).join(Axis, Axis.id == Ambition.axis_id)


def objective_rows() -> Select[Any]:
    return (
        select(
            *_node_columns(Objective),
            Axis.code.label("axis_code"),
            Ambition.code.label("ambition_code"),
            *_node_text(Objective),
        )
        .join(Ambition, Ambition.id == Objective.ambition_id)
        .join(Axis, Axis.id == Ambition.axis_id)
    )


def action_rows() -> Select[Any]:
    link = aliased(action_commune_table)
    communes = _codes(link.c.commune_insee, link.c.action_id == Action.id)
    label_fr = case(
        *(
            (Action.status == status.value, literal(label))
            for status, label in ACTION_STATUS_LABELS_FR.items()
        ),
        else_=None,
    )
    return (
        select(
            Action.code.label("code"),
            Axis.code.label("axis_code"),
            Ambition.code.label("ambition_code"),
            Objective.code.label("objective_code"),
            *_named(Action, "title", "description", "status"),
            label_fr.label("status_label_fr"),
            *_named(Action, "status_excerpt", "lead", "partners"),
            communes.label("communes"),
            *_named(Action, "start_date", "start_date_precision", "end_date", "geometry"),
            *_named(Action, "source_excerpt", "updated_at"),
            Action.code_path.label(ORDER),
        )
        .join(Objective, Objective.id == Action.objective_id)
        .join(Ambition, Ambition.id == Objective.ambition_id)
        .join(Axis, Axis.id == Ambition.axis_id)
    )


def _codes(column: Any, where: Any, model: Any = None, on: Any = None) -> Any:
    """The sorted array of linked codes (empty, not null, when there is none)."""
    query = select(
        func.coalesce(
            func.array_agg(aggregate_order_by(column, column)),
            cast(literal_column("'{}'"), Action.partners.type),
        )
    )
    if model is not None:
        query = query.select_from(model).join(on[0], on[1])
    return query.where(where).scalar_subquery()


def initiative_rows() -> Select[Any]:
    """Published initiatives only. The private `contact` column is never selected."""
    link = aliased(initiative_action_table)
    columns: list[Any] = [
        cast(Initiative.id, Text).label("id"),
        *_named(Initiative, "reference", "title", "description", "category", "commune_insee"),
        *_named(Initiative, "location_precision", "address", "author_name", "support_count"),
        _codes(link.c.action_code, link.c.initiative_id == Initiative.id).label("actions"),
        *_named(Initiative, "source_excerpt", "published_at", "updated_at", "geometry"),
        Initiative.id.label(ORDER),
    ]
    return select(*columns).where(Initiative.status == InitiativeStatus.published.value)


def _indicator_links(level: str, model: type[Ambition | Objective | Action]) -> Any:
    link = INDICATOR_LINKS[level]
    return _codes(
        model.code,
        link.c.indicator_id == Indicator.id,
        link,
        (model, model.id == link.c[f"{level}_id"]),
    )


def indicator_rows() -> Select[Any]:
    columns: list[Any] = [
        *_named(Indicator, "code", "name", "description", "unit", "direction", "frequency"),
        *_named(Indicator, "source_producer", "source_method", "source_limits", "source_url"),
        Indicator.source_excerpt.label("source_excerpt"),
        _indicator_links("ambition", Ambition).label("ambitions"),
        _indicator_links("objective", Objective).label("objectives"),
        _indicator_links("action", Action).label("actions"),
        Indicator.updated_at.label("updated_at"),
        Indicator.code.label(ORDER),
    ]
    return select(*columns)


def indicator_value_rows() -> Select[Any]:
    columns: list[Any] = [
        cast(IndicatorValue.id, Text).label("id"),
        Indicator.code.label("indicator_code"),
        *_named(IndicatorValue, "kind", "period_start", "period_end", "period_label", "value"),
        *_named(IndicatorValue, "commune_insee", "comment", "source", "source_excerpt"),
        IndicatorValue.updated_at.label("updated_at"),
        IndicatorValue.id.label(ORDER),
    ]
    return select(*columns).join(Indicator, Indicator.id == IndicatorValue.indicator_id)


def budget_line_rows() -> Select[Any]:
    columns: list[Any] = [
        BudgetLine.line_key.label("line_key"),
        Action.code.label("action_code"),
        *_named(BudgetLine, "year", "nature", "planned", "actual", "comment"),
        *_named(BudgetLine, "source_excerpt", "updated_at"),
        BudgetLine.line_key.label(ORDER),
    ]
    return select(*columns).join(Action, Action.id == BudgetLine.action_id)


def milestone_rows() -> Select[Any]:
    columns: list[Any] = [
        Milestone.milestone_key.label("milestone_key"),
        Action.code.label("action_code"),
        *_named(Milestone, "position", "milestone_date", "date_precision", "title"),
        *_named(Milestone, "description", "status", "reached", "progress"),
        *_named(Milestone, "source_excerpt", "updated_at"),
        Milestone.milestone_key.label(ORDER),
    ]
    return select(*columns).join(Action, Action.id == Milestone.action_id)
