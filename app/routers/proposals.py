"""Public writes, no key needed: proposals (moderated before publication) and their status."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.db import SessionDep, WritePoolDep
from app.idempotency import Answer, IdempotencyKeyHeader, claim_of
from app.ratelimit import rate_limit
from app.routers.params import StrictQuery
from app.schemas.problem import problem_responses
from app.schemas.proposal import TOKEN_PATTERN, ProposalIn, ProposalReceipt, ProposalStatus
from app.services import proposals as service

router = APIRouter(prefix="/v1", tags=["proposals"], dependencies=[StrictQuery])

PUBLIC_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **problem_responses(400, 422),
    413: {**problem_responses(413)[413], "description": "The body is too large."},
    429: {
        **problem_responses(429)[429],
        "description": "Too many writes from this client; retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}


def base_url(request: Request) -> str:
    configured: str | None = request.app.state.settings.public_base_url
    return configured or str(request.base_url)


@router.post(
    "/proposals",
    status_code=201,
    response_model=ProposalReceipt,
    summary="Propose an initiative (no key needed)",
    description=(
        "Stored as `submitted`: invisible in every public response until a moderator publishes "
        "it. The contact email is private. The answer holds a private status link, shown once "
        "(keep it). Rate-limited per client; send an `Idempotency-Key` to retry safely."
    ),
    dependencies=[rate_limit("proposals")],
    responses={
        201: {
            "headers": {
                "Location": {
                    "description": "The private status link.",
                    "schema": {"type": "string"},
                }
            }
        },
        **PUBLIC_WRITE_ERRORS,
    },
)
async def submit_proposal(
    request: Request,
    proposal: ProposalIn,
    writer: WritePoolDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    state: service.ProposalsState = request.app.state.proposals

    def answer(receipt: ProposalReceipt) -> Answer:
        body = receipt.model_dump_json().encode()
        return Answer(201, body, headers={"Location": receipt.status_url})

    if service.is_robot(proposal):
        # The honeypot: answered as if accepted, but nothing is stored, not even the key.
        return answer(service.decoy(base_url(request))).response()

    # The lean path (plain asyncpg, batched with concurrent proposals: one statement and one
    # commit for all, whether they carry an Idempotency-Key or not), committed before the
    # answer is sent.
    claim = None
    if idempotency_key is not None:
        claim = await claim_of(request, "proposals", idempotency_key)
    stored = await service.submit(writer, state, proposal, base_url(request), claim, answer)
    return stored.response()


@router.get(
    "/proposals/status/{token}",
    response_model=ProposalStatus,
    summary="The moderation status of one's proposal (private link)",
    description="The link returned at submission: status, the moderator's reason and message, "
    "dates. Never cached (`Cache-Control: no-store`).",
    responses=problem_responses(400, 404),
)
async def get_proposal_status(
    request: Request,
    session: SessionDep,
    token: Annotated[
        str,
        Path(
            pattern=TOKEN_PATTERN,
            description="The status token returned at submission.",
        ),
    ],
) -> Response:
    found = await service.status(session, token, base_url(request))
    return Response(
        found.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
