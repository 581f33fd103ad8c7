"""The export statements around a row source, every value formatted in SQL so that Python only
moves bytes: CSV through COPY, JSON and GeoJSON built by PostgreSQL."""

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Select, Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Subquery

from app.repositories.publication_columns import (
    GEOJSON_DECIMALS,
    ORDER,
    ColumnType,
    OutputColumn,
    RowSource,
)


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


def json_object(rows: Subquery, columns: Sequence[OutputColumn]) -> ColumnElement[Any]:
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
    return select(cast(json_object(rows, columns), Text)).order_by(rows.c[ORDER])


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
        json_object(rows, properties),
    )
    return select(cast(feature, Text)).order_by(rows.c[ORDER])


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
