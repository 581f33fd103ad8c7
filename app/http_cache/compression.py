"""gzip of complete bodies, and whether a request accepts it."""

import gzip
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http_cache.policy import add_vary


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
                add_vary(headers, "Accept-Encoding")
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
