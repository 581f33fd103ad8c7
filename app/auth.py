"""Authentication of writes: `Authorization: Bearer <key>`, the scope each route needs.

Reading public data needs no key. A route that writes declares `Depends(require(Scope.x))`: the
dependency checks the key in the request's own transaction and names the caller as the
transaction's actor, so the audit log and the change log record who wrote.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from app.db import SessionDep
from app.models.club import Member
from app.models.participation import Scope
from app.repositories.keys import set_actor
from app.services import club
from app.services.keys import Caller, authenticate, authorize

# Declares the scheme in the OpenAPI document (client generators read it); the header itself is
# parsed by the service, which tells a missing key from a malformed one.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="trk_…",
    description="An API key, created by an admin (`territoire keys create` or `POST /v1/keys`).",
)


def require(scope: Scope | None) -> Callable[..., Awaitable[Caller]]:
    """A valid key with this scope; with None, any valid key (what every key holder may do)."""

    # The scope goes in the operation's security requirement (OpenAPI 3.1 allows role names
    # for any scheme): clients and the authorization tests read what each route needs.
    roles = [scope.value] if scope is not None else []

    async def caller(
        request: Request,
        session: SessionDep,
        _: Annotated[object, Security(bearer_scheme, scopes=roles)],
    ) -> Caller:
        found = await authenticate(session, request.headers.get("authorization"))
        if scope is not None:
            authorize(found, scope)
        await set_actor(session, found.actor)
        return found

    caller.__name__ = f"require_{scope.value if scope else 'key'}"
    return caller


member_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="memberToken",
    bearerFormat="trm_…",
    description="A member's personal token, given once when they confirm their membership.",
)


async def current_member(
    request: Request, session: SessionDep, _: Annotated[object, Depends(member_scheme)]
) -> Member:
    """The active member whose personal token (`trm_…`) the request carries."""
    member = await club.authenticate(session, request.headers.get("authorization"))
    await set_actor(session, f"member:{member.id}")
    return member


MemberDep = Annotated[Member, Depends(current_member)]
KeyDep = Annotated[Caller, Depends(require(None))]
EditorDep = Annotated[Caller, Depends(require(Scope.editor))]
ModeratorDep = Annotated[Caller, Depends(require(Scope.moderator))]
AdminDep = Annotated[Caller, Depends(require(Scope.admin))]
