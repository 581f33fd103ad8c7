"""Which database a request reads on: a fit replica for a public read, else the primary.

See app/replicas.py for the replica set, its checks and the floor a replica must have replayed.
"""

from collections.abc import MutableMapping
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.replicas import PRIMARY, READ_FROM, REPLICA_FAILURES, Replica, ReplicaSet


class ReplicaReader:
    """What a routed read gets: asyncpg's read methods, on a replica, or on the primary when the
    replica fails under the statement."""

    def __init__(
        self, replicas: ReplicaSet, replica: Replica, pool: "asyncpg.Pool[Any]", seen: list[str]
    ) -> None:
        self._replicas = replicas
        self._replica = replica
        self._pool = pool
        self._seen = seen

    async def _run(self, method: str, query: str, *args: Any, **kwargs: Any) -> Any:
        if self._replica.healthy:
            try:
                return await getattr(self._pool, method)(query, *args, **kwargs)
            except REPLICA_FAILURES as error:
                self._replicas.leave_out(self._replica, error)
        self._seen.append(PRIMARY)
        primary = await self._replicas.primary()
        return await getattr(primary, method)(query, *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[Any]:
        return await self._run("fetch", query, *args, **kwargs)  # type: ignore[no-any-return]

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchrow", query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchval", query, *args, **kwargs)


_SAFE = ("GET", "HEAD")


def _route_calls(dependant: Any) -> set[Any]:
    calls = {dependant.call}
    for sub in dependant.dependencies:
        calls |= _route_calls(sub)
    return calls


_read_only_routes: dict[int, tuple[Any, bool]] = {}


def public_read(scope: MutableMapping[str, Any], writes: tuple[Any, ...]) -> bool:
    """A GET or HEAD without credentials, on a route that depends on none of `writes`."""
    if scope.get("method") not in _SAFE:
        return False
    if any(name == b"authorization" for name, _ in scope.get("headers", ())):
        return False
    route = scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return False
    known = _read_only_routes.get(id(route))
    if known is None or known[0] is not route:
        known = (route, not (_route_calls(dependant) & set(writes)))
        _read_only_routes[id(route)] = known
    return known[1]


async def route_read(
    replicas: ReplicaSet, scope: MutableMapping[str, Any], writes: tuple[Any, ...]
) -> ReplicaReader | None:
    """A reader on a fit replica for a public read, or None: the request reads on the primary."""
    seen: list[str] = scope.get(READ_FROM, [])
    replica = replicas.pick() if public_read(scope, writes) else None
    if replica is None:
        seen.append(PRIMARY)
        return None
    seen.append(replica.name)
    return ReplicaReader(replicas, replica, await replicas.pool_of(replica), seen)


async def route_snapshot(
    replicas: ReplicaSet, scope: MutableMapping[str, Any], writes: tuple[Any, ...]
) -> async_sessionmaker[AsyncSession] | None:
    """Read-only snapshot sessions on a fit replica for a public read (exports, the catalog), or
    None: the primary's. One round trip checks the replica answers before the route relies on
    it (a replica dying in the middle of a streamed export cuts that export short)."""
    seen: list[str] = scope.get(READ_FROM, [])
    replica = replicas.pick() if public_read(scope, writes) else None
    if replica is not None:
        snapshots = replicas.snapshots_of(replica)
        try:
            async with snapshots() as session:
                await session.execute(text("SELECT 1"))
        except Exception as error:  # wrapped by SQLAlchemy: whatever it is, use the primary
            replicas.leave_out(replica, error)
        else:
            seen.append(replica.name)
            return snapshots
    seen.append(PRIMARY)
    return None


class ReplicaMiddleware:
    """Raises the floor after each write request, before its answer leaves (read-your-writes in
    the next request); with `debug_header`, says where each read ran (X-Read-From)."""

    def __init__(self, app: Any, replicas: ReplicaSet, debug_header: bool = False) -> None:
        self.app = app
        self.replicas = replicas
        self.debug_header = debug_header

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        write = scope["method"] not in _SAFE
        seen: list[str] = []
        if self.debug_header:
            scope[READ_FROM] = seen

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if write:
                    await self.replicas.raise_floor_to_primary()
                if self.debug_header:
                    value = ",".join(dict.fromkeys(seen)) or "none"
                    header = (b"x-read-from", value.encode())
                    message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, wrapped)
