"""Probes for load balancers and orchestrators."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app.db import SessionDep
from app.errors import ServiceUnavailableError
from app.repositories.health import schema_revision
from app.routers.params import StrictQuery
from app.schemas.problem import problem_responses

router = APIRouter(tags=["health"], dependencies=[StrictQuery])

READY_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    schema_revision: str


@router.get("/health", response_model=Health, summary="The process answers")
async def health() -> Health:
    return Health()


@router.get(
    "/ready",
    response_model=Readiness,
    summary="The database answers and its schema is at the latest migration",
    responses=problem_responses(503),
)
async def ready(request: Request, session: SessionDep) -> Readiness:
    expected: str = request.app.state.migration_head
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            revision = await schema_revision(session)
    except (OSError, SQLAlchemyError, TimeoutError) as error:
        raise ServiceUnavailableError(
            f"The database does not answer ({error.__class__.__name__})."
        ) from error
    if revision != expected:
        raise ServiceUnavailableError(
            f"The database schema is at revision {revision}, the service expects {expected}; "
            "run the migrations (alembic upgrade head)."
        )
    return Readiness(schema_revision=revision)
