"""Geometry validation: what the loader (and later the public write API) accepts, and why not."""

from typing import Any

import pytest
from shapely import wkt
from shapely.geometry import Point, box

from app.schemas.geometry import (
    MAX_VERTICES,
    InvalidGeometryError,
    TerritoryArea,
    ewkt,
    territory_area,
    validate_geometry,
)
from app.services.dataset import read_dataset
from tests.conftest import CALL_DATASET


@pytest.fixture(scope="module")
def area() -> TerritoryArea:
    communes = read_dataset(CALL_DATASET).communes
    return territory_area(wkt.loads(c.boundary.split(";", 1)[1]) for c in communes)


GARE_DE_LENS = [2.828254, 50.426818]


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": GARE_DE_LENS},
        {"type": "Point", "coordinates": [*GARE_DE_LENS, 35.0]},
        {"type": "LineString", "coordinates": [GARE_DE_LENS, [2.83, 50.43]]},
        {
            "type": "Polygon",
            "coordinates": [[[2.82, 50.42], [2.83, 50.42], [2.83, 50.43], [2.82, 50.42]]],
        },
    ],
)
def test_valid_geometries_in_the_territory_are_accepted(
    area: TerritoryArea, geometry: dict[str, Any]
) -> None:
    shape = validate_geometry(geometry, area)
    assert shape.geom_type == geometry["type"]
    assert not shape.has_z


def ring(count: int) -> list[list[float]]:
    points = [list(Point(2.83, 50.43).buffer(0.01, quad_segs=count).exterior.coords)]
    return [[x, y] for x, y in points[0]]


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        (None, "a GeoJSON geometry object"),
        ({"coordinates": GARE_DE_LENS}, "a GeoJSON geometry object"),
        ({"type": "MultiPoint", "coordinates": [GARE_DE_LENS]}, "'MultiPoint' is not accepted"),
        ({"type": "Point"}, "'coordinates' is missing"),
        ({"type": "Point", "coordinates": []}, "each position must be [longitude, latitude]"),
        ({"type": "Point", "coordinates": ["2.8", "50.4"]}, "each position must be"),
        ({"type": "Point", "coordinates": [True, 50.4]}, "each position must be"),
        ({"type": "Point", "coordinates": [float("nan"), 50.4]}, "finite"),
        ({"type": "Point", "coordinates": [10**400, 50.4]}, "finite"),
        ({"type": "Point", "coordinates": [50.43, 182.8]}, "is not WGS84"),
        ({"type": "LineString", "coordinates": []}, "empty"),
        ({"type": "LineString", "coordinates": [GARE_DE_LENS]}, "at least two distinct"),
        ({"type": "LineString", "coordinates": [GARE_DE_LENS, GARE_DE_LENS]}, "two distinct"),
        ({"type": "Polygon", "coordinates": [[]]}, "empty"),
        (
            {"type": "Polygon", "coordinates": [[[2.82, 50.42], [2.83, 50.42], [2.83, 50.43]]]},
            "must be closed",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[2.82, 50.42], [2.83, 50.43], [2.83, 50.42], [2.82, 50.43], [2.82, 50.42]]
                ],
            },
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [ring(MAX_VERTICES)]}, f"at most {MAX_VERTICES}"),
        ({"type": "Point", "coordinates": [2.3522, 48.8566]}, "outside the territory"),
    ],
)
def test_invalid_geometries_are_refused_with_the_reason(
    area: TerritoryArea, geometry: Any, reason: str
) -> None:
    with pytest.raises(InvalidGeometryError) as caught:
        validate_geometry(geometry, area)
    assert reason in caught.value.detail
    assert caught.value.status == 400


def test_the_margin_is_in_metres(area: TerritoryArea) -> None:
    # The territory's easternmost longitude is 2.94175 (SOURCES.md); at 50.4°N a degree of
    # longitude is about 71 km, so 0.02° is about 1.4 km and 0.04° about 2.8 km.
    east = max(box(*area.local.bounds).bounds[2] / area.scale[0], 0)
    assert east == pytest.approx(2.94175, abs=1e-4)
    y = [c for c in area.local.exterior.coords if abs(c[0] / area.scale[0] - east) < 1e-9]
    latitude = y[0][1] / area.scale[1]
    validate_geometry({"type": "Point", "coordinates": [east + 0.02, latitude]}, area)
    with pytest.raises(InvalidGeometryError):
        validate_geometry({"type": "Point", "coordinates": [east + 0.04, latitude]}, area)


def test_the_point_fast_path_agrees_with_the_general_check(area: TerritoryArea) -> None:
    # Points across the territory's eastern edge, inside, within the margin and beyond it.
    east = max(box(*area.local.bounds).bounds[2] / area.scale[0], 0)
    seen = set()
    for step in range(-20, 21):
        longitude, latitude = east + step * 0.004, 50.43
        general = area.contains_with_margin(Point(longitude, latitude))
        assert area.contains_point_with_margin(longitude, latitude) == general, step
        seen.add(general)
    assert seen == {True, False}  # both sides of the margin were tried


@pytest.mark.parametrize(
    "coordinates", [[2.8282, 50.4268], [2.123456789012345, 50.98765432109876], [1e-05, 50.0]]
)
def test_a_point_s_ewkt_reads_back_as_the_same_doubles(coordinates: list[float]) -> None:
    written = ewkt(Point(*coordinates))
    assert written.startswith("SRID=4326;POINT (")
    read = wkt.loads(written.split(";", 1)[1])
    assert [read.x, read.y] == coordinates
