"""Initiatives on the map: published ones as GeoJSON, with spatial and thematic filters."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.db import ReaderDep
from app.errors import InvalidParameterError
from app.routers.params import StrictQuery
from app.schemas.common import INSEE_PATTERN, SearchText, code_pattern
from app.schemas.initiative import InitiativeCollection, InitiativeFeature
from app.schemas.problem import problem_responses
from app.services import initiative as service
from app.services.features import encode_cursor
from app.services.initiative import MAX_DISTANCE_METRES, InitiativeFilters

router = APIRouter(prefix="/v1", tags=["initiatives"], dependencies=[StrictQuery])

GEOJSON = "application/geo+json"
MAX_PAGE = 1000


@router.get(
    "/initiatives",
    response_model=InitiativeCollection,
    response_class=Response,
    summary="Published initiatives, as a GeoJSON FeatureCollection",
    description="In id order, paged by an opaque `cursor` (`next_cursor`, and the `Link` header).",
    responses={
        200: {"content": {GEOJSON: {}}, "description": "A page of initiatives."},
        **problem_responses(400),
    },
)
async def list_initiatives(
    request: Request,
    reader: ReaderDep,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="min lon, min lat, max lon, max lat (WGS84).",
            examples=["2.80,50.40,2.86,50.45"],
        ),
    ] = None,
    near: Annotated[
        str | None,
        Query(
            max_length=100,
            description="`lon,lat,metres`: within that many metres (on the ellipsoid, at most "
            f"{MAX_DISTANCE_METRES}) of the WGS84 point lon,lat.",
            examples=["2.828254,50.426818,2000"],
        ),
    ] = None,
    commune: Annotated[
        str | None, Query(pattern=INSEE_PATTERN, description="INSEE code.", examples=["62510"])
    ] = None,
    category: Annotated[
        str | None,
        Query(pattern=code_pattern(1), description="Axis code.", examples=["3"]),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            pattern=code_pattern(4),
            max_length=40,
            description="Code of a linked action.",
            examples=["3.3.2.1"],
        ),
    ] = None,
    updated_since: Annotated[
        datetime | None,
        Query(
            description="Changed at or after this instant (RFC 3339).",
            examples=["2020-01-01T00:00:00Z"],
        ),
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(description="Text the title or description contains (case and accents ignored)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page size, 1 to {MAX_PAGE}.")
    ] = 100,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=300,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Opaque position returned as `next_cursor` by the previous page.",
            examples=[encode_cursor(0)],
        ),
    ] = None,
) -> Any:
    if updated_since is not None and updated_since.tzinfo is None:
        raise InvalidParameterError("query", "updated_since", "give a time zone (Z or an offset)")
    filters = InitiativeFilters(
        bbox=bbox,
        near=near,
        commune=commune,
        category=category,
        action=action,
        updated_since=updated_since,
        q=q,
    )
    result = await service.list_initiatives(request, reader, filters, cursor, limit)
    headers = {"Link": f'<{result.next_url}>; rel="next"'} if result.next_url else {}
    return Response(result.body, media_type=GEOJSON, headers=headers)


@router.get(
    "/initiatives/{initiative_id}",
    response_model=InitiativeFeature,
    response_class=Response,
    summary="One published initiative, as a GeoJSON Feature",
    responses={
        200: {"content": {GEOJSON: {}}, "description": "The initiative."},
        **problem_responses(400, 404),
    },
)
async def get_initiative(
    reader: ReaderDep,
    initiative_id: Annotated[
        str, Path(max_length=30, pattern=r"^[0-9]+$", description="The initiative's id.")
    ],
) -> Any:
    return Response(await service.get_initiative(reader, initiative_id), media_type=GEOJSON)
