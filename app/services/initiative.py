"""Published initiatives as GeoJSON, with the filters of /v1/initiatives."""

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from app.db import Reader
from app.errors import InvalidParameterError
from app.repositories import initiative as repository
from app.repositories.collections import INITIATIVES
from app.services import ogc
from app.services.crs import crs
from app.services.features import build_query, fetch_feature

MAX_DISTANCE_METRES = 50_000


@dataclass(frozen=True)
class InitiativeFilters:
    bbox: str | None = None
    point: str | None = None
    distance: float | None = None
    commune: str | None = None
    category: str | None = None
    action: str | None = None
    updated_since: datetime | None = None
    q: str | None = None


def _point(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        longitude, latitude = (float(part) for part in parts)
    except ValueError as error:
        raise InvalidParameterError(
            "query", "point", "longitude,latitude (WGS84 degrees) is expected"
        ) from error
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
        raise InvalidParameterError("query", "point", "longitude,latitude (WGS84) is expected")
    return longitude, latitude


async def list_initiatives(
    request: Request, reader: Reader, filters: InitiativeFilters, cursor: str | None, limit: int
) -> ogc.ItemsResult:
    if (filters.point is None) != (filters.distance is None):
        raise InvalidParameterError(
            "query",
            "distance" if filters.point else "point",
            "`point` and `distance` go together: within `distance` metres of `point`",
        )
    query = build_query(
        INITIATIVES, output=crs(None, "crs"), limit=limit, cursor=cursor, bbox=filters.bbox
    )
    params = query.params
    conditions = query.conditions
    if filters.point is not None and filters.distance is not None:
        longitude, latitude = _point(filters.point)
        conditions.append(repository.within_distance(params, longitude, latitude, filters.distance))
    if filters.commune is not None:
        conditions.append(repository.in_commune(params, filters.commune))
    if filters.category is not None:
        conditions.append(repository.in_category(params, filters.category))
    if filters.action is not None:
        conditions.append(repository.linked_to_action(params, filters.action))
    if filters.updated_since is not None:
        conditions.append(repository.updated_since(params, filters.updated_since))
    if filters.q is not None:
        conditions.append(repository.text_contains(params, filters.q))
    query.condition_count = len(params.values)
    return await ogc.items(request, reader, query, links_for="v1")


async def get_initiative(reader: Reader, initiative_id: str) -> str:
    return await fetch_feature(reader, INITIATIVES, crs(None, "crs"), initiative_id)
