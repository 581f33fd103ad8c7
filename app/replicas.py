"""Read replicas: public reads go to a streaming standby that is alive and caught up.

`DATABASE_REPLICA_URLS` names hot standbys of the primary. A public read (GET or HEAD, without
Authorization, on a route that neither writes nor opens a read-write session) is sent to a
replica; everything else, and every read of a request that may write, stays on the primary.

A replica is used only while the background check (every `REPLICA_CHECK_SECONDS`) finds it in
recovery, reachable, and no more than `REPLICA_MAX_LAG_SECONDS` behind: the lag is measured by
comparing its replay LSN with the primary's WAL LSN (an idle primary does not make it look late).

Reads never go backwards against the validators: each time the dataset versions are read on the
primary (they make the ETags and key the response cache), the primary's WAL LSN read just after
them becomes a floor, and a replica whose last measured replay LSN is below it is not used until
a new check shows it has replayed that far. The same floor is raised after every write request
of this process, so a client reads its own writes in its next request. A statement that fails on
a replica because it went away is run again on the primary and the replica is left out until a
check finds it back; so is one cancelled by a recovery conflict.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Set on a request's scope (only with REPLICA_DEBUG_HEADER): a list the routing appends to.
READ_FROM = "territoire.read_from"
PRIMARY = "primary"
# What a dead, restarting or conflicting replica raises: the statement is run on the primary.
_REPLICA_FAILURES = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,  # "canceling statement due to conflict with recovery"
)


@dataclass
class Replica:
    name: str
    dsn: str
    pool: "asyncpg.Pool[Any] | None" = None
    healthy: bool = False
    replayed: int = 0  # the last replay LSN measured (a lower bound of the current one)
    lag_seconds: float | None = None


@dataclass
class ReplicaSet:
    """The replicas, their health, and the floor a replica must have replayed to be used."""

    replicas: list[Replica]
    primary: Callable[[], Awaitable["asyncpg.Pool[Any]"]]
    max_lag_seconds: float
    check_seconds: float
    pool_size: int = 10
    server_settings: dict[str, str] = field(default_factory=dict)
    floor: int = 0
    _task: "asyncio.Task[None] | None" = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # (monotonic time, primary WAL LSN) samples, to turn an LSN gap into seconds.
    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=4096))

    # --- routing -------------------------------------------------------------------------------

    def pick(self) -> Replica | None:
        """A replica fit to answer now, or None: read on the primary."""
        self._ensure_checking()
        fit = [r for r in self.replicas if r.healthy and r.pool and r.replayed >= self.floor]
        if not fit:
            return None
        # The least late first, then spread by the pool with the most idle connections.
        return max(fit, key=lambda r: (r.pool.get_idle_size() if r.pool else 0, r.replayed))

    def leave_out(self, replica: Replica, error: BaseException) -> None:
        if replica.healthy:
            logger.warning("replica %s left out: %s", replica.name, type(error).__name__)
        replica.healthy = False
        self._wake.set()

    def raise_floor(self, lsn: int) -> None:
        if lsn > self.floor:
            self.floor = lsn
            if any(r.healthy and r.replayed < lsn for r in self.replicas):
                self._wake.set()

    async def raise_floor_to_primary(self) -> None:
        """The floor becomes the primary's current WAL position (after a read or a write)."""
        try:
            lsn = await primary_lsn(await self.primary())
        except Exception:  # the primary is failing: no replica until it answers again
            self.floor = 2**63
            return
        self.raise_floor(lsn)
        if self.floor == 2**63:
            self.floor = int(lsn)

    def fenced(
        self, read_versions: Callable[[], Awaitable[Sequence[T]]]
    ) -> Callable[[], Awaitable[Sequence[T]]]:
        """`read_versions`, followed by raising the floor to where the primary then was."""

        async def read() -> Sequence[T]:
            rows = await read_versions()
            await self.raise_floor_to_primary()
            return rows

        return read

    # --- health --------------------------------------------------------------------------------

    def _ensure_checking(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._check_forever(), name="replica-check"
            )

    async def _pool(self, replica: Replica) -> "asyncpg.Pool[Any]":
        if replica.pool is None:
            async with self._lock:
                if replica.pool is None:
                    replica.pool = await asyncpg.create_pool(
                        replica.dsn,
                        min_size=0,
                        max_size=self.pool_size,
                        timeout=2,
                        server_settings={
                            **self.server_settings,
                            "application_name": f"territoire-api-{replica.name}",
                        },
                        reset=_keep_session,
                    )
        return replica.pool

    async def check(self) -> None:
        """Measure the primary's WAL position, then each replica's replay position."""
        try:
            current: int | None = await primary_lsn(await self.primary())
        except Exception:
            current = None
        now = time.monotonic()
        if current is not None:
            self._samples.append((now, current))
        for replica in self.replicas:
            try:
                pool = await self._pool(replica)
                row = await pool.fetchrow(
                    "SELECT pg_is_in_recovery() AS standby,"
                    " pg_last_wal_replay_lsn() - '0/0'::pg_lsn AS replayed",
                    timeout=2,
                )
            except Exception as error:
                self.leave_out(replica, error)
                continue
            if row is None or not row["standby"] or row["replayed"] is None:
                replica.healthy = False  # promoted, or not a standby: never read from it
                continue
            replica.replayed = max(replica.replayed, int(row["replayed"]))
            replica.lag_seconds = self._lag(replica.replayed, now)
            fit = replica.lag_seconds <= self.max_lag_seconds
            if fit != replica.healthy:
                logger.warning("replica %s %s", replica.name, "back" if fit else "lagging")
            replica.healthy = fit

    def _lag(self, replayed: int, now: float) -> float:
        """How long ago the primary was where the replica is: 0 when it has caught up."""
        behind = [moment for moment, lsn in self._samples if lsn > replayed]
        return now - behind[0] if behind else 0.0

    async def _check_forever(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # pragma: no cover - a check never stops the checking
                logger.exception("replica check failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.check_seconds)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for replica in self.replicas:
            if replica.pool is not None:
                await replica.pool.close()
                replica.pool = None


_PRIMARY_LSN = (
    "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS lsn,"
    " current_setting('wal_block_size')::int AS block,"
    " pg_size_bytes(current_setting('wal_segment_size')) AS segment"
)


async def primary_lsn(pool: "asyncpg.Pool[Any]") -> int:
    """Where the primary's next WAL record goes: the end of every record already inserted,
    committed ones included (the write position may be behind them with asynchronous commit).

    A position just after a page header is the same place as the page's start, where a standby
    that replayed up to there says it is: an idle primary then does not look ahead of it.
    """
    row = await pool.fetchrow(_PRIMARY_LSN)
    assert row is not None
    lsn, block, segment = int(row["lsn"]), int(row["block"]), int(row["segment"])
    if lsn % segment == 40:  # SizeOfXLogLongPHD, on a segment's first page
        return lsn - 40
    if lsn % block == 24:  # SizeOfXLogShortPHD
        return lsn - 24
    return lsn


async def _keep_session(connection: "asyncpg.Connection[Any]") -> None:
    """Single read statements change no session state: nothing to reset."""


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
            except _REPLICA_FAILURES as error:
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


def replica_set(
    urls: Sequence[str],
    primary: Callable[[], Awaitable["asyncpg.Pool[Any]"]],
    *,
    max_lag_seconds: float,
    check_seconds: float,
    pool_size: int,
    server_settings: dict[str, str],
) -> ReplicaSet | None:
    if not urls:
        return None
    return ReplicaSet(
        [Replica(f"replica-{index}", url) for index, url in enumerate(urls, 1)],
        primary,
        max_lag_seconds=max_lag_seconds,
        check_seconds=check_seconds,
        pool_size=pool_size,
        server_settings=server_settings,
    )


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
    return ReplicaReader(replicas, replica, await replicas._pool(replica), seen)


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
