"""The change feed, for harvesters that mirror the data."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import StringConstraints

from app.db import SessionDep
from app.errors import InvalidParameterError
from app.routers.params import DEFAULT_LIMIT, Limit, StrictQuery, UpdatedSince, cursor_parameter
from app.schemas.problem import problem_responses
from app.schemas.publication import ChangePage
from app.services import changes as service
from app.services.registry import REGISTRY
from app.services.registry_spec import IDENTIFIER_PATTERN

router = APIRouter(prefix="/v1", tags=["changes"], dependencies=[StrictQuery])

FeedCursor = Annotated[
    str | None,
    cursor_parameter(
        service.encode_position(0, 0),
        "Where to resume: `next_cursor` of a previous page. Without it, the feed starts at the "
        "beginning (every record published is there as an insert).",
    ),
]
DatasetFilter = Annotated[
    list[Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=40)]] | None,
    Query(
        description="Only changes of these datasets (repeat the parameter): "
        + ", ".join(REGISTRY.identifiers()),
    ),
]


@router.get(
    "/changes",
    response_model=ChangePage,
    summary="What changed: creations, updates and deletions, in order",
    description="Every insert, update and delete of the published datasets since `cursor`, in "
    "a stable order. Each entry carries the record as it is now, or null when it no longer "
    "exists: applying the entries in order (null: delete the key; otherwise: upsert the "
    "record) mirrors the data exactly. Keep `next_cursor` and call again later; `has_more` "
    "says whether to call again at once. A change appears once the transactions that began "
    "before it have ended.",
    responses=problem_responses(400),
)
async def list_changes(
    request: Request,
    response: Response,
    session: SessionDep,
    since: UpdatedSince,
    dataset: DatasetFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: FeedCursor = None,
) -> ChangePage:
    chosen = sorted(set(dataset)) if dataset else None
    for name in chosen or ():
        if REGISTRY.get(name) is None:
            known = ", ".join(REGISTRY.identifiers())
            raise InvalidParameterError(
                "query", "dataset", f"unknown dataset; the datasets are: {known}"
            )
    base = request.app.state.settings.public_base_url or str(request.base_url)
    page = await service.list_changes(
        session, cursor=cursor, limit=limit, datasets=chosen, since=since, base_url=base
    )
    if page.has_more:
        url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return page
