"""Supports of published initiatives, no key needed: each supporter counted once."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.db import SessionDep, raw_connection
from app.idempotency import Answer, IdempotencyKeyHeader, run_once
from app.ratelimit import rate_limit
from app.routers.params import StrictQuery
from app.routers.proposals import PUBLIC_WRITE_ERRORS
from app.schemas.problem import problem_responses
from app.schemas.proposal import SupportIn, SupportOut
from app.services import supports as service

router = APIRouter(prefix="/v1", tags=["proposals"], dependencies=[StrictQuery])


@router.post(
    "/initiatives/{initiative_id}/supports",
    status_code=201,
    response_model=SupportOut,
    summary="Support a published initiative (no key needed)",
    description=(
        "201 when the support is counted; 200 with the same count when this supporter was "
        "already counted. Only an HMAC of `supporter` is stored. Rate-limited per client."
    ),
    dependencies=[rate_limit("supports")],
    responses={
        200: {"model": SupportOut, "description": "Already counted: nothing changed."},
        **problem_responses(404),
        **PUBLIC_WRITE_ERRORS,
    },
)
async def support_initiative(
    request: Request,
    body: SupportIn,
    session: SessionDep,
    initiative_id: Annotated[
        int,
        Path(ge=1, le=2**63 - 1, description="The initiative's id.", examples=[1]),
    ],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    secret = request.app.state.settings.secret_key.get_secret_value().encode()

    async def write() -> Answer:
        result = await service.support(session, secret, initiative_id, body.supporter)
        return Answer(201 if result.counted else 200, result.model_dump_json().encode())

    connection = await raw_connection(session)
    answer = await run_once(request, connection, "supports", idempotency_key, write)
    return Response(answer.body, answer.status_code, media_type=answer.media_type)
