"""Indicators: definitions, series of values (JSON and CSV) and progress towards the target."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.db import SessionDep
from app.errors import InvalidParameterError
from app.models.follow_up import INDICATOR_CODE_PATTERN, ValueKind
from app.repositories.indicator import IndicatorFilters, ValueFilters
from app.routers.params import DEFAULT_LIMIT, Limit, StrictQuery, cursor_parameter, paged
from app.schemas.common import CODE_PATTERN, INSEE_PATTERN, Page, SearchText
from app.schemas.indicator import (
    INDICATOR_EXAMPLE,
    IndicatorDetail,
    IndicatorOut,
    IndicatorProgress,
    ValueOut,
)
from app.schemas.problem import problem_responses
from app.services import indicator as service
from app.services.pagination import encode_indicator_cursor, encode_value_cursor

router = APIRouter(prefix="/v1", tags=["indicators"], dependencies=[StrictQuery])

IndicatorCode = Annotated[
    str,
    Path(
        pattern=INDICATOR_CODE_PATTERN,
        max_length=40,
        description="Permanent code of the indicator.",
        examples=[INDICATOR_EXAMPLE],
    ),
]
NodeFilter = Annotated[
    str | None,
    Query(
        pattern=CODE_PATTERN,
        max_length=40,
        description="Code of an axis, ambition, objective or action: indicators that measure it "
        "or a record below it.",
        examples=["2.2"],
    ),
]
CommuneFilter = Annotated[
    str | None, Query(pattern=INSEE_PATTERN, description="INSEE code of a commune.")
]
IndicatorCursor = Annotated[str | None, cursor_parameter(encode_indicator_cursor("a"))]
ValueCursor = Annotated[str | None, cursor_parameter(encode_value_cursor(date.min, 1))]
KindFilter = Annotated[
    list[ValueKind] | None,
    Query(description="Only values of these kinds (repeat the parameter)."),
]
Since = Annotated[
    date | None,
    Query(
        description="Only values whose date or period ends on or after this day (ISO 8601).",
        examples=["2016-01-01"],
    ),
]
Until = Annotated[
    date | None,
    Query(
        description="Only values whose date or period starts on or before this day (ISO 8601).",
        examples=["2030-12-31"],
    ),
]


def _value_filters(
    kind: list[ValueKind] | None, commune: str | None, since: date | None, until: date | None
) -> ValueFilters:
    if since is not None and until is not None and until < since:
        raise InvalidParameterError("query", "until", f"{until} precedes since ({since})")
    return ValueFilters(
        # A set: each value is one bind parameter, and PostgreSQL takes at most 32 767.
        kinds=sorted({k.value for k in kind}) if kind else None,
        commune=commune,
        since=since,
        until=until,
    )


@router.get(
    "/indicators",
    response_model=Page[IndicatorOut],
    summary="List the indicators",
    responses=problem_responses(400),
)
async def list_indicators(
    request: Request,
    response: Response,
    session: SessionDep,
    node: NodeFilter = None,
    commune: Annotated[
        str | None,
        Query(pattern=INSEE_PATTERN, description="Only indicators with values for this commune."),
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(description="Text the code, name or description contains (case, accents ignored)."),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: IndicatorCursor = None,
) -> Page[IndicatorOut]:
    filters = IndicatorFilters(q=q, commune=commune, node=node)
    page = await service.list_indicators(session, filters, cursor, limit)
    return paged(request, response, page)


@router.get(
    "/indicators/{code}",
    response_model=IndicatorDetail,
    summary="One indicator with its latest result and current target",
    responses=problem_responses(400, 404),
)
async def get_indicator(code: IndicatorCode, session: SessionDep) -> IndicatorDetail:
    return await service.get_indicator(session, code)


@router.get(
    "/indicators/{code}/values",
    response_model=Page[ValueOut],
    summary="The values of an indicator, in date order",
    responses=problem_responses(400, 404),
)
async def list_indicator_values(
    request: Request,
    response: Response,
    code: IndicatorCode,
    session: SessionDep,
    kind: KindFilter = None,
    commune: CommuneFilter = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: ValueCursor = None,
) -> Page[ValueOut]:
    filters = _value_filters(kind, commune, since, until)
    page = await service.list_values(session, code, filters, cursor, limit)
    return paged(request, response, page)


@router.get(
    "/indicators/{code}/values.csv",
    response_class=Response,
    summary="The values of an indicator as CSV",
    description='UTF-8, comma-separated, `"` quoting, ISO 8601 dates, `.` decimals, INSEE '
    "codes as text; the whole filtered series (no paging).",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **problem_responses(400, 404),
    },
)
async def get_indicator_values_csv(
    code: IndicatorCode,
    session: SessionDep,
    kind: KindFilter = None,
    commune: CommuneFilter = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    body = await service.values_csv(session, code, _value_filters(kind, commune, since, until))
    return Response(
        content=body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}.csv"'},
    )


@router.get(
    "/indicators/{code}/progress",
    response_model=IndicatorProgress,
    summary="Progress of an indicator towards its target, with the formula",
    responses=problem_responses(400, 404),
)
async def get_indicator_progress(
    code: IndicatorCode,
    session: SessionDep,
    commune: Annotated[
        str | None,
        Query(pattern=INSEE_PATTERN, description="A commune's series; the territory's if absent."),
    ] = None,
) -> IndicatorProgress:
    return await service.indicator_progress(session, code, commune)
