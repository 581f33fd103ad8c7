"""Editing the plan's nodes (axes, ambitions, objectives, actions: one set of routes a level), and
an action's public history."""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel

from app.db import SessionDep
from app.routers.editing_base import CREATED, DELETED, MERGE_PATCH, PATCHED, EditDep
from app.routers.params import StrictQuery
from app.routers.plan import ActionCode
from app.schemas.editing import ActionCreate, ActionHistory, ActionPatch, NodeCreate, NodePatch
from app.schemas.plan import ActionDetail, AmbitionDetail, AxisDetail, ObjectiveDetail
from app.schemas.problem import problem_responses
from app.services import audit
from app.services import editing as service
from app.services import plan as plan_service

router = APIRouter(prefix="/v1", tags=["editing"], dependencies=[StrictQuery])

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

    async def create(edit: EditDep, body: Any) -> Any:
        return await edit.create(
            partial(service.create_node, edit.session, level, body),
            lambda code: f"/v1/{collection}/{code}",
            partial(read, edit.session),
        )

    async def patch(edit: EditDep, code: Annotated[str, code_path], body: Any) -> Any:
        return await edit.patch(
            partial(service.check_node, edit.session, level, code),
            partial(service.update_node, edit.session, level, code, body),
            partial(read, edit.session, code),
        )

    async def remove(edit: EditDep, code: Annotated[str, code_path]) -> Response:
        return await edit.delete(
            partial(service.check_node, edit.session, level, code),
            partial(service.delete_node, edit.session, level, code),
            partial(read, edit.session, code),
        )

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
