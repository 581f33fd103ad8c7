"""What HTTP caching is configured with, and what its parts share."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import MutableHeaders

from app.cache import BODY_UNUSED

EXPOSED_HEADERS = "ETag, Last-Modified, Link, Content-Length, Content-Disposition, Repr-Digest"
SAFE_METHODS = ("GET", "HEAD")


def body_unused(scope: Mapping[str, Any]) -> bool:
    """True when the response's body will be dropped (HEAD): a route may skip producing it."""
    return bool(scope.get(BODY_UNUSED))


@dataclass(frozen=True)
class CachingPolicy:
    fingerprint: str  # code and settings: a new deployment gives new ETags
    started_at: datetime  # Last-Modified of what no dataset version dates
    max_age: int  # Cache-Control max-age of public data, in seconds
    write_origins: frozenset[str]  # CORS origins allowed to write
    # Datasets a /v1/ path reads: a tuple, or None for all of them.
    datasets_read: Callable[[str], tuple[str, ...] | None]
    body_validated: tuple[str, ...]  # /v1/ prefixes validated by body hash
    # /v1/ paths of one record whose route gives the ETag of that record's own representation
    # (app.preconditions.representation_etags): it moves when that record's page does and only
    # then, so that an editor's If-Match fails on a change of what they edit, not of the dataset.
    own_validated: Callable[[str], bool]

    def validated_by_versions(self, path: str) -> bool:
        """True for a /v1/ path whose validators come from the versions of the datasets read."""
        return (
            path.startswith("/v1/")
            and not path.startswith(self.body_validated)
            and not self.own_validated(path)
        )


def add_vary(headers: MutableHeaders, value: str) -> None:
    current = headers.get("vary")
    if current is None:
        headers["Vary"] = value
    elif value.lower() not in [part.strip().lower() for part in current.split(",")]:
        headers["Vary"] = f"{current}, {value}"
