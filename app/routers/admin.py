"""Administration (admin key): API keys and the audit log. Never public."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth import AdminDep
from app.db import SessionDep
from app.errors import InvalidParameterError
from app.models.participation import ApiKey
from app.repositories import keys as key_repository
from app.repositories.editing import AuditFilters
from app.routers.params import (
    DEFAULT_LIMIT,
    Limit,
    StrictQuery,
    cursor_parameter,
    paged,
    parse_rfc3339,
)
from app.schemas.common import Page, SearchText
from app.schemas.editing import AuditEntry, KeyCreate, KeyOut, NewKeyOut
from app.schemas.problem import problem_responses
from app.services import audit
from app.services import keys as key_service

router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[StrictQuery])

KeyId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The key's id.")]
GUARDED = problem_responses(400, 401, 403)
# These lists go newest first; the cursor is the last id shown.
IdCursor = Annotated[
    str | None,
    cursor_parameter("1"),
]


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut.model_validate(key, from_attributes=True)


@router.post(
    "/keys",
    response_model=NewKeyOut,
    status_code=201,
    summary="Create an API key; its secret is in this answer only (admin)",
    responses=problem_responses(401, 403, 422),
)
async def create_key(
    response: Response, caller: AdminDep, session: SessionDep, body: KeyCreate
) -> NewKeyOut:
    made = await key_service.create_key(
        session, body.name, [scope.value for scope in body.scopes], caller.actor
    )
    response.headers["Location"] = f"/v1/keys/{made.key.id}"
    response.headers["Cache-Control"] = "no-store"
    return NewKeyOut(**key_out(made.key).model_dump(), secret=made.secret)


@router.get(
    "/keys",
    response_model=list[KeyOut],
    summary="The API keys, revoked ones included; never their secrets (admin)",
    responses=GUARDED,
)
async def list_keys(caller: AdminDep, session: SessionDep) -> list[KeyOut]:
    return [key_out(key) for key in await key_repository.list_keys(session, include_revoked=True)]


@router.get(
    "/keys/{key_id}",
    response_model=KeyOut,
    summary="One API key (admin)",
    responses=problem_responses(400, 401, 403, 404),
)
async def get_key(caller: AdminDep, session: SessionDep, key_id: KeyId) -> KeyOut:
    key = await key_repository.get_key(session, key_id)
    if key is None:
        from app.errors import NotFoundError

        raise NotFoundError(f"No API key {key_id}.")
    return key_out(key)


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an API key at once (admin)",
    responses=problem_responses(400, 401, 403, 404),
)
async def revoke_key(caller: AdminDep, session: SessionDep, key_id: KeyId) -> Response:
    await key_service.revoke_key(session, key_id)
    return Response(status_code=204)


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_rfc3339(value)
    if parsed is None:
        raise InvalidParameterError("query", name, "not an RFC 3339 date-time")
    return parsed


@router.get(
    "/audit",
    response_model=Page[AuditEntry],
    summary="The audit log: every write with who, when, before and after, newest first (admin)",
    responses=GUARDED,
)
async def list_audit(
    request: Request,
    response: Response,
    caller: AdminDep,
    session: SessionDep,
    table: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z_]{1,63}$",
            description="A table, e.g. action, initiative.",
            examples=["action"],
        ),
    ] = None,
    record_key: Annotated[
        SearchText | None,
        Query(description="The record's key in its table.", examples=["1.2.1.1"]),
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            pattern=r"^(key:[0-9]{1,19}|public|cli)$",
            description="key:<id>, public, cli.",
            examples=["key:1"],
        ),
    ] = None,
    operation: Literal["insert", "update", "delete"] | None = None,
    since: Annotated[
        str | None,
        Query(max_length=64, description="RFC 3339, included.", examples=["2026-01-01T00:00:00Z"]),
    ] = None,
    until: Annotated[
        str | None,
        Query(max_length=64, description="RFC 3339, excluded.", examples=["2100-01-01T00:00:00Z"]),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: IdCursor = None,
) -> Page[AuditEntry]:
    filters = AuditFilters(
        table=table,
        record_key=record_key,
        actor=actor,
        operation=operation,
        since=_instant("since", since),
        until=_instant("until", until),
    )
    page = await audit.audit_page(session, filters, cursor, limit)
    return paged(request, response, page)
