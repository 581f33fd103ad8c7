"""Parsing at the edge: strict query parameters, paging, and the `Link` header."""

import re
from datetime import UTC, datetime
from types import UnionType
from typing import Annotated, Protocol, TypeVar, Union, get_args, get_origin
from urllib.parse import unquote_plus

from fastapi import Depends, Query, Request, Response, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from app.errors import InvalidParameterError

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

_allowed: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


def _declared(route: APIRoute) -> tuple[frozenset[str], frozenset[str]]:
    """Names of the route's query parameters, and of those that may repeat (lists)."""
    cached = _allowed.get(id(route))
    if cached is None:
        names: set[str] = set()
        repeatable: set[str] = set()
        for field in get_flat_params(route.dependant):
            if not isinstance(field.field_info, params.Query):
                continue
            names.add(field.alias)
            if _is_list(field.field_info.annotation):
                repeatable.add(field.alias)
        cached = (frozenset(names), frozenset(repeatable))
        _allowed[id(route)] = cached
    return cached


def _is_list(annotation: object) -> bool:
    if get_origin(annotation) is list:
        return True
    return get_origin(annotation) in (Union, UnionType) and any(
        _is_list(argument) for argument in get_args(annotation)
    )


def _not_utf8(query_string: bytes) -> str | None:
    """The name of the first parameter whose raw bytes are not UTF-8, if any."""
    for pair in query_string.split(b"&"):
        try:
            pair.decode()
        except UnicodeDecodeError:
            return unquote_plus(pair.partition(b"=")[0].decode("latin-1"))
    return None


async def strict_query(request: Request) -> None:
    """Reject query parameters the route does not declare, repeated single-valued ones, and raw
    bytes that are not UTF-8 (`request.url`, used for links, cannot decode them)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    undecodable = _not_utf8(request.scope.get("query_string", b""))
    if undecodable is not None:
        raise InvalidParameterError(
            "query", undecodable[:60], "not UTF-8; percent-encode the UTF-8 bytes of the value"
        )
    names, repeatable = _declared(route)
    for name in request.query_params:
        if name not in names:
            expected = ", ".join(sorted(names)) or "none"
            raise InvalidParameterError(
                "query", name[:60], f"unknown parameter; this route accepts: {expected}"
            )
        if name not in repeatable and len(request.query_params.getlist(name)) > 1:
            raise InvalidParameterError("query", name, "given more than once; give it once")


Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"Page size, 1 to {MAX_LIMIT}.",
    ),
]
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CURSOR_DESCRIPTION = "Opaque position returned as `next_cursor` by the previous page."


def cursor_parameter(example: str | None = None, description: str = CURSOR_DESCRIPTION) -> object:
    """The `cursor` query parameter of a paged list, with an example of the list's own cursors."""
    return Query(
        min_length=1,
        max_length=200,
        pattern=CURSOR_PATTERN,
        description=description,
        examples=None if example is None else [example],
    )


Cursor = Annotated[str | None, cursor_parameter()]


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Announce the next page as an RFC 8288 link, keeping the request's filters."""
    if next_cursor is None:
        return
    url = request.url.include_query_params(cursor=next_cursor)
    response.headers["Link"] = f'<{url}>; rel="next"'


class _Paged(Protocol):
    @property
    def next_cursor(self) -> str | None: ...


PageT = TypeVar("PageT", bound=_Paged)


def paged(request: Request, response: Response, page: PageT) -> PageT:
    """The page, its next one announced in the Link header (link_next)."""
    link_next(request, response, page.next_cursor)
    return page


StrictQuery = Depends(strict_query)

_RFC3339 = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def parse_rfc3339(value: str) -> datetime | None:
    """An RFC 3339 date-time (with its offset) in UTC, or None when it is not one."""
    match = _RFC3339.match(value)
    if match is None:
        return None
    day, time, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # Python keeps microseconds
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{time}{fraction}{offset}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None


async def updated_since(
    updated_since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only records changed at or after this instant (RFC 3339, with its "
            "offset). For an exact mirror, deletions included, follow /v1/changes.",
            examples=["2026-01-01T00:00:00Z"],
        ),
    ] = None,
) -> datetime | None:
    if updated_since is None:
        return None
    parsed = parse_rfc3339(updated_since)
    if parsed is None:
        raise InvalidParameterError(
            "query",
            "updated_since",
            "not an RFC 3339 date-time; write it like 2026-01-31T08:00:00Z or "
            "2026-01-31T09:00:00+01:00",
        )
    return parsed


UpdatedSince = Annotated[datetime | None, Depends(updated_since)]
