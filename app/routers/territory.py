"""The publishing territory."""

from fastapi import APIRouter

from app.db import SessionDep
from app.routers.params import StrictQuery
from app.schemas.problem import problem_responses
from app.schemas.territory import TerritoryOut
from app.services import territory as service

router = APIRouter(prefix="/v1", tags=["territory"], dependencies=[StrictQuery])


@router.get(
    "/territory",
    response_model=TerritoryOut,
    summary="The territory, its licence and how much of its plan is published",
    responses=problem_responses(400, 404),
)
async def get_territory(session: SessionDep) -> TerritoryOut:
    return await service.get_territory(session)
