"""Feature collections read with plain asyncpg: each page is built as GeoJSON text by PostgreSQL.

A collection is described once (its table, key, geometry and published properties); a query is
assembled from small fragments in which every value is a bound parameter and every identifier
comes from that description, never from the request. The statement text depends only on which
filters are present, so asyncpg's per-connection statement cache reuses the prepared plans.
A vector tile is the exception: its integer coordinates are written into the statement (see
fetch_tile).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.db import Reader

KeyType = Literal["bigint", "text"]


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class Property:
    """A published property: its SQL expression over the row alias `t`, and its JSON Schema."""

    sql: str
    schema: dict[str, Any]
    queryable: bool = True
    kind: Literal["string", "integer", "number", "timestamp", "array"] = "string"
    column: str | None = None  # what filters compare, when it differs from what is published
    published: bool = True  # False: a queryable only (the feature id, for instance)

    @property
    def filter_sql(self) -> str:
        return self.column or self.sql


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    source: str  # a FROM item aliased `t`
    where: str  # what is published
    key: str  # unique, ordered: the keyset
    key_type: KeyType
    geometry: str  # WGS84 (SRID 4326)
    geometry_schema: dict[str, Any]
    properties: dict[str, Property]
    datetime_column: str  # what `datetime` filters on
    tile_properties: tuple[str, ...] = ()
    # The geometry kept in Web Mercator (SRID 3857) with a GiST index of its own, when there is
    # one: tiles then select and encode it as it is, with no transformation per row.
    tile_geometry: str | None = None
    small: bool = False  # few rows: counting them is cheap, numberMatched is always given
    extra: dict[str, str] = field(default_factory=dict)


class Params:
    """Bound parameters of one statement: `add` returns the placeholder of a new value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


@dataclass(frozen=True)
class OutputCrs:
    """How geometries are written: SRID, axis swap (EPSG:4326 is lat/lon), decimals."""

    srid: int
    swap: bool
    decimals: int

    def geojson(self, geometry: str) -> str:
        expression = geometry
        if self.srid != 4326:
            expression = f"ST_Transform({expression}, {self.srid})"
        if self.swap:
            expression = f"ST_FlipCoordinates({expression})"
        return f"ST_AsGeoJSON({expression}, {self.decimals}, 0)"


_FEATURE_SQL: dict[tuple[str, OutputCrs], str] = {}


def feature_sql(collection: Collection, crs: OutputCrs) -> str:
    """One feature as GeoJSON text (properties by json_build_object, geometry by PostGIS);
    written once per collection and output CRS."""
    key = (collection.id, crs)
    found = _FEATURE_SQL.get(key)
    if found is None:  # bounded: the collections are constants, the output CRSs few
        found = _FEATURE_SQL[key] = _feature_sql(collection, crs)
    return found


def _feature_sql(collection: Collection, crs: OutputCrs) -> str:
    pairs = ", ".join(f"'{name}', {prop.sql}" for name, prop in collection.properties.items())
    # json_build_object takes at most 100 arguments: 50 properties, far above what we publish.
    return (
        '\'{"type":"Feature","id":\' || to_json('
        + collection.key
        + ")::text || ',\"geometry\":' || "
        + crs.geojson(collection.geometry)
        + " || ',\"properties\":' || json_build_object("
        + pairs
        + ")::text || '}'"
    )


@dataclass(frozen=True)
class Page:
    body: str  # the features, comma-separated GeoJSON texts
    returned: int
    last_key: Any
    more: bool


async def fetch_page(
    reader: Reader,
    collection: Collection,
    crs: OutputCrs,
    conditions: Sequence[str],
    params: Params,
    *,
    after: Any,
    offset: int,
    limit: int,
) -> Page:
    """At most `limit` features in key order after `after`; one more row says if a next page
    exists (no COUNT). The whole page comes back as one text value."""
    sql = page_sql(collection, crs, conditions, params, after=after, offset=offset, limit=limit)
    row = await reader.fetchrow(sql, *params.values)
    assert row is not None
    count = int(row["n"])
    return Page(
        body=row["body"] or "",
        returned=min(count, limit),
        last_key=row["last_key"],
        more=count > limit,
    )


def page_sql(
    collection: Collection,
    crs: OutputCrs,
    conditions: Sequence[str],
    params: Params,
    *,
    after: Any,
    offset: int,
    limit: int,
) -> str:
    """The statement of a page (its paging values added to `params`); bench/ogc_features.py
    runs the same text under pgbench."""
    where = [collection.where, *conditions]
    if after is not None:
        where.append(f"{collection.key} > {params.add(after, collection.key_type)}")
    limit_param = params.add(limit, "bigint")
    offset_sql = f" OFFSET {params.add(offset, 'bigint')}" if offset else ""
    return (
        "SELECT count(*) AS n, "
        f"string_agg(f, ',' ORDER BY k) FILTER (WHERE r <= {limit_param}) AS body, "
        f"max(k) FILTER (WHERE r <= {limit_param}) AS last_key "
        "FROM (SELECT k, f, row_number() OVER (ORDER BY k) AS r FROM ("
        f"SELECT {collection.key} AS k, {feature_sql(collection, crs)} AS f "
        f"FROM {collection.source} WHERE {' AND '.join(where)} "
        f"ORDER BY {collection.key} LIMIT {limit_param} + 1{offset_sql}"
        ") AS page) AS numbered"
    )


async def fetch_feature(
    reader: Reader, collection: Collection, crs: OutputCrs, key: Any
) -> str | None:
    params = Params()
    sql = (
        f"SELECT {feature_sql(collection, crs)} FROM {collection.source} "
        f"WHERE {collection.where} AND {collection.key} = {params.add(key, collection.key_type)}"
    )
    value: str | None = await reader.fetchval(sql, *params.values)
    return value


async def count(
    reader: Reader, collection: Collection, conditions: Sequence[str], params: Params
) -> int:
    where = " AND ".join([collection.where, *conditions])
    value = await reader.fetchval(
        f"SELECT count(*) FROM {collection.source} WHERE {where}", *params.values
    )
    return int(value)


async def fetch_tile(
    reader: Reader, collection: Collection, z: int, x: int, y: int, extent: int, buffer: int
) -> bytes:
    """A Mapbox Vector Tile of the collection (WebMercatorQuad). The rows are those whose
    geometry meets the tile and its buffer: selected with the Web Mercator geometry's own index
    when the collection keeps one, else with the WGS84 index, the envelope being transformed
    to WGS84 and each geometry to Web Mercator for encoding."""
    properties = ", ".join(
        f"{collection.properties[name].sql} AS {quote(name)}" for name in collection.tile_properties
    )
    # MVT feature ids are integers: a text key is a property like the others.
    numeric = collection.key_type == "bigint"
    feature_id = ", 'id'" if numeric else ""
    key = f"{collection.key} AS id, " if numeric else ""
    # The tile's coordinates are integers written into the statement, not parameters: a
    # prepared statement's generic plan cannot see the envelope, estimates 88 rows for any tile
    # and walks the index row by row (9 550 buffers for the tile over Lens against 3 587 for a
    # bitmap scan, 36 ms against 30). Each tile is then planned for its envelope (0.3 ms).
    z, x, y, extent, buffer = int(z), int(x), int(y), int(extent), int(buffer)
    tile_envelope = f"ST_TileEnvelope({z}, {x}, {y})"
    area = f"ST_TileEnvelope({z}, {x}, {y}, margin => {buffer}.0 / {extent})"
    if collection.tile_geometry is not None:
        mercator, selected = collection.tile_geometry, area
    else:
        mercator = f"ST_Transform({collection.geometry}, 3857)"
        selected = f"ST_Transform({area}, 4326)"
    filtered = collection.tile_geometry or collection.geometry
    sql = (
        f"SELECT ST_AsMVT(tile, {quote_literal(collection.id)}, {extent}, 'geom'{feature_id}) "
        f"FROM (SELECT {key}{properties}, "
        f"ST_AsMVTGeom({mercator}, {tile_envelope}, {extent}, {buffer}, true) AS geom "
        f"FROM {collection.source} "
        f"WHERE {collection.where} AND {filtered} && {selected}"
        # No `WHERE geom IS NOT NULL`: ST_AsMVT skips the rows that ST_AsMVTGeom clipped away
        # (NULL), and the filter would have it compute every geometry twice.
        ") AS tile"
    )
    value: bytes | None = await reader.fetchval(sql)
    return value or b""


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def extent(
    reader: Reader, collection: Collection
) -> tuple[float, float, float, float] | None:
    row = await reader.fetchrow(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
        f"ST_Extent({collection.geometry}) AS e FROM {collection.source} "
        f"WHERE {collection.where}) AS x"
    )
    if row is None or row[0] is None:
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])
