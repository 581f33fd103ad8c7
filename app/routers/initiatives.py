"""Initiatives on the map: published ones as GeoJSON, with spatial and thematic filters."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from app.auth import EditorDep
from app.db import ReaderDep, SessionDep
from app.errors import InvalidParameterError, NotFoundError
from app.http_cache.compression import accepts_gzip
from app.http_cache.policy import CachingPolicy
from app.http_cache.validators import read_headers, variant_etag
from app.http_cache.versions import version_token
from app.preconditions import current_etags, require_if_match
from app.routers.params import StrictQuery
from app.schemas.common import INSEE_PATTERN, SearchText, code_pattern
from app.schemas.initiative import InitiativeCollection, InitiativeFeature
from app.schemas.moderation import InitiativeCreate, InitiativePatch
from app.schemas.problem import Problem, problem_responses
from app.services import initiative as service
from app.services import moderation
from app.services.features import encode_cursor
from app.services.initiative import MAX_DISTANCE_METRES, InitiativeFilters

router = APIRouter(prefix="/v1", tags=["initiatives"], dependencies=[StrictQuery])

GEOJSON = "application/geo+json"


def _geojson(schema: str) -> dict[str, Any]:
    """A GeoJSON answer described by its named schema (the route's response_model)."""
    return {GEOJSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


MAX_PAGE = 1000


@router.get(
    "/initiatives",
    response_model=InitiativeCollection,
    response_class=Response,
    summary="Published initiatives, as a GeoJSON FeatureCollection",
    description="In id order, paged by an opaque `cursor` (`next_cursor`, and the `Link` header).",
    responses={
        200: {"content": _geojson("InitiativeCollection"), "description": "A page of initiatives."},
        **problem_responses(400),
    },
)
async def list_initiatives(
    request: Request,
    reader: ReaderDep,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="min lon, min lat, max lon, max lat (WGS84).",
            examples=["2.80,50.40,2.86,50.45"],
        ),
    ] = None,
    near: Annotated[
        str | None,
        Query(
            max_length=100,
            description="`lon,lat,metres`: within that many metres (on the ellipsoid, at most "
            f"{MAX_DISTANCE_METRES}) of the WGS84 point lon,lat.",
            examples=["2.828254,50.426818,2000"],
        ),
    ] = None,
    commune: Annotated[
        str | None, Query(pattern=INSEE_PATTERN, description="INSEE code.", examples=["62510"])
    ] = None,
    category: Annotated[
        str | None,
        Query(pattern=code_pattern(1), description="Axis code.", examples=["3"]),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            pattern=code_pattern(4),
            max_length=40,
            description="Code of a linked action.",
            examples=["3.3.2.1"],
        ),
    ] = None,
    updated_since: Annotated[
        datetime | None,
        Query(
            description="Changed at or after this instant (RFC 3339).",
            examples=["2020-01-01T00:00:00Z"],
        ),
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(description="Text the title or description contains (case and accents ignored)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page size, 1 to {MAX_PAGE}.")
    ] = 100,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=300,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Opaque position returned as `next_cursor` by the previous page.",
            examples=[encode_cursor(0)],
        ),
    ] = None,
) -> Any:
    if updated_since is not None and updated_since.tzinfo is None:
        raise InvalidParameterError("query", "updated_since", "give a time zone (Z or an offset)")
    filters = InitiativeFilters(
        bbox=bbox,
        near=near,
        commune=commune,
        category=category,
        action=action,
        updated_since=updated_since,
        q=q,
    )
    result = await service.list_initiatives(request, reader, filters, cursor, limit)
    headers = {"Link": f'<{result.next_url}>; rel="next"'} if result.next_url else {}
    return Response(result.body, media_type=GEOJSON, headers=headers)


@router.get(
    "/initiatives/{initiative_id}",
    response_model=InitiativeFeature,
    response_class=Response,
    summary="One published initiative, as a GeoJSON Feature",
    responses={
        200: {"content": _geojson("InitiativeFeature"), "description": "The initiative."},
        **problem_responses(400, 404),
    },
)
async def get_initiative(
    request: Request,
    reader: ReaderDep,
    initiative_id: Annotated[
        str, Path(max_length=30, pattern=r"^[0-9]+$", description="The initiative's id.")
    ],
) -> Any:
    headers = {}
    if "authorization" in request.headers:
        # An editor's client may send its key on every request: the answer is the public one,
        # and so is its ETag (the one If-Match of a PATCH or DELETE here compares with).
        headers["ETag"] = await _public_etag(request)
    feature = await service.get_initiative(reader, initiative_id)
    return Response(feature, media_type=GEOJSON, headers=headers)


async def _public_etag(request: Request) -> str:
    policy: CachingPolicy = request.app.state.caching_policy
    versions = await request.app.state.data_versions.current()
    token, _ = version_token(policy, versions, policy.datasets_read(request.scope["path"]))
    headers = read_headers(request.scope)
    gzip = accepts_gzip(headers.get(b"accept-encoding", b"").decode("latin-1"))
    return variant_etag(token, {**request.scope, "query_string": b""}, headers, gzip)


# --- editors' writes (scope `editor`) ----------------------------------------------------------

InitiativeKey = Annotated[
    str, Path(max_length=30, pattern=r"^[0-9]+$", description="The initiative's id.")
]
ActionCode = Annotated[
    str,
    Path(
        pattern=code_pattern(4),
        max_length=40,
        description="An action's code.",
        examples=["3.3.2.1"],
    ),
]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or a malformed, unknown or revoked one."},
    403: {"model": Problem, "description": "The API key lacks the editor scope."},
}
MERGE_PATCH = "application/merge-patch+json"


def _key(text: str) -> int:
    # The same ids the public route accepts; one beyond bigint names no initiative.
    value = int(text)
    if value > 2**63 - 1:
        raise NotFoundError(f"No published initiative {text[:30]}.")
    return value


def _item_url(request: Request, initiative_id: int) -> str:
    base: str = request.app.state.settings.public_base_url or str(request.base_url)
    return f"{base.rstrip('/')}/v1/initiatives/{initiative_id}"


@router.post(
    "/initiatives",
    status_code=201,
    response_model=InitiativeFeature,
    response_class=Response,
    summary="Create an initiative (published at once)",
    description="An editor's initiative is public as soon as it is created; proposals from the "
    "public go through moderation instead. Links to actions: PUT "
    "/v1/initiatives/{id}/actions/{code}.",
    responses={
        201: {
            "content": _geojson("InitiativeFeature"),
            "description": "The initiative, as its URL shows it.",
        },
        **WRITE_ERRORS,
        **problem_responses(422),
    },
)
async def create_initiative(
    request: Request, caller: EditorDep, session: SessionDep, body: InitiativeCreate
) -> Response:
    initiative_id = await moderation.create(session, body)
    location = _item_url(request, initiative_id)
    path = f"/v1/initiatives/{initiative_id}"
    item = Request({**request.scope, "path": path, "raw_path": path.encode(), "query_string": b""})
    etag, _ = await current_etags(item, session)
    feature = await moderation.public_feature(session, initiative_id)
    return Response(
        feature,
        status_code=201,
        media_type=GEOJSON,
        headers={"Location": location, "ETag": etag},
    )


@router.patch(
    "/initiatives/{initiative_id}",
    response_model=InitiativeFeature,
    response_class=Response,
    summary="Update a published initiative (JSON merge patch)",
    description="`If-Match` is required: the ETag of your last GET of this URL. Members: title, "
    "description, category, geometry, location_precision, address, author_name; `null` "
    "clears an optional one.",
    responses={
        200: {"content": _geojson("InitiativeFeature"), "description": "The initiative, updated."},
        **WRITE_ERRORS,
        **problem_responses(400, 404, 412, 422),
        428: {"model": Problem, "description": "`If-Match` is required."},
    },
)
async def update_initiative(
    request: Request,
    caller: EditorDep,
    session: SessionDep,
    initiative_id: InitiativeKey,
    patch: Annotated[InitiativePatch, Body(media_type=MERGE_PATCH)],
) -> Response:
    key = _key(initiative_id)
    await moderation.lock_published(session, key)
    await require_if_match(request, session)
    await moderation.edit(session, key, patch.changes())
    etag, _ = await current_etags(request, session)
    feature = await moderation.public_feature(session, key)
    return Response(feature, media_type=GEOJSON, headers={"ETag": etag})


@router.delete(
    "/initiatives/{initiative_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a published initiative",
    description="It leaves every public response; the change feed reports the deletion. The "
    "audit log keeps its last state (and its links), from which an admin can restore it. "
    "`If-Match` is honoured when sent.",
    responses={
        204: {"description": "Deleted."},
        **WRITE_ERRORS,
        **problem_responses(400, 404, 412),
    },
)
async def delete_initiative(
    request: Request, caller: EditorDep, session: SessionDep, initiative_id: InitiativeKey
) -> Response:
    key = _key(initiative_id)
    await moderation.lock_published(session, key)
    if "if-match" in request.headers:
        await require_if_match(request, session)
    await moderation.delete(session, key)
    return Response(status_code=204)


@router.put(
    "/initiatives/{initiative_id}/actions/{code}",
    status_code=204,
    response_class=Response,
    summary="Link a published initiative to an action (idempotent)",
    description="The initiative then lists the action's code in `actions`, and /v1/initiatives "
    "?action= finds it: the chain proposal → action → indicator.",
    responses={204: {"description": "Linked."}, **WRITE_ERRORS, **problem_responses(400, 404)},
)
async def link_initiative_action(
    caller: EditorDep, session: SessionDep, initiative_id: InitiativeKey, code: ActionCode
) -> Response:
    await moderation.set_link(session, _key(initiative_id), code, linked=True)
    return Response(status_code=204)


@router.delete(
    "/initiatives/{initiative_id}/actions/{code}",
    status_code=204,
    response_class=Response,
    summary="Unlink a published initiative from an action (idempotent)",
    responses={204: {"description": "Not linked."}, **WRITE_ERRORS, **problem_responses(400, 404)},
)
async def unlink_initiative_action(
    caller: EditorDep, session: SessionDep, initiative_id: InitiativeKey, code: ActionCode
) -> Response:
    await moderation.set_link(session, _key(initiative_id), code, linked=False)
    return Response(status_code=204)
