"""The floor of a request's cost on this machine: a bare ASGI app, under the same uvicorn as the
service, that answers every request with the 304 the service sends for `GET /v1/plan` (the same
headers), doing nothing else. bench/http_cache.py measures it beside the service: no 304 of the
service can be cheaper than this one, whatever its middleware does.

Without `If-None-Match`, it answers 200 with a body of FLOOR_BODY_BYTES bytes (the size of the
service's full answer; none: the 304 for every request): the least a full answer of that size
costs here, so that bare 304 / bare full is the least ratio any server on this machine can show.

`/ready` answers 200, so that the benches' start-up check passes.
"""

import os
from typing import Any

Message = dict[str, Any]

HEADERS = [
    (b"etag", b'"' + b"0" * 40 + b'"'),
    (b"cache-control", b"public, max-age=60"),
    (b"last-modified", b"Sat, 28 Nov 2026 00:00:00 GMT"),
    (b"vary", b"Accept-Encoding"),
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"ETag, Last-Modified, Link, Content-Length, Content-Disposition, Repr-Digest",
    ),
]

BODY = b"x" * int(os.environ.get("FLOOR_BODY_BYTES") or 0)
FULL_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    *HEADERS,
]


async def app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/ready":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if BODY and not any(name == b"if-none-match" for name, _ in scope["headers"]):
        await send({"type": "http.response.start", "status": 200, "headers": FULL_HEADERS})
        await send({"type": "http.response.body", "body": BODY})
        return
    await send({"type": "http.response.start", "status": 304, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b""})
