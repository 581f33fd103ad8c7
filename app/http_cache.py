"""HTTP caching for every GET, in two pure ASGI middlewares around the response cache.

HttpCachingMiddleware (outermost) answers HEAD wherever GET is answered, gives every 200 a strong
ETag, Last-Modified and Cache-Control, answers If-None-Match and If-Modified-Since with 304,
and applies CORS: open for reads, closed for writes except to the configured origins.

Under /v1/ the validators come from the dataset versions (dataset_version, bumped by every
committed change), not from the body: the ETag is a hash of the versions of the datasets the
route reads, the request's URL and the headers the representation depends on, and the code and
settings. So a conditional GET whose ETag still matches is answered before the route runs, from
memory while the change listener is connected (one small query otherwise). The versions are
read before the route reads its data, so a body can only be newer than its ETag says, never
older: a client may download once more, it is never told a stale copy is current. Routes whose
answer depends on more than the data (the change feed: which transactions have ended) and routes
outside /v1/ get an ETag hashed from their body.

CompressionMiddleware (innermost, inside the response cache, so that a cached entry is already
compressed) gzips complete bodies above a threshold; streamed exports are left as they are, so
their size and checksum are those the catalog publishes.
"""

import gzip
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.cache import BODY_UNUSED
from app.repositories.publication import VersionRow
from app.schemas.problem import InvalidField, Problem, problem_response

EXPOSED_HEADERS = "ETag, Last-Modified, Link, Content-Length, Content-Disposition, Repr-Digest"
SAFE_METHODS = ("GET", "HEAD")
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


def body_unused(scope: Mapping[str, Any]) -> bool:
    """True when the response's body will be dropped (HEAD): a route may skip producing it."""
    return bool(scope.get(BODY_UNUSED))


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


class DataVersions:
    """The version of every dataset, kept in memory while the change listener is connected."""

    def __init__(self, reader: Callable[[], Awaitable[Sequence[VersionRow]]]) -> None:
        self.reader = reader
        self.connected = False
        self.generation = 0
        self._current: dict[str, VersionRow] | None = None

    def invalidate(self) -> None:
        self.generation += 1
        self._current = None

    async def current(self) -> Mapping[str, VersionRow]:
        if self.connected and self._current is not None:
            return self._current
        generation = self.generation
        rows = {row.dataset: row for row in await self.reader()}
        # A change notified while reading may be missing from what was read: keep nothing.
        if self.connected and generation == self.generation:
            self._current = rows
        return rows


def accepts_gzip(value: str) -> bool:
    """Whether an Accept-Encoding value admits gzip."""
    for part in value.split(","):
        coding, _, parameters = part.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def _add_vary(headers: MutableHeaders, value: str) -> None:
    current = headers.get("vary")
    if current is None:
        headers["Vary"] = value
    elif value.lower() not in [part.strip().lower() for part in current.split(",")]:
        headers["Vary"] = f"{current}, {value}"


@dataclass(frozen=True)
class CachingPolicy:
    fingerprint: str  # code and settings: a new deployment gives new ETags
    started_at: datetime  # Last-Modified of what no dataset version dates
    max_age: int  # Cache-Control max-age of public data, in seconds
    write_origins: frozenset[str]  # CORS origins allowed to write
    # Datasets a /v1/ path reads: a tuple, or None for all of them.
    datasets_read: Callable[[str], tuple[str, ...] | None]
    body_validated: tuple[str, ...]  # /v1/ prefixes validated by body hash


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
_ETAG_ENTRIES = 4096
_ETAG_KEY_BYTES = 2048
_CORS_READ = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
]


def version_token(
    policy: CachingPolicy, versions: Mapping[str, VersionRow], wanted: tuple[str, ...] | None
) -> tuple[bytes, datetime]:
    """The part of a /v1/ ETag that comes from the data: the versions of the datasets read (all
    of them when `wanted` is None), with the code and settings; and their latest change."""
    rows = [row for name, row in sorted(versions.items()) if wanted is None or name in wanted]
    digest = hashlib.sha256(policy.fingerprint.encode())
    for row in rows:
        digest.update(f"\0{row.dataset}:{row.version}:{row.modified_at.isoformat()}".encode())
    last_modified = max((row.modified_at for row in rows), default=None)
    return digest.digest(), last_modified or policy.started_at


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


def read_headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _READ:
            # Repeated If-None-Match fields are one list; NUL never occurs in a header value.
            found[name] = found[name] + b"\0" + value if name in found else value
    return found


class HttpCachingMiddleware:
    def __init__(self, app: ASGIApp, versions: DataVersions, policy: CachingPolicy) -> None:
        self.app = app
        self.versions = versions
        self.policy = policy
        self._tokens: dict[
            tuple[int, tuple[str, ...] | None],
            tuple[Mapping[str, VersionRow], bytes, datetime],
        ] = {}
        self._dates: dict[datetime, bytes] = {}
        # ETags by what they are computed from: a repeated request costs a lookup, not a hash.
        self._etags: dict[tuple[bytes | str, ...], str] = {}
        self._data_control = f"public, max-age={policy.max_age}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = read_headers(scope)
        method = scope["method"]
        if method == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(scope, headers, send)
            return
        if method not in SAFE_METHODS:
            await self.app(scope, receive, self._write_cors(headers, send))
            return
        try:
            conditions = Conditions.parse(headers)
        except MalformedHeaderError as error:
            await self._bad_header(scope, receive, send, error)
            return
        if method == "HEAD" or conditions.any_match:
            scope = {**scope, "method": "GET", BODY_UNUSED: True}
        path: str = scope["path"]
        # An authenticated read may show what the public does not: it is checked by its route
        # every time (no answer from the versions alone) and kept out of shared caches.
        private = b"authorization" in headers
        data_path = (
            path.startswith("/v1/")
            and not path.startswith(self.policy.body_validated)
            and not private
        )
        if data_path:
            etag, last_modified = await self._data_validators(scope, headers)
            if conditions.not_modified(etag, last_modified) and not conditions.any_match:
                await self._send_not_modified(send, etag, last_modified, self._data_control)
                return
            await self.app(
                scope,
                receive,
                _Decorated(self, send, conditions, path, method == "HEAD", etag, last_modified),
            )
        else:
            await self.app(
                scope,
                receive,
                _Decorated(self, send, conditions, path, method == "HEAD", private=private),
            )

    # --- validators ----------------------------------------------------------------------------

    def _token(
        self, versions: Mapping[str, VersionRow], wanted: tuple[str, ...] | None
    ) -> tuple[bytes, datetime]:
        """What the ETag takes from the data: computed once per versions and datasets read."""
        # Keyed by the identity of the versions read; the entry holds that object, so its id
        # cannot be given to another one while the entry exists.
        key = (id(versions), wanted)
        entry = self._tokens.get(key)
        if entry is not None and entry[0] is versions:
            return entry[1], entry[2]
        token, modified = version_token(self.policy, versions, wanted)
        if len(self._tokens) > 256:
            self._tokens.clear()
        self._tokens[key] = (versions, token, modified)
        return token, modified

    async def _data_validators(
        self, scope: Scope, headers: Mapping[bytes, bytes]
    ) -> tuple[str, datetime]:
        versions = await self.versions.current()
        token, last_modified = self._token(versions, self.policy.datasets_read(scope["path"]))
        key = (
            token,
            scope.get("root_path", ""),
            scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""),
            scope.get("scheme", "http"),
            headers.get(b"host", b""),
            headers.get(b"x-forwarded-host", b""),
            headers.get(b"x-forwarded-proto", b""),
            headers.get(b"accept", b""),
            headers.get(b"accept-encoding", b""),
        )
        etag = self._etags.get(key)
        if etag is not None:
            return etag, last_modified
        gzip_variant = accepts_gzip(headers.get(b"accept-encoding", b"").decode("latin-1"))
        etag = variant_etag(token, scope, headers, gzip_variant)
        # Bounded in entries and in their size (a long URL is hashed each time instead).
        if sum(len(part) for part in key) <= _ETAG_KEY_BYTES:
            if len(self._etags) >= _ETAG_ENTRIES:
                self._etags.clear()
            self._etags[key] = etag
        return etag, last_modified

    def _cache_control(self, path: str) -> bytes:
        if path.startswith("/v1/") and not path.startswith(self.policy.body_validated):
            return self._data_control
        return b"public, no-cache"

    def _http_date(self, moment: datetime) -> bytes:
        found = self._dates.get(moment)
        if found is None:
            if len(self._dates) > 256:
                self._dates.clear()
            found = self._dates[moment] = http_date(moment).encode()
        return found

    # --- answers -------------------------------------------------------------------------------

    async def _send_not_modified(
        self, send: Send, etag: str, last_modified: datetime | None, cache_control: bytes
    ) -> None:
        headers = [(b"etag", etag.encode()), (b"cache-control", cache_control)]
        if last_modified is not None:
            headers.append((b"last-modified", self._http_date(last_modified)))
        headers += [(b"vary", b"Accept-Encoding"), *_CORS_READ]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def _read_cors(headers: MutableHeaders) -> None:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS

    async def _bad_header(
        self, scope: Scope, receive: Receive, send: Send, error: MalformedHeaderError
    ) -> None:
        response = problem_response(
            Problem(
                type="/problems/invalid-parameter",
                title="Invalid request parameter",
                status=400,
                detail=f"header '{error.name}': {error.reason}",
                instance=str(scope.get("path", "")),
                errors=[InvalidField(location="header", name=error.name, reason=error.reason)],
            )
        )
        self._read_cors(response.headers)
        await response(scope, receive, send)

    async def _preflight(self, scope: Scope, headers: Mapping[bytes, bytes], send: Send) -> None:
        requested = headers[b"access-control-request-method"].decode("latin-1").upper()
        origin = headers.get(b"origin", b"").decode("latin-1")
        response_headers = MutableHeaders()
        if requested in SAFE_METHODS:
            response_headers["Access-Control-Allow-Origin"] = "*"
            response_headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        elif origin in self.policy.write_origins:
            response_headers["Access-Control-Allow-Origin"] = origin
            response_headers["Access-Control-Allow-Methods"] = requested
            response_headers["Vary"] = "Origin"
        else:
            response = problem_response(
                Problem(
                    type="about:blank",
                    title="Forbidden",
                    status=403,
                    detail=f"Cross-origin {requested[:20]} requests are not allowed from this "
                    "origin; reads (GET, HEAD) are open to every origin.",
                    instance=str(scope.get("path", "")),
                )
            )
            await response(scope, _no_body, send)
            return
        allowed_headers = headers.get(b"access-control-request-headers")
        if allowed_headers:
            value = allowed_headers.decode("latin-1").replace("\0", ", ")[:1000]
            response_headers["Access-Control-Allow-Headers"] = value
        response_headers["Access-Control-Max-Age"] = "86400"
        await send({"type": "http.response.start", "status": 204, "headers": response_headers.raw})
        await send({"type": "http.response.body", "body": b""})

    def _write_cors(self, headers: Mapping[bytes, bytes], send: Send) -> Send:
        raw_origin = headers.get(b"origin")
        origin = raw_origin.decode("latin-1") if raw_origin is not None else None
        if origin is None or origin not in self.policy.write_origins:
            return send

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers["Access-Control-Allow-Origin"] = origin
                response_headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
                _add_vary(response_headers, "Origin")
            await send(message)

        return with_cors


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Decorated:
    """The `send` of a GET: adds validators and caching headers to a 200, turns it into a 304
    when the request's conditions say so, and drops the body of a HEAD."""

    def __init__(
        self,
        middleware: HttpCachingMiddleware,
        send: Send,
        conditions: Conditions,
        path: str,
        head: bool,
        etag: str | None = None,
        last_modified: datetime | None = None,
        *,
        private: bool = False,
    ) -> None:
        self.middleware = middleware
        self.private = private
        self.send = send
        self.conditions = conditions
        self.path = path
        self.head = head
        self.etag = etag
        self.last_modified = last_modified
        self.held: Message | None = None  # the start of a 200 waiting for its body's hash
        self.dropping = False  # HEAD: headers sent, the body is not
        self.answered = False  # a 304 was sent in place of the response

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                message["headers"] = [*message.get("headers", []), *_CORS_READ]
                await self.send(message)
                self.dropping = self.head
            elif self.etag is not None:
                await self._open(message, self.etag, self.last_modified)
            else:
                self.held = message
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        if self.held is not None:
            start, self.held = self.held, None
            headers = MutableHeaders(scope=start)
            etag = headers.get("etag")
            if etag is None and not message.get("more_body", False):
                etag = f'"{hashlib.sha256(message.get("body", b"")).hexdigest()[:40]}"'
            if etag is None:  # a stream without validator of its own
                start["headers"] = [*start.get("headers", []), *_CORS_READ]
                await self.send(start)
                self.dropping = self.head
            else:
                modified = parse_http_date(headers.get("last-modified", ""))
                await self._open(start, etag, modified or self.middleware.policy.started_at)
        if self.answered:
            return
        if self.dropping:
            if not message.get("more_body", False):
                await self.send({"type": "http.response.body", "body": b""})
            return
        await self.send(message)

    async def _open(self, start: Message, etag: str, last_modified: datetime | None) -> None:
        """Send the response's head, or a 304 in its place."""
        raw: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        names = {name for name, _ in raw}
        raw = [(name, value) for name, value in raw if name != b"etag"]
        raw.append((b"etag", etag.encode()))
        if last_modified is not None and b"last-modified" not in names:
            raw.append((b"last-modified", self.middleware._http_date(last_modified)))
        control = next((v for n, v in raw if n == b"cache-control"), None)
        if control is None:
            control = (
                b"private, no-cache" if self.private else self.middleware._cache_control(self.path)
            )
            raw.append((b"cache-control", control))
        if self.path.startswith("/v1/") and b"vary" not in names:
            raw.append((b"vary", b"Accept-Encoding"))
        if self.private:
            raw = [(n, v + b", Authorization" if n == b"vary" else v) for n, v in raw]
            if b"vary" not in {name for name, _ in raw}:
                raw.append((b"vary", b"Authorization"))
        if self.conditions.not_modified(etag, last_modified):
            self.answered = True
            await self.middleware._send_not_modified(self.send, etag, last_modified, control)
            return
        start["headers"] = [*raw, *_CORS_READ]
        await self.send(start)
        self.dropping = self.head


COMPRESSIBLE = re.compile(
    r"^(text/|application/([a-z.+-]+\+)?(json|xml)\b|application/(javascript|ld\+json))"
)


class CompressionMiddleware:
    """gzip for complete bodies of at least `minimum_size` bytes, when the client accepts it."""

    def __init__(self, app: ASGIApp, minimum_size: int = 1024, level: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        wanted = accepts_gzip(Headers(scope=scope).get("accept-encoding", ""))
        start: Message | None = None
        passthrough = False

        async def compress(message: Message) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or passthrough or start is None:
                await send(message)
                return
            held, start = start, None
            headers = MutableHeaders(scope=held)
            body: bytes = message.get("body", b"")
            compressible = bool(COMPRESSIBLE.match(headers.get("content-type", "")))
            if compressible:
                _add_vary(headers, "Accept-Encoding")
            if (
                not wanted
                or not compressible
                or message.get("more_body", False)
                or "content-encoding" in headers
                or len(body) < self.minimum_size
            ):
                passthrough = True
                await send(held)
                await send(message)
                return
            packed = gzip.compress(body, compresslevel=self.level, mtime=0)
            headers["Content-Encoding"] = "gzip"
            headers["Content-Length"] = str(len(packed))
            await send(held)
            await send({"type": "http.response.body", "body": packed})

        await self.app(scope, receive, compress)


def fingerprint(parts: Sequence[Any]) -> str:
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()
