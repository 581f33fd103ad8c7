"""Full-text search in French across the plan, its milestones, the initiatives and the
indicators, with the lists' filters."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import StringConstraints

from app.db import SessionDep
from app.models.plan import ActionStatus
from app.routers.params import (
    DEFAULT_LIMIT,
    Limit,
    StrictQuery,
    UpdatedSince,
    cursor_parameter,
    paged,
)
from app.schemas.common import INSEE_PATTERN, Page, SearchText, code_pattern
from app.schemas.problem import problem_responses
from app.schemas.publication import SearchHit
from app.services import search as service
from app.services.initiative import MAX_DISTANCE_METRES
from app.services.registry_spec import IDENTIFIER_PATTERN

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[StrictQuery])

SearchCursor = Annotated[
    str | None,
    cursor_parameter(service.encode_cursor(0.1, 3, [1, 2, 1, 1])),
]
DatasetFilter = Annotated[
    list[Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=40)]] | None,
    Query(
        description="Only these datasets (repeat the parameter): "
        + ", ".join(service.searchable_datasets()),
    ),
]


def _within(level: str, example: str) -> object:
    if level == "action":
        description = (
            "Code of an action: that action, its milestones, the indicators measuring it (the "
            "indicators list's `node`), the initiatives linked to it (their list's `action`). "
            "The plan levels above actions are left out."
        )
    else:
        description = (
            f"Code of an {level}: that record and the records of the plan below it, the "
            "milestones of actions within it, the indicators measuring a record within it (the "
            "indicators list's `node`), "
            + (
                "the initiatives of that category (their list's `category`)."
                if level == "axis"
                else "the initiatives linked to an action within it. The plan levels above "
                f"the {level} are left out."
            )
        )
    return Query(
        pattern=code_pattern(example.count(".") + 1),
        max_length=40,
        description=description,
        examples=[example],
    )


DESCRIPTION = """\
Full-text search with PostgreSQL's French stemming, accents and case ignored ("renovation" finds
"rénovation"), across the plan (axes, ambitions, objectives, actions), the actions' milestones,
the published initiatives and the indicators. Web-search syntax: words, "a phrase", `or`,
`-word`; any other character is taken as text, never as an operator. Hits are ranked, with the
matching fragments highlighted.

The lists' filters apply to each dataset they make sense for, and leave out the others:
`commune` (plan records concerning it, milestones of actions concerning it, initiatives located
in it, indicators with values for it); `axis`, `ambition`, `objective`, `action` (see each);
`status` (actions only); `bbox` and `near` (initiatives and located actions only);
`updated_since` (all). Budget lines are not searched: their only text is a comment on figures.
"""


@router.get(
    "/search",
    response_model=Page[SearchHit],
    summary="Search the plan, milestones, initiatives and indicators in French",
    description=DESCRIPTION,
    responses=problem_responses(400),
)
async def search(
    request: Request,
    response: Response,
    session: SessionDep,
    q: Annotated[SearchText, Query(description="What to search for.", examples=["rénovation"])],
    since: UpdatedSince,
    dataset: DatasetFilter = None,
    axis: Annotated[str | None, _within("axis", "1")] = None,
    ambition: Annotated[str | None, _within("ambition", "1.2")] = None,
    objective: Annotated[str | None, _within("objective", "1.2.1")] = None,
    action: Annotated[str | None, _within("action", "1.2.1.1")] = None,
    status: Annotated[
        list[ActionStatus] | None,
        Query(
            description="Only actions with one of these statuses (repeat the parameter); the "
            "other datasets, which have no action status, are left out."
        ),
    ] = None,
    commune: Annotated[
        str | None,
        Query(
            pattern=INSEE_PATTERN,
            description="INSEE code of a commune: what concerns it, is located in it or has "
            "values for it.",
            examples=["62510"],
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="min lon, min lat, max lon, max lat (WGS84): initiatives and located "
            "actions intersecting the box; the other datasets are left out.",
            examples=["2.80,50.40,2.86,50.45"],
        ),
    ] = None,
    near: Annotated[
        str | None,
        Query(
            max_length=100,
            description="`lon,lat,metres`: initiatives and located actions within that many "
            f"metres (at most {MAX_DISTANCE_METRES}) of the WGS84 point; the other datasets are "
            "left out.",
            examples=["2.828254,50.426818,2000"],
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: SearchCursor = None,
) -> Page[SearchHit]:
    filters = service.search_filters(
        datasets=dataset,
        commune=commune,
        plan={"axis": axis, "ambition": ambition, "objective": objective, "action": action},
        statuses=[s.value for s in status] if status else None,
        updated_since=since,
        bbox=bbox,
        near=near,
    )
    base = request.app.state.settings.public_base_url or str(request.base_url)
    page = await service.search(session, q, filters, cursor, limit, base)
    return paged(request, response, page)
