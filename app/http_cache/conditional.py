"""The conditional-GET middleware: validators and caching headers on every GET, 304 when the
request's conditions match (from the dataset versions, before the route runs, under /v1/), HEAD
answered wherever GET is, CORS applied."""

import hashlib
from collections.abc import Mapping
from datetime import datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.cache import BODY_UNUSED
from app.http_cache.compression import accepts_gzip
from app.http_cache.cors import CORS_READ, preflight, read_cors, write_cors
from app.http_cache.policy import SAFE_METHODS, CachingPolicy
from app.http_cache.validators import (
    Conditions,
    MalformedHeaderError,
    http_date,
    parse_http_date,
    read_headers,
    variant_etag,
)
from app.http_cache.versions import DataVersions, version_token
from app.repositories.publication import VersionRow
from app.schemas.problem import InvalidField, Problem, problem_response

_ETAG_ENTRIES = 4096
_ETAG_KEY_BYTES = 2048


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
            await preflight(self.policy, scope, headers, send)
            return
        if method not in SAFE_METHODS:
            await self.app(scope, receive, write_cors(self.policy, headers, send))
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
        data_path = self.policy.validated_by_versions(path) and not private
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
        if self.policy.validated_by_versions(path):
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
        headers += [(b"vary", b"Accept-Encoding"), *CORS_READ]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

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
        read_cors(response.headers)
        await response(scope, receive, send)


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
                message["headers"] = [*message.get("headers", []), *CORS_READ]
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
                start["headers"] = [*start.get("headers", []), *CORS_READ]
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
        start["headers"] = [*raw, *CORS_READ]
        await self.send(start)
        self.dropping = self.head
