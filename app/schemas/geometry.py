"""Checking a geometry that comes from outside, before it is stored.

Pure (no database): the API models validate a geometry's shape with it, and the services (dataset
loader, proposals, editing, moderation) check it against the territory. A GeoJSON geometry (Point,
LineString or Polygon, WGS84 longitude/latitude) is accepted only if it is well formed, valid,
not empty, has a bounded number of vertices and lies within the territory plus a margin.
Each refusal says why, so that the client can fix it.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from app.errors import DomainError

ACCEPTED_TYPES = ("Point", "LineString", "Polygon")
MAX_VERTICES = 5_000
TERRITORY_MARGIN_METRES = 2_000.0
# Metres per degree of latitude, and of longitude at the equator (WGS84, mean values).
_METRES_PER_DEGREE_LAT = 111_132.0
_METRES_PER_DEGREE_LON = 111_320.0


class InvalidGeometryError(DomainError):
    status = 400
    slug = "invalid-geometry"
    title = "Invalid geometry"


@dataclass(frozen=True)
class TerritoryArea:
    """The territory's surface, in a local metric frame where distances are in metres."""

    local: BaseGeometry
    scale: tuple[float, float]
    margin_metres: float

    def contains_with_margin(self, geometry: BaseGeometry) -> bool:
        local = _to_local(geometry, self.scale)
        # Inside (the usual case) is answered at once by the prepared surface; the distance,
        # which walks every segment of the boundary, only for what lies outside.
        if self.local.intersects(local):
            return True
        return bool(self.local.distance(local) <= self.margin_metres)

    def contains_point_with_margin(self, longitude: float, latitude: float) -> bool:
        """The same for a point, without building a geometry when it lies inside."""
        x, y = longitude * self.scale[0], latitude * self.scale[1]
        if shapely.intersects_xy(self.local, x, y):
            return True
        return bool(self.local.distance(Point(x, y)) <= self.margin_metres)


def _to_local(geometry: BaseGeometry, scale: tuple[float, float]) -> BaseGeometry:
    # An equirectangular projection around the territory: within 1% over a few tens of km.
    factors = np.array(scale)
    return shapely.transform(geometry, lambda coordinates: coordinates * factors)


def territory_area(
    boundaries: Iterable[BaseGeometry], margin_metres: float = TERRITORY_MARGIN_METRES
) -> TerritoryArea:
    union = shapely.union_all(list(boundaries))
    if union.is_empty:
        raise ValueError("a territory needs at least one commune boundary")
    latitude = union.centroid.y
    scale = (_METRES_PER_DEGREE_LON * math.cos(math.radians(latitude)), _METRES_PER_DEGREE_LAT)
    local = _to_local(union, scale)
    shapely.prepare(local)
    return TerritoryArea(local=local, scale=scale, margin_metres=margin_metres)


def _positions(value: Any, depth: int) -> None:
    """Check the nesting of `coordinates`: `depth` levels of arrays above [lon, lat] pairs."""
    if not isinstance(value, list):
        raise InvalidGeometryError("'coordinates' must be nested arrays of [longitude, latitude]")
    if depth == 0:
        if len(value) not in (2, 3) or not all(
            isinstance(n, int | float) and not isinstance(n, bool) for n in value
        ):
            raise InvalidGeometryError(
                "each position must be [longitude, latitude] (an optional altitude is ignored)"
            )
        try:
            finite = all(math.isfinite(n) for n in value)
        except OverflowError:  # an integer too large for a double
            finite = False
        if not finite:
            raise InvalidGeometryError("coordinates must be finite numbers")
        longitude, latitude = value[0], value[1]
        if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
            raise InvalidGeometryError(
                f"position [{longitude}, {latitude}] is not WGS84 longitude, latitude"
            )
        return
    for item in value:
        _positions(item, depth - 1)


def _vertices(value: Any) -> int:
    if value and isinstance(value[0], int | float):
        return 1
    return sum(_vertices(item) for item in value)


def validate_geometry(value: Any, area: TerritoryArea | None) -> BaseGeometry:
    """The shapely geometry of a GeoJSON geometry object, or InvalidGeometryError saying why."""
    if not isinstance(value, dict) or "type" not in value:
        raise InvalidGeometryError("a GeoJSON geometry object with 'type' is expected")
    kind = value.get("type")
    if kind not in ACCEPTED_TYPES:
        raise InvalidGeometryError(
            f"geometry type {str(kind)[:40]!r} is not accepted; use one of "
            + ", ".join(ACCEPTED_TYPES)
        )
    if "coordinates" not in value:
        raise InvalidGeometryError("'coordinates' is missing")
    coordinates = value["coordinates"]
    _positions(coordinates, {"Point": 0, "LineString": 1, "Polygon": 2}[kind])
    count = _vertices(coordinates) if coordinates else 0
    if count > MAX_VERTICES:
        raise InvalidGeometryError(f"{count} vertices; at most {MAX_VERTICES} are accepted")
    if kind == "Point":
        # A point of finite WGS84 coordinates (checked above) is valid and not empty.
        point = Point(coordinates[0], coordinates[1])
        if area is not None and not area.contains_point_with_margin(point.x, point.y):
            raise InvalidGeometryError(
                f"the geometry lies outside the territory (more than {area.margin_metres:.0f} m "
                "from its communes)"
            )
        return point
    if not coordinates or (kind == "Polygon" and not coordinates[0]):
        raise InvalidGeometryError("the geometry is empty")
    if kind == "LineString" and len({tuple(p[:2]) for p in coordinates}) < 2:
        raise InvalidGeometryError("a LineString needs at least two distinct positions")
    if kind == "Polygon":
        for index, ring in enumerate(coordinates):
            if len(ring) < 4 or ring[0][:2] != ring[-1][:2]:
                raise InvalidGeometryError(
                    f"ring {index} of the Polygon must be closed (its last position repeats "
                    "the first) and have at least 4 positions"
                )
    try:
        geometry = shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as error:
        raise InvalidGeometryError(f"not a valid {kind}: {error}") from error
    geometry = shapely.force_2d(geometry)
    if geometry.is_empty:
        raise InvalidGeometryError("the geometry is empty")
    if not geometry.is_valid:
        raise InvalidGeometryError(f"invalid {kind}: {explain_validity(geometry)}")
    if area is not None and not area.contains_with_margin(geometry):
        raise InvalidGeometryError(
            f"the geometry lies outside the territory (more than {area.margin_metres:.0f} m "
            "from its communes)"
        )
    assert isinstance(geometry, Point | LineString | Polygon)
    return geometry


def ewkt(geometry: BaseGeometry) -> str:
    """WGS84 EWKT, as PostGIS reads it (a point written directly: the shortest repr of each
    coordinate reads back as the same double)."""
    if isinstance(geometry, Point) and not geometry.has_z:
        return f"SRID=4326;POINT ({geometry.x!r} {geometry.y!r})"
    return f"SRID=4326;{geometry.wkt}"
