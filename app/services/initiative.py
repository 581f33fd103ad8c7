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
    near: str | None = None
    commune: str | None = None
    category: str | None = None
    action: str | None = None
    updated_since: datetime | None = None
    q: str | None = None


def parse_near(text: str) -> tuple[float, float, float]:
    """`lon,lat,metres` (the `near` parameter), checked."""
    expected = "lon,lat,metres is expected: a WGS84 point and a distance in metres"
    try:
        longitude, latitude, metres = (float(part) for part in text.split(","))
    except ValueError as error:
        raise InvalidParameterError("query", "near", expected) from error
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
        raise InvalidParameterError("query", "near", expected)
    if not 0 < metres <= MAX_DISTANCE_METRES:
        raise InvalidParameterError(
            "query", "near", f"the distance is in metres, above 0 and at most {MAX_DISTANCE_METRES}"
        )
    return longitude, latitude, metres


async def list_initiatives(
    request: Request, reader: Reader, filters: InitiativeFilters, cursor: str | None, limit: int
) -> ogc.ItemsResult:
    query = build_query(
        INITIATIVES, output=crs(None, "crs"), limit=limit, cursor=cursor, bbox=filters.bbox
    )
    params = query.params
    conditions = query.conditions
    if filters.near is not None:
        longitude, latitude, metres = parse_near(filters.near)
        conditions.append(repository.within_distance(params, longitude, latitude, metres))
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
