"""An in-process cache of public GET responses, invalidated by the database itself.

Every published table has a statement-level trigger that calls pg_notify on commit (see the
migration that adds them). Each worker LISTENs on that channel and drops its whole cache when a
change is committed. A response computed while a change landed is not stored (the generation
counter moved meanwhile), and while the listener is disconnected nothing is served from or
stored in the cache, so a stale body is never answered. The same listener keeps the dataset
versions that HTTP validators derive from (app.http_cache.versions.DataVersions) in step.
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from app.observability import request_info

logger = logging.getLogger(__name__)

CHANNEL = "territoire_data"
# Set on a request's scope by app.http_cache.conditional when its body will not be sent (HEAD,
# or a 304 decided after the fact): such a response may be incomplete, so it is never stored.
BODY_UNUSED = "territoire.body_unused"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: str | None = None  # the template of the route that answered (for metrics and logs)
    # Computed once, when stored: the headers of a hit, the 304's, the ETag a 304 needs.
    marked: list[tuple[bytes, bytes]] = field(init=False)
    not_modified: list[tuple[bytes, bytes]] = field(init=False)
    etag: bytes | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "marked", [*self.headers, (b"x-cache", b"hit")])
        object.__setattr__(self, "not_modified", _not_modified_headers(self.headers))
        object.__setattr__(self, "etag", dict(self.headers).get(b"etag"))


class ResponseCache:
    """LRU of response bodies, bounded in total bytes, with a generation counter."""

    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.generation = 0
        self.connected = False
        self._entries: OrderedDict[tuple[bytes, ...], CachedResponse] = OrderedDict()
        self._size = 0

    @property
    def active(self) -> bool:
        return self.connected

    def get(self, key: tuple[bytes, ...]) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[bytes, ...], entry: CachedResponse, generation: int) -> None:
        """Store unless the data changed since `generation` was read, or the entry is too big."""
        if generation != self.generation or not self.connected:
            return
        if len(entry.body) > self.max_entry_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._size -= len(previous.body)
        self._entries[key] = entry
        self._size += len(entry.body)
        while self._size > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.body)

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._size = 0

    def __len__(self) -> int:
        return len(self._entries)


class Invalidated(Protocol):
    """What the listener keeps in step: valid only while `connected`, emptied on a change."""

    connected: bool

    def invalidate(self) -> None: ...


class _Caches:
    def __init__(self, caches: tuple[Invalidated, ...]) -> None:
        self.caches = caches

    @property
    def connected(self) -> bool:
        return all(cache.connected for cache in self.caches)

    @connected.setter
    def connected(self, value: bool) -> None:
        for cache in self.caches:
            cache.connected = value

    def invalidate(self) -> None:
        for cache in self.caches:
            cache.invalidate()


class ChangeListener:
    """Keeps a LISTEN connection open; invalidates the caches on every notification.

    When the connection is lost (the database restarting, a network cut) the caches are
    bypassed and emptied, and the listener reconnects with a backoff of `retry_seconds`
    doubling up to `max_retry_seconds`; once listening again it empties them once more (what
    was committed meanwhile was not notified) before they are used. A ping every
    `ping_seconds` finds a connection that died without closing its socket.
    """

    def __init__(
        self,
        dsn: str,
        *caches: Invalidated,
        retry_seconds: float = 0.1,
        max_retry_seconds: float = 2.0,
        connect_timeout: float = 5.0,
        ping_seconds: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.cache = _Caches(caches)
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.connect_timeout = connect_timeout
        self.ping_seconds = ping_seconds
        self.reconnections = 0  # connections made after the first (for tests and logs)
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cache-change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_notification(self, *_: object) -> None:
        self.cache.invalidate()

    def _on_termination(self, *_: object) -> None:
        self._lost.set()

    async def _listen_until_lost(self, connection: asyncpg.Connection) -> None:
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=self.ping_seconds)
                return
            except TimeoutError:
                await connection.execute("SELECT 1", timeout=self.connect_timeout)

    async def _run(self) -> None:
        delay = self.retry_seconds
        connected_once = False
        while True:
            connection: asyncpg.Connection | None = None
            try:
                self._lost.clear()
                connection = await asyncpg.connect(self.dsn, timeout=self.connect_timeout)
                connection.add_termination_listener(self._on_termination)
                await connection.add_listener(CHANNEL, self._on_notification)
                # Whatever changed while we were not listening is unknown: start afresh.
                self.cache.invalidate()
                self.cache.connected = True
                if connected_once:
                    self.reconnections += 1
                    logger.warning("cache listener reconnected; caches emptied")
                connected_once = True
                delay = self.retry_seconds
                await self._listen_until_lost(connection)
                logger.warning("cache listener lost its connection; cache bypassed")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # never let the task die: the cache would stay off
                logger.warning("cache listener cannot listen (%s); retrying", error)
            finally:
                self.cache.connected = False
                self.cache.invalidate()
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry_seconds)


# Request headers a cached answer depends on (the key), and those that send a request past the
# cache: an authenticated read is checked by its route; a condition other than a plain
# If-None-Match is left to app.http_cache.
_KEYED = (
    b"host",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"accept",
    b"accept-encoding",
    b"accept-language",  # the explorer's pages
)
_BYPASS = frozenset((b"authorization", b"if-modified-since", b"if-match", b"range"))
_NOT_MODIFIED_KEPT = (b"etag", b"cache-control", b"last-modified")
# Headers that describe one exchange, not the representation: never replayed from the cache (a
# middleware inside this one that sets them per request must not see its value repeated).
_PER_REQUEST = frozenset(
    (b"date", b"x-request-id", b"request-id", b"traceparent", b"server-timing")
)


def _not_modified_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers of the 304 that app.http_cache sends for this 200: its validators, its
    Cache-Control, Vary and CORS; computed once, when the 200 is stored."""
    found = dict(headers)
    kept = [(name, found[name]) for name in _NOT_MODIFIED_KEPT if name in found]
    cors = [(name, value) for name, value in headers if name.startswith(b"access-control-")]
    return [*kept, (b"vary", b"Accept-Encoding"), *cors]


class ResponseCacheMiddleware:
    """Serves repeated anonymous GETs (and HEADs) of the public API from memory, as they were
    last answered, validators and CORS included; a conditional GET whose If-None-Match is the
    stored ETag gets its 304 here. Placed outermost, so that a hit costs one key and one lookup:
    no routing, no hashing, no header list built per request."""

    def __init__(
        self,
        app: ASGIApp,
        cache: ResponseCache,
        prefixes: tuple[str, ...],
        exclude: tuple[str, ...] = (),
        paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.cache = cache
        self.prefixes = prefixes
        self.exclude = exclude
        self.paths = paths  # cached too, these exact paths only

    def _key(self, scope: Scope) -> tuple[tuple[bytes, ...], bytes | None] | None:
        """The entry's key and the request's If-None-Match; None when the cache is not for it."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        if not self.cache.active:
            return None
        path: str = scope["path"]
        if path not in self.paths and (
            not path.startswith(self.prefixes) or path.startswith(self.exclude)
        ):
            return None
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _BYPASS or name in found:  # a repeated field: left to the full path
                return None
            found[name] = value
        return (
            scope.get("scheme", "http").encode(),
            *[found.get(name, b"") for name in _KEYED],
            scope.get("raw_path") or path.encode(),
            scope.get("query_string", b""),
        ), found.get(b"if-none-match")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        keyed = self._key(scope)
        if keyed is None:
            await self.app(scope, receive, send)
            return
        key, if_none_match = keyed
        hit = self.cache.get(key)
        if hit is not None:
            info = request_info(scope)
            if info is not None:
                info.route = hit.route
            if if_none_match is None:
                await send({"type": "http.response.start", "status": 200, "headers": hit.marked})
                body = b"" if scope["method"] == "HEAD" else hit.body
                await send({"type": "http.response.body", "body": body})
                return
            if if_none_match == hit.etag:
                start = {"type": "http.response.start", "status": 304, "headers": hit.not_modified}
                await send(start)
                await send({"type": "http.response.body", "body": b""})
                return
        if if_none_match is not None or scope["method"] != "GET":
            await self.app(scope, receive, send)  # another tag, or a HEAD: not stored
            return

        generation = self.cache.generation
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        storable = True

        async def capture(message: Message) -> None:
            nonlocal status, headers, size, storable
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                message = {**message, "headers": [*headers, (b"x-cache", b"miss")]}
            elif message["type"] == "http.response.body" and storable:
                body = message.get("body", b"")
                size += len(body)
                if size > self.cache.max_entry_bytes:
                    storable = False
                    chunks.clear()
                else:
                    chunks.append(body)
            await send(message)

        await self.app(scope, receive, capture)
        if status == 200 and storable and not scope.get(BODY_UNUSED):
            kept = [(name, value) for name, value in headers if name not in _PER_REQUEST]
            info = request_info(scope)
            route = info.route if info is not None else None
            entry = CachedResponse(status, kept, b"".join(chunks), route)
            self.cache.put(key, entry, generation)
