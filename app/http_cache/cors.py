"""CORS: reads are open to every origin, writes only to the configured ones."""

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Scope, Send

from app.http_cache.policy import EXPOSED_HEADERS, SAFE_METHODS, CachingPolicy, add_vary
from app.schemas.problem import Problem, problem_response

CORS_READ = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
]


def read_cors(headers: MutableHeaders) -> None:
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


async def preflight(
    policy: CachingPolicy, scope: Scope, headers: Mapping[bytes, bytes], send: Send
) -> None:
    """The answer to a CORS preflight: reads from anywhere, writes from the configured origins."""
    requested = headers[b"access-control-request-method"].decode("latin-1").upper()
    origin = headers.get(b"origin", b"").decode("latin-1")
    response_headers = MutableHeaders()
    if requested in SAFE_METHODS:
        response_headers["Access-Control-Allow-Origin"] = "*"
        response_headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    elif origin in policy.write_origins:
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


def write_cors(policy: CachingPolicy, headers: Mapping[bytes, bytes], send: Send) -> Send:
    """The `send` of a write: CORS headers added when the origin may write."""
    raw_origin = headers.get(b"origin")
    origin = raw_origin.decode("latin-1") if raw_origin is not None else None
    if origin is None or origin not in policy.write_origins:
        return send

    async def with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            response_headers = MutableHeaders(scope=message)
            response_headers["Access-Control-Allow-Origin"] = origin
            response_headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            add_vary(response_headers, "Origin")
        await send(message)

    return with_cors


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
