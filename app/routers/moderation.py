"""The moderation queue and the moderators' actions on initiatives (scope `moderator`).

Everything here is private: the proposer's contact and address are shown. Answers are never
stored by the response cache nor validated from the dataset versions (see BODY_VALIDATED in
app.main); each item's ETag comes from its own row, so a moderator's ETag goes stale only when
that initiative changes, not when a new proposal arrives.
"""

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import ModeratorDep
from app.db import SessionDep
from app.http_cache.policy import CachingPolicy
from app.models.initiative import InitiativeStatus
from app.preconditions import check_if_match, etag_variants
from app.routers.params import Limit, StrictQuery, cursor_parameter, link_next
from app.schemas.moderation import (
    Archival,
    InitiativePatch,
    ModeratedInitiative,
    ModerationQueue,
    Rejection,
)
from app.schemas.problem import Problem, problem_responses
from app.services import moderation as service

router = APIRouter(prefix="/v1/moderation", tags=["moderation"], dependencies=[StrictQuery])

MAX_ID = 2**63 - 1
InitiativeId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The initiative's id.", examples=[1])
]
MERGE_PATCH = "application/merge-patch+json"


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem responses, with what the guarded routes add."""
    described = {
        401: "No API key, or a malformed, unknown or revoked one.",
        403: "The API key lacks the moderator scope.",
        409: "The action does not apply to the initiative's current status.",
        428: "`If-Match` is required.",
    }
    responses = problem_responses(*(s for s in statuses if s not in described))
    for status in statuses:
        if status in described:
            responses[status] = {"model": Problem, "description": described[status]}
    return responses


def _public_url(request: Request, record: dict[str, Any]) -> str | None:
    if record["status"] != InitiativeStatus.published:
        return None
    base: str = request.app.state.settings.public_base_url or str(request.base_url)
    return f"{base.rstrip('/')}/v1/initiatives/{record['id']}"


def _answer(request: Request, record: dict[str, Any]) -> ModeratedInitiative:
    return ModeratedInitiative.model_validate({**record, "url": _public_url(request, record)})


def _etags(request: Request, row_version: str) -> tuple[str, set[str]]:
    """The ETag of the item's representation (and of its gzip and identity variants): its row's
    version, the code and settings, the URL and the headers the body depends on."""
    policy: CachingPolicy = request.app.state.caching_policy
    token = hashlib.sha256(f"{policy.fingerprint}\0moderation\0{row_version}".encode()).digest()
    return etag_variants(request, token)


@router.get(
    "/initiatives",
    response_model=ModerationQueue,
    summary="The moderation queue: initiatives of one status, oldest first",
    description="Private fields included (contact, address). Paged by `cursor` (`next_cursor`, "
    "and the `Link` header).",
    responses=errors(400, 401, 403),
)
async def list_moderation_initiatives(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    status: Annotated[
        InitiativeStatus, Query(description="The status to list; submitted by default.")
    ] = InitiativeStatus.submitted,
    limit: Limit = 100,
    cursor: Annotated[
        str | None,
        cursor_parameter(service.encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), 1)),
    ] = None,
) -> ModerationQueue:
    records, next_cursor = await service.queue(session, status, cursor, limit)
    link_next(request, response, next_cursor)
    return ModerationQueue(
        items=[_answer(request, record) for record in records], next_cursor=next_cursor
    )


@router.get(
    "/initiatives/{initiative_id}",
    response_model=ModeratedInitiative,
    summary="One initiative, any status, as a moderator sees it",
    description="Private fields included. Its `ETag` is what `If-Match` of a PATCH compares.",
    responses=errors(400, 401, 403, 404),
)
async def get_moderation_initiative(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    initiative_id: InitiativeId,
) -> ModeratedInitiative:
    record = await service.private_initiative(session, initiative_id)
    response.headers["ETag"], _ = _etags(request, record["row_version"])
    return _answer(request, record)


@router.patch(
    "/initiatives/{initiative_id}",
    response_model=ModeratedInitiative,
    summary="Edit an initiative (JSON merge patch), whatever its status",
    description="`If-Match` is required: the ETag of your last GET of this URL. Members: title, "
    "description, category, geometry, location_precision, address, author_name; `null` "
    "clears an optional one.",
    responses=errors(400, 401, 403, 404, 412, 422, 428),
)
async def edit_moderation_initiative(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    initiative_id: InitiativeId,
    patch: Annotated[InitiativePatch, Body(media_type=MERGE_PATCH)],
) -> ModeratedInitiative:
    record = await service.private_initiative(session, initiative_id, lock=True)
    check_if_match(request, _etags(request, record["row_version"])[1])
    await service.edit(session, initiative_id, patch.changes())
    record = await service.private_initiative(session, initiative_id)
    response.headers["ETag"], _ = _etags(request, record["row_version"])
    return _answer(request, record)


async def _moved(
    request: Request,
    response: Response,
    session: AsyncSession,
    initiative_id: int,
    action: str,
    body: Rejection | Archival | None = None,
) -> ModeratedInitiative:
    reason = body.reason if body is not None else None
    message = body.message if body is not None else None
    await service.transition(session, initiative_id, action, reason, message)
    record = await service.private_initiative(session, initiative_id)
    response.headers["Content-Location"] = f"/v1/moderation/initiatives/{initiative_id}"
    return _answer(request, record)


@router.post(
    "/initiatives/{initiative_id}/publish",
    response_model=ModeratedInitiative,
    summary="Publish a submitted initiative",
    description="submitted → published: public from now on (`published_at`, `moderated_at`).",
    responses=errors(400, 401, 403, 404, 409),
)
async def publish_initiative(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    initiative_id: InitiativeId,
) -> ModeratedInitiative:
    return await _moved(request, response, session, initiative_id, "publish")


@router.post(
    "/initiatives/{initiative_id}/reject",
    response_model=ModeratedInitiative,
    summary="Reject a submitted initiative, with a reason and a message for the proposer",
    description="submitted → rejected. The proposer reads the status, the reason, the message "
    "and the date through the private status link.",
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def reject_initiative(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    initiative_id: InitiativeId,
    body: Rejection,
) -> ModeratedInitiative:
    return await _moved(request, response, session, initiative_id, "reject", body)


@router.post(
    "/initiatives/{initiative_id}/archive",
    response_model=ModeratedInitiative,
    summary="Archive a published initiative",
    description="published → archived: it leaves the public data (the change feed reports it "
    "deleted). An optional reason and message are kept for the proposer.",
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def archive_initiative(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    initiative_id: InitiativeId,
    body: Archival | None = None,
) -> ModeratedInitiative:
    return await _moved(request, response, session, initiative_id, "archive", body)


@router.post(
    "/initiatives/{initiative_id}/reopen",
    response_model=ModeratedInitiative,
    summary="Put a rejected initiative back in the queue",
    description="rejected → submitted (the reason and message are cleared); it can then be "
    "published or rejected again.",
    responses=errors(400, 401, 403, 404, 409),
)
async def reopen_initiative(
    request: Request,
    response: Response,
    caller: ModeratorDep,
    session: SessionDep,
    initiative_id: InitiativeId,
) -> ModeratedInitiative:
    return await _moved(request, response, session, initiative_id, "reopen")
