"""Validators: the request's conditions (If-None-Match, If-Modified-Since) and the ETag of one
representation, from the data's token, the URL and the headers the body depends on."""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.types import Scope

_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


class MalformedHeaderError(ValueError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


def parse_if_none_match(value: str) -> list[str] | None:
    """The opaque tags of an If-None-Match value; None for `*`. Weak tags compare as strong."""
    if value.strip() == "*":
        return None
    tags: list[str] = []
    position = 0
    while True:
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            raise MalformedHeaderError(
                "If-None-Match",
                'expected "*" or a comma-separated list of entity tags such as "abc" or W/"abc"',
            )
        tags.append(match.group(2))
        position = match.end()
        if position == len(value):
            return tags
        if value[position] != ",":
            raise MalformedHeaderError("If-None-Match", "entity tags must be separated by commas")
        position += 1


def parse_http_date(value: str) -> datetime | None:
    """An HTTP-date, or None when it is not one (RFC 9110: an invalid date is ignored)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


@dataclass(frozen=True)
class Conditions:
    if_none_match: list[str] | None  # None: absent or "*"; see `any_match`
    any_match: bool  # If-None-Match: *
    if_modified_since: datetime | None

    @classmethod
    def parse(cls, headers: Mapping[bytes, bytes]) -> "Conditions":
        raw = headers.get(b"if-none-match")
        tags: list[str] | None = None
        star = False
        if raw is not None:
            tags = []
            for value in raw.decode("latin-1").split("\0"):
                parsed = parse_if_none_match(value)
                if parsed is None:
                    star = True
                else:
                    tags.extend(parsed)
        since = headers.get(b"if-modified-since")
        return cls(
            if_none_match=tags,
            any_match=star,
            if_modified_since=(
                parse_http_date(since.decode("latin-1")) if since and raw is None else None
            ),
        )

    def not_modified(self, etag: str, last_modified: datetime | None) -> bool:
        """Whether a representation with these validators may be answered with 304."""
        if self.any_match:
            return True
        if self.if_none_match is not None:
            return etag.strip('"') in self.if_none_match
        if self.if_modified_since is not None and last_modified is not None:
            return last_modified.replace(microsecond=0) <= self.if_modified_since
        return False


# The request headers the middleware reads, gathered in one pass.
_READ = frozenset(
    (
        b"if-none-match",
        b"if-modified-since",
        b"accept-encoding",
        b"accept",
        b"host",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"origin",
        b"access-control-request-method",
        b"access-control-request-headers",
        b"authorization",
    )
)


def read_headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _READ:
            # Repeated If-None-Match fields are one list; NUL never occurs in a header value.
            found[name] = found[name] + b"\0" + value if name in found else value
    return found


def variant_etag(
    token: bytes, scope: Scope, headers: Mapping[bytes, bytes], gzip_variant: bool
) -> str:
    """The ETag of one representation: the data's token, the URL and what the body depends on."""
    digest = hashlib.blake2b(token, digest_size=20)
    for part in (
        scope.get("root_path", "").encode(),
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
        scope.get("scheme", "http").encode(),
        headers.get(b"host", b""),
        headers.get(b"x-forwarded-host", b""),
        headers.get(b"x-forwarded-proto", b""),
        headers.get(b"accept", b""),
        b"gzip" if gzip_variant else b"identity",
    ):
        digest.update(b"\0" + part)
    return f'"{digest.hexdigest()}"'
