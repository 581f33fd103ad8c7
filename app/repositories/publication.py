"""SQL of the publication layer: each dataset's rows in their published form, the statements that
export them (CSV through COPY, JSON and GeoJSON built by PostgreSQL), and dataset versions.

A row source is a SELECT with one labelled column per published column (typed: dates are dates,
arrays are arrays, geometries are geometries) and an `_order` column giving a stable order. The
export statements wrap it and format every value in SQL, so Python only moves bytes.
"""

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import Subquery

from app.models.commune import Commune
from app.models.follow_up import INDICATOR_LINKS, BudgetLine, Indicator, IndicatorValue, Milestone
from app.models.initiative import Initiative, InitiativeStatus
from app.models.initiative import initiative_action as initiative_action_table
from app.models.plan import ACTION_STATUS_LABELS_FR, Action, Ambition, Axis, Objective
from app.models.plan import action_commune as action_commune_table
from app.models.publication import DatasetVersion
from app.models.territory import Territory

ColumnType = Literal[
    "string", "integer", "number", "boolean", "date", "datetime", "array", "geojson"
]
ORDER = "_order"
GEOJSON_DECIMALS = 6


@dataclass(frozen=True)
class OutputColumn:
    """A column as the export statements need it: its name and how to format it."""

    name: str
    type: ColumnType


RowSource = Callable[[], Select[Any]]


# --- row sources -------------------------------------------------------------------------------


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


# --- formatting --------------------------------------------------------------------------------


def _iso_datetime(value: Any) -> ColumnElement[str]:
    # ISO 8601 in UTC with microseconds, whatever the session's TimeZone.
    return func.to_char(func.timezone("UTC", value), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')


def csv_value(value: Any, kind: ColumnType) -> ColumnElement[Any]:
    """The cell of a CSV file (schema.data.gouv.fr conventions): text, `.` decimals, ISO 8601."""
    if kind == "date":
        return func.to_char(value, "YYYY-MM-DD")
    if kind == "datetime":
        return _iso_datetime(value)
    if kind == "boolean":
        return case((value, literal("true")), (~value, literal("false")), else_=None)
    if kind == "array":
        return cast(func.array_to_json(value), Text)
    if kind == "geojson":
        return func.ST_AsGeoJSON(value, GEOJSON_DECIMALS)
    return value  # type: ignore[no-any-return]


def json_value(value: Any, kind: ColumnType) -> ColumnElement[Any]:
    """The value of a JSON member: numbers stay numbers, arrays arrays, geometries objects."""
    if kind == "date":
        return func.to_char(value, "YYYY-MM-DD")
    if kind == "datetime":
        return _iso_datetime(value)
    if kind == "array":
        return func.array_to_json(value)
    if kind == "geojson":
        return cast(func.ST_AsGeoJSON(value, GEOJSON_DECIMALS), JSON)
    return value  # type: ignore[no-any-return]


def _json_object(rows: Subquery, columns: Sequence[OutputColumn]) -> ColumnElement[Any]:
    pairs: list[Any] = []
    for column in columns:
        pairs += [literal(column.name), json_value(rows.c[column.name], column.type)]
    return func.json_build_object(*pairs)


def csv_statement(source: RowSource, columns: Sequence[OutputColumn]) -> Select[Any]:
    rows = source().subquery("rows")
    return select(
        *(csv_value(rows.c[column.name], column.type).label(column.name) for column in columns)
    ).order_by(rows.c[ORDER])


def json_statement(source: RowSource, columns: Sequence[OutputColumn]) -> Select[Any]:
    """One JSON object (as text) per record, in order."""
    rows = source().subquery("rows")
    return select(cast(_json_object(rows, columns), Text)).order_by(rows.c[ORDER])


def geojson_statement(
    source: RowSource, key: str, geometry: str, properties: Sequence[OutputColumn]
) -> Select[Any]:
    """One GeoJSON Feature (as text) per record, in order."""
    rows = source().subquery("rows")
    feature = func.json_build_object(
        literal("type"),
        literal("Feature"),
        literal("id"),
        rows.c[key],
        literal("geometry"),
        json_value(rows.c[geometry], "geojson"),
        literal("properties"),
        _json_object(rows, properties),
    )
    return select(cast(feature, Text)).order_by(rows.c[ORDER])


async def records_by_key(
    session: AsyncSession,
    source: RowSource,
    key: str,
    columns: Sequence[OutputColumn],
    keys: Sequence[str],
) -> dict[str, Any]:
    """The JSON records (parsed by the driver) of the given keys that exist now."""
    if not keys:
        return {}
    rows = source().subquery("rows")
    query = select(cast(rows.c[key], String), _json_object(rows, columns)).where(
        cast(rows.c[key], String).in_(sorted(set(keys)))
    )
    result = await session.execute(query)
    return {row[0]: row[1] for row in result}


# --- running the exports -----------------------------------------------------------------------


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    return driver


def _sql(session: AsyncSession, statement: Select[Any]) -> str:
    # Every value in these statements is a constant of the code: rendered inline, as COPY and
    # server-side cursors take no parameters here.
    return str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))


async def copy_csv(
    session: AsyncSession,
    statement: Select[Any],
    output: Callable[[bytes], Coroutine[Any, Any, None]],
) -> None:
    """COPY the statement's rows as CSV with a header line, chunk by chunk, to `output`."""
    driver = await _driver(session)
    await driver.copy_from_query(
        _sql(session, statement), output=output, format="csv", header=True, encoding="utf-8"
    )


async def text_rows(
    session: AsyncSession, statement: Select[Any], prefetch: int = 1000
) -> AsyncIterator[str]:
    """The single text column of each row, through a server-side cursor (constant memory)."""
    driver = await _driver(session)
    async for record in driver.cursor(_sql(session, statement), prefetch=prefetch):
        yield record[0]


# --- versions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    dataset: str
    version: int
    modified_at: datetime


async def dataset_versions(session: AsyncSession) -> list[VersionRow]:
    result = await session.execute(
        select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.modified_at)
    )
    return [VersionRow(*row) for row in result]


async def lock_dataset_versions(
    session: AsyncSession, datasets: tuple[str, ...] | None
) -> list[VersionRow]:
    """The versions of these datasets (all when None), locked until the transaction ends: a
    concurrent write to them waits, so a version checked here stays current while this writes."""
    query = select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.modified_at)
    if datasets is not None:
        query = query.where(DatasetVersion.dataset.in_(datasets))
    result = await session.execute(query.order_by(DatasetVersion.dataset).with_for_update())
    return [VersionRow(*row) for row in result]


async def dataset_versions_on(pool: asyncpg.Pool) -> list[VersionRow]:
    """The same, in one round trip on a plain driver pool: HTTP validators read it per request
    when they cannot keep it in memory."""
    rows = await pool.fetch("SELECT dataset, version, modified_at FROM dataset_version")
    return [VersionRow(row["dataset"], row["version"], row["modified_at"]) for row in rows]


async def dataset_version(session: AsyncSession, dataset: str) -> VersionRow | None:
    result = await session.execute(
        select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.modified_at).where(
            DatasetVersion.dataset == dataset
        )
    )
    row = result.one_or_none()
    return VersionRow(*row) if row else None


async def first_created(session: AsyncSession) -> datetime | None:
    """When the territory was first published (the catalog's dct:issued)."""
    result = await session.execute(select(func.min(Territory.created_at)))
    return result.scalar_one_or_none()


async def territory_boundary(session: AsyncSession, tolerance: float) -> str | None:
    """The union of the communes as GeoJSON (simplified within `tolerance` degrees)."""
    union = func.ST_Union(Commune.boundary)
    simplified = func.ST_Multi(func.ST_SimplifyPreserveTopology(union, tolerance))
    result = await session.execute(select(func.ST_AsGeoJSON(simplified, 5)))
    return result.scalar_one_or_none()


async def territory_bbox(session: AsyncSession) -> tuple[float, float, float, float] | None:
    extent = func.ST_Extent(Commune.boundary)
    result = await session.execute(
        select(
            func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent)
        )
    )
    row = result.one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])
