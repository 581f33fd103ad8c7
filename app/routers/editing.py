"""Editing the plan and its follow-up (editor key): POST on a collection, PATCH (a JSON merge
patch, If-Match required) and DELETE on the record's public URL; deletions and their restoration;
an action's public history."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import BaseModel

from app.auth import EditorDep
from app.db import SessionDep
from app.preconditions import current_etags, require_if_match
from app.routers.admin import IdCursor
from app.routers.indicators import IndicatorCode
from app.routers.params import DEFAULT_LIMIT, Limit, StrictQuery, link_next
from app.routers.plan import ActionCode
from app.schemas.common import Page
from app.schemas.editing import (
    ActionCreate,
    ActionHistory,
    ActionPatch,
    BudgetCreate,
    BudgetLineRecord,
    BudgetPatch,
    DeletionOut,
    IndicatorCreate,
    IndicatorPatch,
    IndicatorValueOut,
    MilestoneCreate,
    MilestonePatch,
    MilestoneRecord,
    NodeCreate,
    NodePatch,
    RestoreOut,
    ValueCreate,
    ValuePatch,
)
from app.schemas.indicator import IndicatorDetail
from app.schemas.plan import ActionDetail, AmbitionDetail, AxisDetail, ObjectiveDetail
from app.schemas.problem import problem_responses
from app.services import audit
from app.services import editing as service
from app.services import editing_follow_up as follow_up_service
from app.services import editing_indicators as indicators_service
from app.services import indicator as indicator_service
from app.services import plan as plan_service
from app.services.keys import Caller

router = APIRouter(prefix="/v1", tags=["editing"], dependencies=[StrictQuery])

CREATED = problem_responses(401, 403, 404, 409, 422)
PATCHED = problem_responses(400, 401, 403, 404, 409, 412, 422, 428)
DELETED = problem_responses(400, 401, 403, 404, 409, 412)


# A PATCH body is a JSON merge patch (RFC 7396), declared under that one media type; the server
# reads it as well when sent as application/json (or without a Content-Type).
MERGE_PATCH = "application/merge-patch+json"


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
ValueId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The value's id.")]
DeletionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The deletion's id.")]


async def writer(caller: EditorDep, session: SessionDep) -> Caller:
    """An editor's write: authenticated first, then serialised with the others."""
    await service.serialise(session)
    return caller


WriterDep = Annotated[Caller, Depends(writer)]


async def _answer(
    request: Request, response: Response, path: str, status: int, session: SessionDep
) -> None:
    """Status, Location (on creation) and the ETag a GET of `path` now carries."""
    scope = {**request.scope, "path": path, "raw_path": path.encode(), "method": "GET"}
    etag, _ = await current_etags(Request(scope), session)
    response.status_code = status
    response.headers["ETag"] = etag
    if status == 201:
        response.headers["Location"] = path


async def _if_match_when_sent(request: Request, session: SessionDep) -> None:
    if request.headers.get("if-match") is not None:
        await require_if_match(request, session)


# --- the plan ---------------------------------------------------------------------------------

DETAILS: dict[str, tuple[type[BaseModel], Callable[[Any, str], Awaitable[Any]]]] = {
    "axes": (AxisDetail, plan_service.get_axis),
    "ambitions": (AmbitionDetail, plan_service.get_ambition),
    "objectives": (ObjectiveDetail, plan_service.get_objective),
    "actions": (ActionDetail, plan_service.get_action),
}


def _plan_routes(collection: str, example: str) -> None:
    level = service.LEVELS[collection]
    detail, read = DETAILS[collection]
    create_body = ActionCreate if level is service.ACTIONS else NodeCreate
    patch_body = ActionPatch if level is service.ACTIONS else NodePatch
    code_path = Path(
        pattern=rf"^[1-9][0-9]{{0,5}}(\.[1-9][0-9]{{0,5}}){{{level.depth - 1}}}$",
        max_length=40,
        description=f"Permanent code of the {level.name}.",
        examples=[example],
    )

    async def create(
        request: Request, response: Response, caller: WriterDep, session: SessionDep, body: Any
    ) -> Any:
        code = await service.create_node(session, level, body)
        await _answer(request, response, f"/v1/{collection}/{code}", 201, session)
        return await read(session, code)

    async def patch(
        request: Request,
        response: Response,
        caller: WriterDep,
        session: SessionDep,
        code: Annotated[str, code_path],
        body: Any,
    ) -> Any:
        await read(session, code)  # 404 first
        await require_if_match(request, session)
        await service.update_node(session, level, code, body)
        await _answer(request, response, request.url.path, 200, session)
        return await read(session, code)

    async def remove(
        request: Request, caller: WriterDep, session: SessionDep, code: Annotated[str, code_path]
    ) -> Response:
        await read(session, code)
        await _if_match_when_sent(request, session)
        await service.delete_node(session, level, code, request.url.path)
        return Response(status_code=204)

    create.__annotations__["body"] = create_body
    patch.__annotations__["body"] = Annotated[patch_body, Body(media_type=MERGE_PATCH)]
    router.add_api_route(
        f"/{collection}",
        create,
        methods=["POST"],
        name=f"create_{level.name}",
        response_model=detail,
        status_code=201,
        summary=f"Create a {level.name} (editor)",
        responses=CREATED,
    )
    router.add_api_route(
        f"/{collection}/{{code}}",
        patch,
        methods=["PATCH"],
        name=f"update_{level.name}",
        response_model=detail,
        summary=f"Change a {level.name} (editor; JSON merge patch, If-Match)",
        responses=PATCHED,
    )
    router.add_api_route(
        f"/{collection}/{{code}}",
        remove,
        methods=["DELETE"],
        name=f"delete_{level.name}",
        status_code=204,
        response_class=Response,
        summary=f"Delete a {level.name} (editor; restorable)",
        responses=DELETED,
    )


for _collection, _example in (
    ("axes", "1"),
    ("ambitions", "1.2"),
    ("objectives", "1.2.1"),
    ("actions", "1.2.1.1"),
):
    _plan_routes(_collection, _example)


@router.get(
    "/actions/{code}/history",
    response_model=ActionHistory,
    tags=["plan"],
    summary="The public history of an action: its status and progress changes, with dates",
    responses=problem_responses(400, 404),
)
async def get_action_history(code: ActionCode, session: SessionDep) -> ActionHistory:
    return await audit.action_history(session, code)


# --- budget lines and milestones ----------------------------------------------------------------


@router.get(
    "/actions/{code}/budget/{line_key}",
    response_model=BudgetLineRecord,
    tags=["plan"],
    summary="One budget line of an action",
    responses=problem_responses(400, 404),
)
async def get_budget_line(code: ActionCode, line_key: LineKey, session: SessionDep) -> Any:
    return await follow_up_service.get_budget_line(session, code, line_key)


@router.post(
    "/actions/{code}/budget",
    response_model=BudgetLineRecord,
    status_code=201,
    summary="Add a budget line to an action (editor)",
    responses=CREATED,
)
async def create_budget_line(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: ActionCode,
    body: BudgetCreate,
) -> Any:
    key = await follow_up_service.create_budget_line(session, code, body)
    await _answer(request, response, f"/v1/actions/{code}/budget/{key}", 201, session)
    return await follow_up_service.get_budget_line(session, code, key)


@router.patch(
    "/actions/{code}/budget/{line_key}",
    response_model=BudgetLineRecord,
    summary="Change a budget line (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_budget_line(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: ActionCode,
    line_key: LineKey,
    body: Annotated[BudgetPatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    await follow_up_service.get_budget_line(session, code, line_key)
    await require_if_match(request, session)
    await follow_up_service.update_budget_line(session, code, line_key, body)
    await _answer(request, response, request.url.path, 200, session)
    return await follow_up_service.get_budget_line(session, code, line_key)


@router.delete(
    "/actions/{code}/budget/{line_key}",
    status_code=204,
    response_class=Response,
    summary="Delete a budget line (editor; restorable)",
    responses=DELETED,
)
async def delete_budget_line(
    request: Request, caller: WriterDep, session: SessionDep, code: ActionCode, line_key: LineKey
) -> Response:
    await follow_up_service.get_budget_line(session, code, line_key)
    await _if_match_when_sent(request, session)
    await follow_up_service.delete_budget_line(session, code, line_key, request.url.path)
    return Response(status_code=204)


@router.get(
    "/actions/{code}/milestones/{key}",
    response_model=MilestoneRecord,
    tags=["plan"],
    summary="One milestone of an action",
    responses=problem_responses(400, 404),
)
async def get_milestone(code: ActionCode, key: MilestoneKey, session: SessionDep) -> Any:
    return await follow_up_service.get_milestone(session, code, key)


@router.post(
    "/actions/{code}/milestones",
    response_model=MilestoneRecord,
    status_code=201,
    summary="Add a milestone to an action (editor)",
    responses=CREATED,
)
async def create_milestone(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: ActionCode,
    body: MilestoneCreate,
) -> Any:
    key = await follow_up_service.create_milestone(session, code, body)
    await _answer(request, response, f"/v1/actions/{code}/milestones/{key}", 201, session)
    return await follow_up_service.get_milestone(session, code, key)


@router.patch(
    "/actions/{code}/milestones/{key}",
    response_model=MilestoneRecord,
    summary="Change a milestone (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_milestone(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: ActionCode,
    key: MilestoneKey,
    body: Annotated[MilestonePatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    await follow_up_service.get_milestone(session, code, key)
    await require_if_match(request, session)
    await follow_up_service.update_milestone(session, code, key, body)
    await _answer(request, response, request.url.path, 200, session)
    return await follow_up_service.get_milestone(session, code, key)


@router.delete(
    "/actions/{code}/milestones/{key}",
    status_code=204,
    response_class=Response,
    summary="Delete a milestone (editor; restorable)",
    responses=DELETED,
)
async def delete_milestone(
    request: Request, caller: WriterDep, session: SessionDep, code: ActionCode, key: MilestoneKey
) -> Response:
    await follow_up_service.get_milestone(session, code, key)
    await _if_match_when_sent(request, session)
    await follow_up_service.delete_milestone(session, code, key, request.url.path)
    return Response(status_code=204)


# --- indicators and values ---------------------------------------------------------------------


@router.post(
    "/indicators",
    response_model=IndicatorDetail,
    status_code=201,
    summary="Create an indicator (editor)",
    responses=CREATED,
)
async def create_indicator(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    body: IndicatorCreate,
) -> Any:
    code = await indicators_service.create_indicator(session, body)
    await _answer(request, response, f"/v1/indicators/{code}", 201, session)
    return await indicator_service.get_indicator(session, code)


@router.patch(
    "/indicators/{code}",
    response_model=IndicatorDetail,
    summary="Change an indicator and what it measures (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_indicator(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: IndicatorCode,
    body: Annotated[IndicatorPatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    await indicator_service.get_indicator(session, code)
    await require_if_match(request, session)
    await indicators_service.update_indicator(session, code, body)
    await _answer(request, response, request.url.path, 200, session)
    return await indicator_service.get_indicator(session, code)


@router.delete(
    "/indicators/{code}",
    status_code=204,
    response_class=Response,
    summary="Delete an indicator with its values (editor; restorable)",
    responses=DELETED,
)
async def delete_indicator(
    request: Request, caller: WriterDep, session: SessionDep, code: IndicatorCode
) -> Response:
    await indicator_service.get_indicator(session, code)
    await _if_match_when_sent(request, session)
    await indicators_service.delete_indicator(session, code, request.url.path)
    return Response(status_code=204)


@router.get(
    "/indicators/{code}/values/{value_id}",
    response_model=IndicatorValueOut,
    tags=["indicators"],
    summary="One value of an indicator",
    responses=problem_responses(400, 404),
)
async def get_indicator_value(code: IndicatorCode, value_id: ValueId, session: SessionDep) -> Any:
    return await indicators_service.get_value(session, code, value_id)


@router.post(
    "/indicators/{code}/values",
    response_model=IndicatorValueOut,
    status_code=201,
    summary="Add a value to an indicator's series (editor)",
    responses=CREATED,
)
async def create_indicator_value(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: IndicatorCode,
    body: ValueCreate,
) -> Any:
    value_id = await indicators_service.create_value(session, code, body)
    await _answer(request, response, f"/v1/indicators/{code}/values/{value_id}", 201, session)
    return await indicators_service.get_value(session, code, value_id)


@router.patch(
    "/indicators/{code}/values/{value_id}",
    response_model=IndicatorValueOut,
    summary="Change a value (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_indicator_value(
    request: Request,
    response: Response,
    caller: WriterDep,
    session: SessionDep,
    code: IndicatorCode,
    value_id: ValueId,
    body: Annotated[ValuePatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    await indicators_service.get_value(session, code, value_id)
    await require_if_match(request, session)
    await indicators_service.update_value(session, code, value_id, body)
    await _answer(request, response, request.url.path, 200, session)
    return await indicators_service.get_value(session, code, value_id)


@router.delete(
    "/indicators/{code}/values/{value_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a value (editor; restorable)",
    responses=DELETED,
)
async def delete_indicator_value(
    request: Request, caller: WriterDep, session: SessionDep, code: IndicatorCode, value_id: ValueId
) -> Response:
    await indicators_service.get_value(session, code, value_id)
    await _if_match_when_sent(request, session)
    await indicators_service.delete_value(session, code, value_id, request.url.path)
    return Response(status_code=204)


# --- deletions -----------------------------------------------------------------------------------


@router.get(
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
    link_next(request, response, page.next_cursor)
    return page


@router.post(
    "/deletions/{deletion_id}/restore",
    response_model=RestoreOut,
    summary="Restore a deletion: every row it removed, as it was, in one transaction (editor)",
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def restore_deletion(
    caller: WriterDep, session: SessionDep, deletion_id: DeletionId
) -> RestoreOut:
    return await audit.restore(session, deletion_id)
