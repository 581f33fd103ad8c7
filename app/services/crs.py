"""Coordinate reference systems offered by OGC API – Features Part 2, and how each is written.

Data are stored in WGS84 (longitude, latitude: CRS84). EPSG:4326 is the same datum with the
axis order its definition gives, latitude first; Lambert-93 (EPSG:2154) is what French GIS users
work in; Web Mercator (EPSG:3857) is what web maps draw in.
"""

import math
from dataclasses import dataclass

from app.errors import InvalidParameterError
from app.repositories.features import OutputCrs, Params

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class CrsSpec:
    uri: str
    srid: int
    swap: bool  # the CRS lists latitude (northing) first
    decimals: int  # written decimals: about a millimetre to a centimetre
    # Where transformations are defined (x, y in the CRS's own axis order, min then max).
    area: tuple[float, float, float, float]

    @property
    def output(self) -> OutputCrs:
        return OutputCrs(self.srid, self.swap, self.decimals)

    def _lonlat_order(self, numbers: list[float]) -> list[float]:
        if self.swap:
            return [numbers[1], numbers[0], numbers[3], numbers[2]]
        return numbers

    def check_extent(
        self, name: str, x_min: float, y_min: float, x_max: float, y_max: float
    ) -> None:
        # The area is written in the CRS's own axis order, like the coordinates checked.
        a_min, b_min, a_max, b_max = self.area
        if not all(math.isfinite(v) for v in (x_min, y_min, x_max, y_max)):
            raise InvalidParameterError("query", name, "coordinates must be finite numbers")
        if x_min < a_min or x_max > a_max or y_min < b_min or y_max > b_max:
            raise InvalidParameterError(
                "query", name, f"coordinates outside the area where {self.uri} is defined"
            )

    def checked_box(
        self, numbers: list[float], name: str = "bbox"
    ) -> tuple[float, float, float, float]:
        """A bbox given in this CRS (axis order as the CRS says), checked, as x min, y min,
        x max, y max in the CRS's x (easting, longitude) then y order."""
        minx, miny, maxx, maxy = self._lonlat_order(numbers)
        if minx > maxx:
            raise InvalidParameterError(
                "query",
                name,
                "the lower corner is east of the upper one; a box crossing the "
                "antimeridian is not supported",
            )
        if miny > maxy:
            raise InvalidParameterError("query", name, "the lower corner is north of the upper one")
        if self.swap:
            self.check_extent(name, miny, minx, maxy, maxx)
        else:
            self.check_extent(name, minx, miny, maxx, maxy)
        return minx, miny, maxx, maxy

    def envelope_sql(self, params: Params, numbers: list[float], name: str = "bbox") -> str:
        """SQL of a WGS84 polygon for a bbox given in this CRS (axis order as the CRS says)."""
        minx, miny, maxx, maxy = self.checked_box(numbers, name)
        corners = ", ".join(params.add(value, "float8") for value in (minx, miny, maxx, maxy))
        envelope = f"ST_MakeEnvelope({corners}, {self.srid})"
        if self.srid == 4326:
            return envelope
        # Edges densified so that the WGS84 polygon follows the box's curved edges closely.
        return f"ST_Transform(ST_Segmentize({envelope}, {self.segment}), 4326)"

    @property
    def segment(self) -> float:
        return 100.0

    def geometry_sql(self, params: Params, wkt: str) -> str:
        """SQL of a WGS84 geometry for WKT written in this CRS (axes as the CRS orders them)."""
        geometry = f"ST_GeomFromText({params.add(wkt, 'text')}, {self.srid})"
        if self.swap:
            geometry = f"ST_FlipCoordinates({geometry})"
            geometry = f"ST_SetSRID({geometry}, 4326)"
        if self.srid != 4326:
            geometry = f"ST_Transform({geometry}, 4326)"
        return geometry


SUPPORTED: dict[str, CrsSpec] = {
    spec.uri: spec
    for spec in (
        CrsSpec(CRS84, 4326, False, 7, (-180, -90, 180, 90)),
        CrsSpec("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 7, (-90, -180, 90, 180)),
        # EPSG's area of use of Lambert-93 (projected bounds, with a margin).
        CrsSpec(
            "http://www.opengis.net/def/crs/EPSG/0/2154",
            2154,
            False,
            3,
            (-400_000, 6_000_000, 1_400_000, 7_300_000),
        ),
        CrsSpec(
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            3857,
            False,
            3,
            (-20_037_508.34, -20_048_966.1, 20_037_508.34, 20_048_966.1),
        ),
    )
}


def crs(uri: str | None, name: str) -> CrsSpec:
    if uri is None:
        return SUPPORTED[CRS84]
    found = SUPPORTED.get(uri.strip("<>"))
    if found is None:
        raise InvalidParameterError(
            "query", name, "unsupported CRS; use one of " + ", ".join(SUPPORTED)
        )
    return found
