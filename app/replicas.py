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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Set on a request's scope (only with REPLICA_DEBUG_HEADER): a list the routing appends to.
READ_FROM = "territoire.read_from"
PRIMARY = "primary"
# What a dead, restarting or conflicting replica raises: the statement is run on the primary.
REPLICA_FAILURES = (
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
    # Read-only REPEATABLE READ sessions (exports, the catalog), made on first use.
    snapshots: async_sessionmaker[AsyncSession] | None = None
    engine: AsyncEngine | None = None
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

    async def pool_of(self, replica: Replica) -> "asyncpg.Pool[Any]":
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

    def snapshots_of(self, replica: Replica) -> async_sessionmaker[AsyncSession]:
        if replica.snapshots is None:
            settings = {
                **self.server_settings,
                "application_name": f"territoire-api-{replica.name}",
            }
            replica.engine = create_async_engine(
                "postgresql+asyncpg://" + replica.dsn.split("://", 1)[1],
                pool_size=self.pool_size,
                pool_pre_ping=True,
                connect_args={"server_settings": settings, "timeout": 2},
            )
            readonly = replica.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            replica.snapshots = async_sessionmaker(readonly, expire_on_commit=False)
        return replica.snapshots

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
                pool = await self.pool_of(replica)
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
            if replica.engine is not None:
                await replica.engine.dispose()
                replica.engine = replica.snapshots = None


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
