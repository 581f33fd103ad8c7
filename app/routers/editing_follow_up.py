"""An action's follow-up, read one record at a time and edited: budget lines and milestones."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from app.db import SessionDep
from app.routers.editing_base import CREATED, DELETED, MERGE_PATCH, PATCHED, EditDep
from app.routers.params import StrictQuery
from app.routers.plan import ActionCode
from app.schemas.editing import (
    BudgetCreate,
    BudgetLineRecord,
    BudgetPatch,
    MilestoneCreate,
    MilestonePatch,
    MilestoneRecord,
)
from app.schemas.problem import problem_responses
from app.services import editing_follow_up as service

router = APIRouter(prefix="/v1", tags=["editing"], dependencies=[StrictQuery])

LineKey = Annotated[
    str,
    Path(
        pattern=r"^[1-9][0-9.]{0,39}-[0-9]{4}-(investment|operating)$",
        description="<action code>-<year>-<nature>",
        examples=["1.2.1.1-2024-investment"],
    ),
]
MilestoneKey = Annotated[
    str,
    Path(
        pattern=r"^[1-9][0-9.]{0,39}-[0-9]{1,5}$",
        description="<action code>-<position>",
        examples=["1.2.1.1-1"],
    ),
]


# --- budget lines --------------------------------------------------------------------------------


@router.get(
    "/actions/{code}/budget/{line_key}",
    response_model=BudgetLineRecord,
    tags=["plan"],
    summary="One budget line of an action",
    responses=problem_responses(400, 404),
)
async def get_budget_line(code: ActionCode, line_key: LineKey, session: SessionDep) -> Any:
    return await service.get_budget_line(session, code, line_key)


@router.post(
    "/actions/{code}/budget",
    response_model=BudgetLineRecord,
    status_code=201,
    summary="Add a budget line to an action (editor)",
    responses=CREATED,
)
async def create_budget_line(edit: EditDep, code: ActionCode, body: BudgetCreate) -> Any:
    return await edit.create(
        partial(service.create_budget_line, edit.session, code, body),
        lambda key: f"/v1/actions/{code}/budget/{key}",
        partial(service.get_budget_line, edit.session, code),
    )


@router.patch(
    "/actions/{code}/budget/{line_key}",
    response_model=BudgetLineRecord,
    summary="Change a budget line (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_budget_line(
    edit: EditDep,
    code: ActionCode,
    line_key: LineKey,
    body: Annotated[BudgetPatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    return await edit.patch(
        partial(service.check_budget_line, edit.session, code, line_key),
        partial(service.update_budget_line, edit.session, code, line_key, body),
        partial(service.get_budget_line, edit.session, code, line_key),
    )


@router.delete(
    "/actions/{code}/budget/{line_key}",
    status_code=204,
    response_class=Response,
    summary="Delete a budget line (editor; restorable)",
    responses=DELETED,
)
async def delete_budget_line(edit: EditDep, code: ActionCode, line_key: LineKey) -> Response:
    return await edit.delete(
        partial(service.check_budget_line, edit.session, code, line_key),
        partial(service.delete_budget_line, edit.session, code, line_key),
    )


# --- milestones ----------------------------------------------------------------------------------


@router.get(
    "/actions/{code}/milestones/{key}",
    response_model=MilestoneRecord,
    tags=["plan"],
    summary="One milestone of an action",
    responses=problem_responses(400, 404),
)
async def get_milestone(code: ActionCode, key: MilestoneKey, session: SessionDep) -> Any:
    return await service.get_milestone(session, code, key)


@router.post(
    "/actions/{code}/milestones",
    response_model=MilestoneRecord,
    status_code=201,
    summary="Add a milestone to an action (editor)",
    responses=CREATED,
)
async def create_milestone(edit: EditDep, code: ActionCode, body: MilestoneCreate) -> Any:
    return await edit.create(
        partial(service.create_milestone, edit.session, code, body),
        lambda key: f"/v1/actions/{code}/milestones/{key}",
        partial(service.get_milestone, edit.session, code),
    )


@router.patch(
    "/actions/{code}/milestones/{key}",
    response_model=MilestoneRecord,
    summary="Change a milestone (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_milestone(
    edit: EditDep,
    code: ActionCode,
    key: MilestoneKey,
    body: Annotated[MilestonePatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    return await edit.patch(
        partial(service.check_milestone, edit.session, code, key),
        partial(service.update_milestone, edit.session, code, key, body),
        partial(service.get_milestone, edit.session, code, key),
    )


@router.delete(
    "/actions/{code}/milestones/{key}",
    status_code=204,
    response_class=Response,
    summary="Delete a milestone (editor; restorable)",
    responses=DELETED,
)
async def delete_milestone(edit: EditDep, code: ActionCode, key: MilestoneKey) -> Response:
    return await edit.delete(
        partial(service.check_milestone, edit.session, code, key),
        partial(service.delete_milestone, edit.session, code, key),
    )
