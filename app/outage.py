"""What a database outage looks like from the code, and the one answer it gets: a 503.

A connection refused or reset, a connect that times out, PostgreSQL shutting down or starting
up, a pooled connection found dead: asyncpg raises these directly (the hot read paths) and
SQLAlchemy wraps them (OperationalError, InterfaceError, DBAPIError with the asyncpg error as
its cause). `database_unavailable` looks through the wrapping; the outermost middleware
(app.observability) turns such an error into `503 application/problem+json` with `Retry-After`,
wherever it was raised: a route, a dependency or the HTTP caching middleware reading versions.
"""

import asyncpg
import orjson
from sqlalchemy import exc as sa

from app.schemas.problem import PROBLEM_MEDIA_TYPE

# Raised by asyncpg when the server is gone, refuses connections, or shuts down under a query.
_ASYNCPG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # class 08: connection failure, does not exist
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up, shutting down, recovering
    asyncpg.exceptions.AdminShutdownError,  # 57P01: terminated by `pg_ctl stop -m fast`
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.TooManyConnectionsError,  # 53300
)
# asyncpg's InterfaceError also covers programming errors: only these messages mean an outage.
_CLOSED = ("connection is closed", "pool is closed", "pool is closing", "connection was closed")


def _is_unavailable_link(error: BaseException) -> bool:
    if isinstance(error, (*_ASYNCPG_UNAVAILABLE, OSError, sa.TimeoutError)):
        # OSError: refused, reset, unreachable; TimeoutError (an OSError too): connect timeout;
        # sqlalchemy's TimeoutError: no pooled connection came free in time.
        return True
    if isinstance(error, asyncpg.exceptions.InterfaceError):
        return any(text in str(error) for text in _CLOSED)
    return isinstance(error, sa.DBAPIError) and bool(error.connection_invalidated)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error`, or what it wraps, says the database cannot be reached right now."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen or len(seen) > 8:
            continue
        seen.add(id(current))
        if _is_unavailable_link(current):
            return True
        if isinstance(current, sa.DBAPIError) and isinstance(current.orig, BaseException):
            pending.append(current.orig)
        pending += [current.__cause__, current.__context__]
    return False


def unavailable_body(path: str, retry_after: int, request_id: str | None) -> bytes:
    body: dict[str, object] = {
        "type": "/problems/service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": f"The database does not answer; retry in {retry_after} s.",
        "instance": path,
    }
    if request_id:
        body["request_id"] = request_id
    return orjson.dumps(body)


def unavailable_headers(body: bytes, retry_after: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
        (b"cache-control", b"no-store"),
    ]
