"""The plan: each level as a paged list and by code, and the whole tree."""

from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from app.db import SessionDep
from app.models.plan import ActionStatus
from app.preconditions import representation_etags
from app.repositories.plan import NodeFilters
from app.routers.params import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    StrictQuery,
    UpdatedSince,
    paged,
)
from app.schemas.common import INSEE_PATTERN, Page, SearchText, code_pattern
from app.schemas.follow_up import ActionBudget, BudgetReport, Timeline
from app.schemas.plan import (
    ActionDetail,
    ActionOut,
    AmbitionDetail,
    AmbitionOut,
    AxisDetail,
    AxisOut,
    ObjectiveDetail,
    ObjectiveOut,
    PlanTree,
)
from app.schemas.problem import problem_responses
from app.services import follow_up
from app.services import plan as service
from app.services.follow_up import Level

router = APIRouter(prefix="/v1", tags=["plan"], dependencies=[StrictQuery])

Detail = TypeVar("Detail", bound=BaseModel)


def own_etag(request: Request, response: Response, record: Detail) -> Detail:
    """A node's page carries the ETag of its own representation, as its editors' writes check."""
    response.headers["ETag"] = representation_etags(request, record)[0]
    return record


def _code(level: str, example: str) -> object:
    depth = example.count(".") + 1
    return Path(
        pattern=code_pattern(depth),
        max_length=40,
        description=f"Permanent code of the {level} ({depth} dot-separated numbers).",
        examples=[example],
    )


def _parent(level: str, example: str) -> object:
    return Query(
        pattern=code_pattern(example.count(".") + 1),
        max_length=40,
        description=f"Code of the parent {level}.",
        examples=[example],
    )


AxisCode = Annotated[str, _code("axis", "1")]
AmbitionCode = Annotated[str, _code("ambition", "1.2")]
ObjectiveCode = Annotated[str, _code("objective", "1.2.1")]
ActionCode = Annotated[str, _code("action", "1.2.1.1")]

Q = Annotated[
    SearchText | None,
    Query(description="Text the code, title or description contains (case and accents ignored)."),
]
CommuneFilter = Annotated[
    str | None,
    Query(pattern=INSEE_PATTERN, description="INSEE code of a commune the actions concern."),
]


AxisFilter = Annotated[str | None, _parent("axis", "1")]
AmbitionFilter = Annotated[str | None, _parent("ambition", "1.2")]
ObjectiveFilter = Annotated[str | None, _parent("objective", "1.2.1")]
StatusFilter = Annotated[
    list[ActionStatus] | None,
    Query(description="Only actions with one of these statuses (repeat the parameter)."),
]

LIST_ERRORS = problem_responses(400)
DETAIL_ERRORS = problem_responses(400, 404)


@router.get(
    "/plan",
    response_model=PlanTree,
    summary="The whole plan as one tree",
    description="Axes with their ambitions, operational objectives and actions, nested, with the "
    "counts the source document declares beside those published.",
    responses=problem_responses(404),
)
async def get_plan_tree(session: SessionDep) -> PlanTree:
    return await service.plan_tree(session)


@router.get("/axes", response_model=Page[AxisOut], summary="List the axes", responses=LIST_ERRORS)
async def list_axes(
    request: Request,
    response: Response,
    session: SessionDep,
    since: UpdatedSince,
    q: Q = None,
    commune: CommuneFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AxisOut]:
    filters = NodeFilters(q=q, commune=commune, updated_since=since)
    page = await service.list_axes(session, filters, cursor, limit)
    return paged(request, response, page)


@router.get(
    "/axes/{code}",
    response_model=AxisDetail,
    summary="One axis with its ambitions",
    responses=DETAIL_ERRORS,
)
async def get_axis(
    code: AxisCode, request: Request, response: Response, session: SessionDep
) -> AxisDetail:
    return own_etag(request, response, await service.get_axis(session, code))


@router.get(
    "/ambitions",
    response_model=Page[AmbitionOut],
    summary="List the ambitions",
    responses=LIST_ERRORS,
)
async def list_ambitions(
    request: Request,
    response: Response,
    session: SessionDep,
    since: UpdatedSince,
    axis: AxisFilter = None,
    q: Q = None,
    commune: CommuneFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AmbitionOut]:
    filters = NodeFilters(q=q, commune=commune, axis=axis, updated_since=since)
    page = await service.list_ambitions(session, filters, cursor, limit)
    return paged(request, response, page)


@router.get(
    "/ambitions/{code}",
    response_model=AmbitionDetail,
    summary="One ambition with its objectives",
    responses=DETAIL_ERRORS,
)
async def get_ambition(
    code: AmbitionCode, request: Request, response: Response, session: SessionDep
) -> AmbitionDetail:
    return own_etag(request, response, await service.get_ambition(session, code))


@router.get(
    "/objectives",
    response_model=Page[ObjectiveOut],
    summary="List the operational objectives",
    responses=LIST_ERRORS,
)
async def list_objectives(
    request: Request,
    response: Response,
    session: SessionDep,
    since: UpdatedSince,
    axis: AxisFilter = None,
    ambition: AmbitionFilter = None,
    q: Q = None,
    commune: CommuneFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ObjectiveOut]:
    filters = NodeFilters(q=q, commune=commune, axis=axis, ambition=ambition, updated_since=since)
    page = await service.list_objectives(session, filters, cursor, limit)
    return paged(request, response, page)


@router.get(
    "/objectives/{code}",
    response_model=ObjectiveDetail,
    summary="One operational objective with its actions",
    responses=DETAIL_ERRORS,
)
async def get_objective(
    code: ObjectiveCode, request: Request, response: Response, session: SessionDep
) -> ObjectiveDetail:
    return own_etag(request, response, await service.get_objective(session, code))


@router.get(
    "/actions",
    response_model=Page[ActionOut],
    summary="List the actions",
    responses=LIST_ERRORS,
)
async def list_actions(
    request: Request,
    response: Response,
    session: SessionDep,
    since: UpdatedSince,
    axis: AxisFilter = None,
    ambition: AmbitionFilter = None,
    objective: ObjectiveFilter = None,
    status: StatusFilter = None,
    q: Q = None,
    commune: CommuneFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ActionOut]:
    filters = NodeFilters(
        q=q,
        commune=commune,
        axis=axis,
        ambition=ambition,
        objective=objective,
        # A set: each value is one bind parameter, and PostgreSQL takes at most 32 767.
        statuses=sorted({s.value for s in status}) if status else None,
        updated_since=since,
    )
    page = await service.list_actions(session, filters, cursor, limit)
    return paged(request, response, page)


@router.get(
    "/actions/{code}",
    response_model=ActionDetail,
    summary="One action with its place in the plan",
    responses=DETAIL_ERRORS,
)
async def get_action(
    code: ActionCode, request: Request, response: Response, session: SessionDep
) -> ActionDetail:
    return own_etag(request, response, await service.get_action(session, code))


@router.get(
    "/actions/{code}/milestones",
    response_model=Timeline,
    summary="The public timeline of an action: its milestones",
    responses=DETAIL_ERRORS,
)
async def get_action_milestones(code: ActionCode, session: SessionDep) -> Timeline:
    return await follow_up.timeline(session, code)


@router.get(
    "/actions/{code}/budget",
    response_model=ActionBudget,
    summary="The budget lines of an action, per year and nature, with their totals",
    responses=DETAIL_ERRORS,
)
async def get_action_budget(code: ActionCode, session: SessionDep) -> ActionBudget:
    return await follow_up.action_budget(session, code)


@router.get(
    "/budget",
    response_model=BudgetReport,
    summary="Budget totals per axis, ambition, objective or action, and for the territory",
    responses=LIST_ERRORS,
)
async def get_budget(
    session: SessionDep,
    level: Annotated[Level, Query(description="The level whose records are totalled.")] = "axis",
    year: Annotated[
        int | None,
        Query(ge=1900, le=2200, description="One year; all years when absent.", examples=[2024]),
    ] = None,
) -> BudgetReport:
    return await follow_up.budget_report(session, level, year)
