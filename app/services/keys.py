"""API keys: made here, shown once, stored as a digest; what each scope allows."""

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from app.models.participation import ApiKey, Scope
from app.repositories import keys as repository

# "trk_" then 43 characters of URL-safe base64: 256 random bits. The prefix makes a leaked key
# recognisable by secret scanners; its first characters name it in lists.
KEY_PREFIX = "trk_"
KEY_PATTERN = re.compile(r"trk_[A-Za-z0-9_-]{43}")
SHOWN_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class Caller:
    """Who a request acts as."""

    key_id: int
    name: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key: shown once, never stored


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def normalise_scopes(scopes: Iterable[str]) -> list[str]:
    known = {scope.value for scope in Scope}
    wanted = sorted(set(scopes))
    unknown = [scope for scope in wanted if scope not in known]
    if unknown or not wanted:
        names = ", ".join(sorted(known))
        raise ValueError(f"scopes must be among {names} (at least one); got {unknown or wanted}")
    return wanted


async def create_key(
    session: AsyncSession, name: str, scopes: Sequence[str], created_by: str | None
) -> NewKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = await repository.insert_key(
        session,
        name=name,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        digest=digest(secret),
        scopes=normalise_scopes(scopes),
        created_by=created_by,
    )
    return NewKey(key, secret)


async def revoke_key(session: AsyncSession, key_id: int) -> ApiKey:
    key = await repository.revoke_key(session, key_id)
    if key is None:
        raise NotFoundError(f"No API key {key_id}.")
    return key


def bearer_token(authorization: str | None) -> str:
    """The key of an `Authorization: Bearer <key>` header; 401 when absent or malformed."""
    if authorization is None or not authorization.strip():
        raise AuthenticationError(
            "This operation needs an API key: send `Authorization: Bearer <key>`.", error=None
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "The Authorization header must read `Bearer <key>`.", error="invalid_request"
        )
    token = token.strip()
    if not KEY_PATTERN.fullmatch(token):
        raise AuthenticationError("The API key is malformed: keys read `trk_` and 43 characters.")
    return token


async def authenticate(session: AsyncSession, authorization: str | None) -> Caller:
    token = bearer_token(authorization)
    key = await repository.find_by_digest(session, digest(token))
    if key is None:
        raise AuthenticationError("The API key is unknown.")
    if key.revoked_at is not None:
        raise AuthenticationError("The API key has been revoked.")
    return Caller(key.id, key.name, frozenset(key.scopes))


def authorize(caller: Caller, scope: Scope) -> None:
    if scope.value not in caller.scopes:
        raise PermissionDeniedError(
            f"The API key '{caller.name}' lacks the '{scope.value}' scope this operation needs "
            f"(it has: {', '.join(sorted(caller.scopes))})."
        )
