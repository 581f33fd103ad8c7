"""The outermost middleware: request id, JSON access log, request metrics, outage answers.

Pure ASGI (no BaseHTTPMiddleware: no task nor memory stream per request). For each HTTP request:
- `X-Request-ID`: the client's when it is sane (1 to 128 characters among letters, digits and
  `-_.:`), else a new one; on every response, errors and 503s included;
- a JSON line on the `territoire.access` logger: request id, method, route template, status,
  duration, response bytes; never the client's address, the raw path nor the query (a private
  status link's token is in its path, a search in its query);
- the request counters and duration histogram (app.metrics), by route template;
- an exception that reaches it: a database outage (app.outage) becomes a 503 problem with
  `Retry-After`, anything else the usual 500 problem (logged), both with the request id.

The route template is read where the router sets it: `RouteTemplateMiddleware`, innermost, writes
it into a holder this middleware puts in the scope (middlewares in between may copy the scope).
A request answered before the router is counted and logged under the template of the route that
answers its path: a response cache hit under its entry's (app.cache), a 304 from the dataset
versions under the one the router last matched for that path in this process.
"""

import os
import re
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import access_log, metrics
from app.access_log import ACCESS_LOGGER, configure_access_log
from app.errors import handle_unexpected_error
from app.outage import database_unavailable, unavailable_body, unavailable_headers

__all__ = [
    "ACCESS_LOGGER",
    "ObservabilityMiddleware",
    "RouteTemplateMiddleware",
    "configure_access_log",
    "request_id",
    "request_info",
]

HEADER = b"x-request-id"
SCOPE_KEY = "territoire.request"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class RequestInfo:
    """What the middlewares learn about one request; shared by every copy of its scope."""

    __slots__ = ("request_id", "route")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.route: str | None = None


def request_info(scope: Scope) -> RequestInfo | None:
    info = scope.get(SCOPE_KEY)
    return info if isinstance(info, RequestInfo) else None


def request_id(scope: Scope) -> str | None:
    """The id of the request whose scope this is (for logs and problem bodies)."""
    info = scope.get(SCOPE_KEY)
    return str(info.request_id) if isinstance(info, RequestInfo) else None


def _incoming_id(scope: Scope) -> str:
    value: bytes
    for name, value in scope["headers"]:
        if name == HEADER:
            if _SANE_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()  # as random as uuid4().hex, without the UUID object


class RouteTemplateMiddleware:
    """Innermost: after the router ran, note the template of the route that matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            info = scope.get(SCOPE_KEY)
            if isinstance(info, RequestInfo):
                info.route = template = route_template(scope)
                if template != metrics.UNROUTED and _templates.get(scope["path"]) != template:
                    if len(_templates) >= _ROUTED_PATHS:
                        _templates.clear()
                    _templates[scope["path"]] = template


# The template of each path the router matched lately: a request answered before routing (a 304
# from the dataset versions) is counted under it (bounded; emptied when full).
_ROUTED_PATHS = 4096
_templates: dict[str, str] = {}


def template_of(scope: Scope) -> str:
    """The template of the route that answers this request's path, when the router matched it
    lately in this process; else `<unrouted>`."""
    return _templates.get(scope["path"], metrics.UNROUTED)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "endpoint" in scope and scope.get("root_path"):  # a mount (static files)
        return f"{scope['root_path']}/{{path}}"
    return metrics.UNROUTED


class ObservabilityMiddleware:
    def __init__(
        self, app: ASGIApp, *, retry_after: int, measure: bool = True, log: bool = True
    ) -> None:
        self.app = app
        self.retry_after = retry_after
        self.measure = measure
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = RequestInfo(_incoming_id(scope))
        scope[SCOPE_KEY] = info
        rid = info.request_id.encode("ascii")
        status = 0
        size = 0
        cache: bytes | None = None

        async def tagged(message: Message) -> None:
            nonlocal status, size, cache
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = []
                for name, value in message.get("headers", ()):  # one pass: id out, X-Cache read
                    if name == b"x-cache":
                        cache = value
                    if name != HEADER:
                        headers.append((name, value))
                headers.append((HEADER, rid))
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        except Exception as error:
            if status:  # the response had begun: nothing else can be sent
                raise
            if database_unavailable(error):
                status = 503
                size = await self._unavailable(scope, send, info.request_id)
            else:
                status = 500
                size = await self._internal(scope, receive, tagged, error)
        finally:
            self._record(scope, info, status or 500, size, cache, started)

    async def _unavailable(self, scope: Scope, send: Send, rid: str) -> int:
        metrics.UNAVAILABLE.inc()
        body = unavailable_body(str(scope.get("path", "")), self.retry_after, rid)
        headers = unavailable_headers(body, self.retry_after)
        headers.append((HEADER, rid.encode("ascii")))
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return len(body)

    @staticmethod
    async def _internal(scope: Scope, receive: Receive, send: Send, error: Exception) -> int:
        response = await handle_unexpected_error(Request(scope, receive), error)
        await response(scope, receive, send)
        return len(response.body)

    def _record(
        self,
        scope: Scope,
        info: RequestInfo,
        status: int,
        size: int,
        cache: bytes | None,
        started: float,
    ) -> None:
        elapsed = time.perf_counter() - started
        route = info.route or template_of(scope)
        method: str = scope["method"]
        if self.measure:
            metrics.observe_request(route, method, status, elapsed, cache)
        if self.log:
            access_log.write(
                f"{method} {route} {status}",
                {
                    "request_id": info.request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "bytes": size,
                },
            )
