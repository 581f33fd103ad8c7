"""What every editing route shares: the serialised editor's write, the error responses declared,
the merge-patch media type, and the one sequence of a creation, a PATCH and a DELETE, so that each
route states only what differs (its path parameters, body and service calls)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import EditorDep
from app.db import SessionDep
from app.preconditions import (
    check_if_match,
    current_etags,
    representation_etags,
    require_if_match,
)
from app.schemas.problem import problem_responses
from app.services import editing as service

CREATED = problem_responses(401, 403, 404, 409, 422)
PATCHED = problem_responses(400, 401, 403, 404, 409, 412, 422, 428)
DELETED = problem_responses(400, 401, 403, 404, 409, 412)

# A PATCH body is a JSON merge patch (RFC 7396), declared under that one media type; the server
# reads it as well when sent as application/json (or without a Content-Type).
MERGE_PATCH = "application/merge-patch+json"

T = TypeVar("T")
K = TypeVar("K")


async def writer(caller: EditorDep, session: SessionDep) -> None:
    """An editor's write: authenticated first, then serialised with the others."""
    await service.serialise(session)


@dataclass(frozen=True)
class Edit:
    """One editor's write request: what a route needs to answer it."""

    request: Request
    response: Response
    session: AsyncSession

    def _own(self, path: str) -> bool:
        """True when `path` has the ETag of its record's own representation."""
        return bool(self.request.app.state.caching_policy.own_validated(path))

    async def _answer(self, path: str, status: int, record: object) -> None:
        """Status, Location (on creation) and the ETag a GET of `path` now carries."""
        scope = {**self.request.scope, "path": path, "raw_path": path.encode(), "method": "GET"}
        if self._own(path) and isinstance(record, BaseModel):
            etag, _ = representation_etags(Request(scope), record)
        else:
            etag, _ = await current_etags(Request(scope), self.session)
        self.response.status_code = status
        self.response.headers["ETag"] = etag
        if status == 201:
            self.response.headers["Location"] = path

    async def _require_if_match(self, read: Callable[[], Awaitable[object]] | None) -> None:
        """428/412 against the current representation: its own ETag (read now, under the
        editors' lock) or that of the versions of the datasets it shows."""
        if read is not None and self._own(self.request.url.path):
            record = await read()
            assert isinstance(record, BaseModel)
            check_if_match(self.request, representation_etags(self.request, record)[1])
        else:
            await require_if_match(self.request, self.session)

    async def create(
        self,
        create: Callable[[], Awaitable[K]],
        path: Callable[[K], str],
        read: Callable[[K], Awaitable[T]],
    ) -> T:
        """201 with Location and ETag, and the record as a GET of it now answers."""
        key = await create()
        record = await read(key)
        await self._answer(path(key), 201, record)
        return record

    async def patch(
        self,
        exists: Callable[[], Awaitable[None]],
        update: Callable[[], Awaitable[None]],
        read: Callable[[], Awaitable[T]],
    ) -> T:
        """404 first, then If-Match required (428/412), the change, and the record with its new
        ETag."""
        await exists()
        await self._require_if_match(read)
        await update()
        record = await read()
        await self._answer(self.request.url.path, 200, record)
        return record

    async def delete(
        self,
        exists: Callable[[], Awaitable[None]],
        delete: Callable[[str], Awaitable[None]],
        read: Callable[[], Awaitable[object]] | None = None,
    ) -> Response:
        """404 first, then If-Match checked when sent (412; against the record's own ETag when
        its path has one: `read` gives its representation), the deletion recorded under the
        record's path, 204."""
        await exists()
        if self.request.headers.get("if-match") is not None:
            await self._require_if_match(read)
        await delete(self.request.url.path)
        return Response(status_code=204)


async def edit(
    request: Request, response: Response, _: Annotated[None, Depends(writer)], session: SessionDep
) -> Edit:
    return Edit(request, response, session)


EditDep = Annotated[Edit, Depends(edit)]
WriterDep = Annotated[None, Depends(writer)]
