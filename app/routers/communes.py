"""Member communes with their boundaries, as GeoJSON."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.db import SessionDep
from app.responses import GeoJSONResponse
from app.routers.params import StrictQuery, UpdatedSince
from app.schemas.common import INSEE_PATTERN, SearchText
from app.schemas.commune import CommuneCollection, CommuneFeature
from app.schemas.problem import problem_responses
from app.services import commune as service

router = APIRouter(prefix="/v1", tags=["communes"], dependencies=[StrictQuery])


@router.get(
    "/communes",
    response_model=CommuneCollection,
    response_class=GeoJSONResponse,
    summary="The member communes, as a GeoJSON FeatureCollection",
    responses=problem_responses(400),
)
async def list_communes(
    session: SessionDep,
    since: UpdatedSince,
    q: Annotated[
        SearchText | None,
        Query(description="Name contains (case and accents ignored), or INSEE code."),
    ] = None,
) -> Any:
    return GeoJSONResponse(await service.list_communes(session, q, since))


@router.get(
    "/communes/{insee}",
    response_model=CommuneFeature,
    response_class=GeoJSONResponse,
    summary="One commune, as a GeoJSON Feature",
    responses=problem_responses(400, 404),
)
async def get_commune(
    session: SessionDep,
    insee: Annotated[
        str, Path(pattern=INSEE_PATTERN, description="INSEE code.", examples=["62498"])
    ],
) -> Any:
    return GeoJSONResponse(await service.get_commune(session, insee))
