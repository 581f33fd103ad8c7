"""Size limit of write bodies, before any route reads them: a 413 problem.

Applied to every POST, PUT, PATCH and DELETE. A declared Content-Length above the limit is
refused without reading; otherwise the body is read and counted as it streams (chunked bodies
included, and a Content-Length that lies), then handed on whole. Before a 413 the rest of
the body is read and dropped (up to 16 times the limit), so that a client still sending it
gets the answer rather than a reset connection.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import DomainError, problem_type
from app.schemas.problem import Problem, problem_response

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DRAINED_FACTOR = 16


class PayloadTooLargeError(DomainError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            drain = declared.isdigit() and int(declared) <= self.max_bytes * DRAINED_FACTOR
            await self._refuse(scope, receive, send, drain=drain)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                more = message.get("more_body", False)
                await self._refuse(scope, receive, send, drain=more, already=size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks)}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, *, drain: bool, already: int = 0
    ) -> None:
        size = already
        while drain and size <= self.max_bytes * DRAINED_FACTOR:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            drain = message.get("more_body", False)
        response = problem_response(
            Problem(
                type=problem_type(PayloadTooLargeError.slug),
                title=PayloadTooLargeError.title,
                status=413,
                detail=f"the request body exceeds {self.max_bytes} bytes",
                instance=str(scope.get("path", "")),
            )
        )
        # The rest of the body is not read: the connection cannot carry another request.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
