"""Full-text search in French across the plan."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import StringConstraints

from app.db import SessionDep
from app.errors import InvalidParameterError
from app.repositories.search import SearchFilters
from app.routers.params import (
    DEFAULT_LIMIT,
    Limit,
    StrictQuery,
    UpdatedSince,
    cursor_parameter,
    link_next,
)
from app.routers.plan import (
    AmbitionFilter,
    AxisFilter,
    CommuneFilter,
    ObjectiveFilter,
    StatusFilter,
)
from app.schemas.common import Page, SearchText
from app.schemas.problem import problem_responses
from app.schemas.publication import SearchHit
from app.services import search as service
from app.services.registry import IDENTIFIER_PATTERN

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[StrictQuery])

SearchCursor = Annotated[
    str | None,
    cursor_parameter(
        service.encode_cursor(0.1, 3, [1, 2, 1, 1]),
        "Opaque position returned as `next_cursor` by the previous page.",
    ),
]
DatasetFilter = Annotated[
    list[Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=40)]] | None,
    Query(
        description="Only these datasets (repeat the parameter): "
        + ", ".join(service.searchable_datasets()),
    ),
]


@router.get(
    "/search",
    response_model=Page[SearchHit],
    summary="Search the plan in French",
    description="Full-text search with PostgreSQL's French stemming, accents and case ignored "
    '("renovation" finds "rénovation"). Web-search syntax: words, "a phrase", `or`, `-word`. '
    "Hits are ranked, with the matching fragments highlighted; the lists' filters apply.",
    responses=problem_responses(400),
)
async def search(
    request: Request,
    response: Response,
    session: SessionDep,
    q: Annotated[SearchText, Query(description="What to search for.", examples=["rénovation"])],
    since: UpdatedSince,
    dataset: DatasetFilter = None,
    axis: AxisFilter = None,
    ambition: AmbitionFilter = None,
    objective: ObjectiveFilter = None,
    status: StatusFilter = None,
    commune: CommuneFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: SearchCursor = None,
) -> Page[SearchHit]:
    chosen = sorted(set(dataset)) if dataset else None
    known = service.searchable_datasets()
    for name in chosen or ():
        if name not in known:
            raise InvalidParameterError(
                "query",
                "dataset",
                f"not searchable; the searchable datasets are: {', '.join(known)}",
            )
    filters = SearchFilters(
        datasets=chosen,
        commune=commune,
        axis=axis,
        ambition=ambition,
        objective=objective,
        statuses=sorted({s.value for s in status}) if status else None,
        updated_since=since,
    )
    base = request.app.state.settings.public_base_url or str(request.base_url)
    page = await service.search(session, q, filters, cursor, limit, base)
    link_next(request, response, page.next_cursor)
    return page
