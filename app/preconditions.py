"""Conditional writes: `If-Match` against the ETag a GET of the same URL gives now.

An update names the representation it was made from. The check reads the versions of the
datasets that representation shows with a row lock held until the write commits, so two
writers sending the same ETag are serialised: the first one changes the versions, the second
one then sees a different ETag and gets 412 — no update is lost. Both the gzip and the identity
variant of the current representation match (a client may GET compressed and write plain).

One record of the plan (`CachingPolicy.own_validated`) has the ETag of its own representation
instead: a hash of it. Its GET and its writes compute it from the same read, and an editor's
If-Match then fails only when that record's page changed, not when another record of the same
dataset did; the writes are serialised by the editors' lock (app.services.editing.serialise).
"""

import hashlib

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidParameterError, PreconditionFailedError, PreconditionRequiredError
from app.http_cache.compression import accepts_gzip
from app.http_cache.policy import CachingPolicy
from app.http_cache.validators import (
    MalformedHeaderError,
    parse_if_none_match,
    read_headers,
    variant_etag,
)
from app.http_cache.versions import version_token
from app.repositories.publication import lock_dataset_versions


def etag_variants(request: Request, token: bytes) -> tuple[str, set[str]]:
    """From the data's token, the ETag of the request's URL with the request's own headers,
    and those of every variant (gzip, identity)."""
    headers = read_headers(request.scope)
    scope = {**request.scope, "query_string": b""}
    preferred = accepts_gzip(headers.get(b"accept-encoding", b"").decode("latin-1"))
    variants = {gzip: variant_etag(token, scope, headers, gzip) for gzip in (True, False)}
    return variants[preferred], set(variants.values())


def representation_etags(request: Request, representation: BaseModel) -> tuple[str, set[str]]:
    """The ETag of a record's own representation (its JSON, with the code and settings) for the
    request's URL and headers, and those of every variant (gzip, identity)."""
    policy: CachingPolicy = request.app.state.caching_policy
    digest = hashlib.sha256(policy.fingerprint.encode())
    digest.update(b"\0" + representation.model_dump_json().encode())
    return etag_variants(request, digest.digest())


async def current_etags(request: Request, session: AsyncSession) -> tuple[str, set[str]]:
    """The ETag a GET of the request's URL would carry now with the request's own headers, and
    those of every variant (gzip, identity); the versions behind them locked for the rest of
    the transaction. After a write in this transaction, they are those of the new state (the
    triggers have already bumped the versions)."""
    policy: CachingPolicy = request.app.state.caching_policy
    wanted = policy.datasets_read(request.scope["path"])
    versions = {row.dataset: row for row in await lock_dataset_versions(session, wanted)}
    token, _ = version_token(policy, versions, wanted)
    return etag_variants(request, token)


def _requested(request: Request) -> list[str] | None:
    """The tags of `If-Match` (None for `*`); 428 without it, 400 when malformed."""
    values = request.headers.getlist("if-match")
    if not values:
        raise PreconditionRequiredError(
            "This update needs an `If-Match` header with the ETag of your last GET of "
            f"{request.scope['path']}."
        )
    try:
        return parse_if_none_match(", ".join(values))  # the same list syntax
    except MalformedHeaderError as error:
        raise InvalidParameterError("header", "If-Match", error.reason) from error


def _compare(request: Request, tags: list[str] | None, current: set[str]) -> None:
    if tags is not None and not {f'"{tag}"' for tag in tags} & current:
        raise PreconditionFailedError(
            f"{request.scope['path']} changed since the ETag sent in If-Match was read; GET it "
            "again (its ETag is in the response), re-apply the change and retry."
        )


def check_if_match(request: Request, current: set[str]) -> None:
    """428 without `If-Match`, 400 when malformed, 412 when it names none of `current` (for a
    resource whose ETags come from elsewhere than the dataset versions)."""
    _compare(request, _requested(request), current)


async def require_if_match(request: Request, session: AsyncSession) -> None:
    """428 without `If-Match`, 412 when it names no current representation of the resource.

    `If-Match: *` matches any current representation: call this once the resource is known to
    exist (a missing one is a 404 first). Call `current_etags` after the write for the ETag of
    the response.
    """
    tags = _requested(request)
    _, current = await current_etags(request, session)
    _compare(request, tags, current)
