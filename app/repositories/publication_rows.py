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


def territory_rows() -> Select[Any]:
    columns: list[Any] = [
        Territory.siren.label("siren"),
        Territory.name.label("name"),
        Territory.short_name.label("short_name"),
        Territory.kind.label("kind"),
        Territory.website.label("website"),
        Territory.address.label("address"),
        Territory.phone.label("phone"),
        Territory.licence_title.label("licence_title"),
        Territory.licence_url.label("licence_url"),
        Territory.attribution.label("attribution"),
        Territory.source_title.label("source_title"),
        Territory.updated_at.label("updated_at"),
        Territory.siren.label(ORDER),
    ]
    return select(*columns)


def commune_rows() -> Select[Any]:
    point = func.ST_PointOnSurface(Commune.boundary)
    return select(
        Commune.insee.label("insee"),
        Commune.name.label("name"),
        Commune.siren.label("siren"),
        Commune.population.label("population"),
        func.round(cast(func.ST_X(point), Numeric), GEOJSON_DECIMALS).label("longitude"),
        func.round(cast(func.ST_Y(point), Numeric), GEOJSON_DECIMALS).label("latitude"),
        Commune.updated_at.label("updated_at"),
        Commune.boundary.label("boundary"),
        Commune.insee.label(ORDER),
    )


def _node_columns(model: type[Axis | Ambition | Objective | Action]) -> list[Any]:
    return [model.code.label("code")]


def _node_text(model: type[Axis | Ambition | Objective | Action]) -> list[Any]:
    return [
        model.title.label("title"),
        model.description.label("description"),
        model.source_excerpt.label("source_excerpt"),
        model.updated_at.label("updated_at"),
        model.code_path.label(ORDER),
    ]


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
    communes = (
        select(
            func.coalesce(
                func.array_agg(aggregate_order_by(link.c.commune_insee, link.c.commune_insee)),
                cast(literal_column("'{}'"), Action.partners.type),
            )
        )
        .where(link.c.action_id == Action.id)
        .scalar_subquery()
    )
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
            Action.title.label("title"),
            Action.description.label("description"),
            Action.status.label("status"),
            label_fr.label("status_label_fr"),
            Action.status_excerpt.label("status_excerpt"),
            Action.lead.label("lead"),
            Action.partners.label("partners"),
            communes.label("communes"),
            Action.start_date.label("start_date"),
            Action.start_date_precision.label("start_date_precision"),
            Action.end_date.label("end_date"),
            Action.geometry.label("geometry"),
            Action.source_excerpt.label("source_excerpt"),
            Action.updated_at.label("updated_at"),
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
        Initiative.reference.label("reference"),
        Initiative.title.label("title"),
        Initiative.description.label("description"),
        Initiative.category.label("category"),
        Initiative.commune_insee.label("commune_insee"),
        Initiative.location_precision.label("location_precision"),
        Initiative.address.label("address"),
        Initiative.author_name.label("author_name"),
        Initiative.support_count.label("support_count"),
        _codes(link.c.action_code, link.c.initiative_id == Initiative.id).label("actions"),
        Initiative.source_excerpt.label("source_excerpt"),
        Initiative.published_at.label("published_at"),
        Initiative.updated_at.label("updated_at"),
        Initiative.geometry.label("geometry"),
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
        Indicator.code.label("code"),
        Indicator.name.label("name"),
        Indicator.description.label("description"),
        Indicator.unit.label("unit"),
        Indicator.direction.label("direction"),
        Indicator.frequency.label("frequency"),
        Indicator.source_producer.label("source_producer"),
        Indicator.source_method.label("source_method"),
        Indicator.source_limits.label("source_limits"),
        Indicator.source_url.label("source_url"),
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
        IndicatorValue.kind.label("kind"),
        IndicatorValue.period_start.label("period_start"),
        IndicatorValue.period_end.label("period_end"),
        IndicatorValue.period_label.label("period_label"),
        IndicatorValue.value.label("value"),
        IndicatorValue.commune_insee.label("commune_insee"),
        IndicatorValue.comment.label("comment"),
        IndicatorValue.source.label("source"),
        IndicatorValue.source_excerpt.label("source_excerpt"),
        IndicatorValue.updated_at.label("updated_at"),
        IndicatorValue.id.label(ORDER),
    ]
    return select(*columns).join(Indicator, Indicator.id == IndicatorValue.indicator_id)


def budget_line_rows() -> Select[Any]:
    columns: list[Any] = [
        BudgetLine.line_key.label("line_key"),
        Action.code.label("action_code"),
        BudgetLine.year.label("year"),
        BudgetLine.nature.label("nature"),
        BudgetLine.planned.label("planned"),
        BudgetLine.actual.label("actual"),
        BudgetLine.comment.label("comment"),
        BudgetLine.source_excerpt.label("source_excerpt"),
        BudgetLine.updated_at.label("updated_at"),
        BudgetLine.line_key.label(ORDER),
    ]
    return select(*columns).join(Action, Action.id == BudgetLine.action_id)


def milestone_rows() -> Select[Any]:
    columns: list[Any] = [
        Milestone.milestone_key.label("milestone_key"),
        Action.code.label("action_code"),
        Milestone.position.label("position"),
        Milestone.milestone_date.label("milestone_date"),
        Milestone.date_precision.label("date_precision"),
        Milestone.title.label("title"),
        Milestone.description.label("description"),
        Milestone.status.label("status"),
        Milestone.reached.label("reached"),
        Milestone.progress.label("progress"),
        Milestone.source_excerpt.label("source_excerpt"),
        Milestone.updated_at.label("updated_at"),
        Milestone.milestone_key.label(ORDER),
    ]
    return select(*columns).join(Action, Action.id == Milestone.action_id)
