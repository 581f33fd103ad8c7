"""Editing the plan and its follow-up (editor key): POST on a collection, PATCH (a JSON merge
patch, If-Match required) and DELETE on the record's public URL; deletions and their restoration.

The routes live by concept: `editing_plan` (nodes, an action's history), `editing_follow_up`
(budget lines, milestones), `editing_indicators` (indicators, values); the sequence they share
is in `editing_base`. This module gathers them, in that order, with the deletions."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.auth import EditorDep
from app.db import SessionDep
from app.routers import editing_follow_up, editing_indicators, editing_plan
from app.routers.admin import IdCursor
from app.routers.editing_base import WriterDep
from app.routers.params import DEFAULT_LIMIT, Limit, StrictQuery, paged
from app.schemas.common import Page
from app.schemas.editing import DeletionOut, RestoreOut
from app.schemas.problem import problem_responses
from app.services import audit

router = APIRouter()
for _concept in (editing_plan, editing_follow_up, editing_indicators):
    router.include_router(_concept.router)

deletions = APIRouter(prefix="/v1", tags=["editing"], dependencies=[StrictQuery])

DeletionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The deletion's id.")]


@deletions.get(
    "/deletions",
    response_model=Page[DeletionOut],
    summary="The deletions made through the API, newest first (editor)",
    responses=problem_responses(400, 401, 403),
)
async def list_deletions(
    request: Request,
    response: Response,
    caller: EditorDep,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: IdCursor = None,
) -> Page[DeletionOut]:
    page = await audit.deletions(session, cursor, limit)
    return paged(request, response, page)


@deletions.post(
    "/deletions/{deletion_id}/restore",
    response_model=RestoreOut,
    summary="Restore a deletion: every row it removed, as it was, in one transaction (editor)",
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def restore_deletion(
    _: WriterDep, session: SessionDep, deletion_id: DeletionId
) -> RestoreOut:
    return await audit.restore(session, deletion_id)


router.include_router(deletions)
