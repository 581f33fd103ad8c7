"""Database engine and the one dependency that owns each request's transaction."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.replica_routing import ReplicaReader, route_read, route_snapshot
from app.replicas import ReplicaSet, replica_set

EXPORT_TASKS = "export_tasks"  # session.info key: COPYs running on the session's connection


async def stop_exports(session: AsyncSession) -> None:
    """Cancel the COPYs still running on the session's connection, and wait for them."""
    for task in session.info.pop(EXPORT_TASKS, []):
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Read-only REPEATABLE READ sessions: one snapshot for a whole export or catalog.
    snapshot_sessionmaker: async_sessionmaker[AsyncSession]
    dsn: str = ""
    pool_size: int = 10
    server_settings: dict[str, str] = field(default_factory=dict)
    # Outages (app/outage.py): fail fast rather than hang.
    connect_timeout: float = 60.0
    command_timeout: float | None = None
    _pool: "asyncpg.Pool[Any] | None" = None
    _pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    replicas: ReplicaSet | None = None  # DATABASE_REPLICA_URLS (app/replicas.py)

    async def reader_pool(self) -> "asyncpg.Pool[Any]":
        """A pool of plain asyncpg connections for the hot read paths (created on first use).

        Each read there is one statement in autocommit: no BEGIN/COMMIT round trips, and
        asyncpg keeps each statement prepared on its connection.
        """
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=1,
                        max_size=self.pool_size,
                        server_settings=self.server_settings,
                        reset=_keep_session,
                        timeout=self.connect_timeout,
                        command_timeout=self.command_timeout,
                    )
        return self._pool

    async def dispose(self) -> None:
        if self.replicas is not None:
            await self.replicas.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.engine.dispose()


async def _keep_session(connection: "asyncpg.Connection[Any]") -> None:
    """Nothing to reset: readers run single statements and change no session state. (asyncpg's
    default reset costs a round trip each time a connection goes back to the pool.)"""


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for asyncpg used directly."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def create_database(settings: Settings) -> Database:
    server_settings = {
        "application_name": "territoire-api",
        "statement_timeout": str(settings.database_statement_timeout_ms),
        # Timestamps are written in UTC whatever the server's default.
        "TimeZone": "UTC",
        # Short indexed reads: JIT compilation would cost more than it saves.
        "jit": "off",
        # Nor parallel workers: with every core busy serving other requests, a parallel plan only
        # adds the workers' start-up and the tuples' transfer (a vector tile: 38 tps in parallel,
        # 52 without, pgbench with 16 clients on 2 cores).
        "max_parallel_workers_per_gather": "0",
    }
    engine = create_async_engine(
        str(settings.database_url),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_args={
            "server_settings": server_settings,
            "timeout": settings.database_connect_timeout_seconds,
        },
    )
    snapshot_engine = engine.execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    database = Database(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(snapshot_engine, expire_on_commit=False),
        dsn=plain_dsn(str(settings.database_url)),
        pool_size=settings.database_pool_size,
        server_settings=server_settings,
        connect_timeout=settings.database_connect_timeout_seconds,
        command_timeout=settings.database_command_timeout_seconds,
    )
    database.replicas = replica_set(
        [plain_dsn(str(url)) for url in settings.database_replica_urls],
        database.reader_pool,
        max_lag_seconds=settings.replica_max_lag_seconds,
        check_seconds=settings.replica_check_seconds,
        pool_size=settings.database_pool_size,
        server_settings=server_settings,
    )
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit when the handler returns, roll back when it raises.

    Nothing else commits. The dependency is function-scoped so the commit happens before the
    response is sent: a client that got a 2xx knows its write is durable.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# What reads: the pool itself (each statement takes a connection and gives it back at once), or,
# in tests, their transaction's own connection.
if TYPE_CHECKING:
    Reader: TypeAlias = (
        asyncpg.Pool[Any]
        | asyncpg.Connection[Any]
        | asyncpg.pool.PoolConnectionProxy[Any]
        | ReplicaReader
    )
    WriteConnection: TypeAlias = asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]
else:  # asyncpg's classes are not subscriptable at run time, where FastAPI reads annotations
    Reader = Any
    WriteConnection = Any


async def get_reader(request: Request) -> Reader:
    """Read-only statements, each in autocommit on a pooled connection: no transaction; on a
    replica when the request is a public read and one is fit (app/replicas.py)."""
    database: Database = request.app.state.database
    if database.replicas is not None:
        routed = await route_read(database.replicas, request.scope, (get_session, get_writer))
        if routed is not None:
            return routed
    return await database.reader_pool()


ReaderDep = Annotated[Reader, Depends(get_reader, scope="function")]


async def get_snapshot_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a read-only session that sees one snapshot of the data until the response has been
    sent, streamed bodies included (request scope); it never commits."""
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    sessionmaker = database.snapshot_sessionmaker
    if database.replicas is not None:
        writes = (get_session, get_writer)
        sessionmaker = (
            await route_snapshot(database.replicas, request.scope, writes) or sessionmaker
        )
    async with sessionmaker() as session:
        # A whole export is one statement: it gets its own, longer, time limit.
        await session.execute(
            text("SELECT set_config('statement_timeout', :timeout, true)"),
            {"timeout": str(settings.export_statement_timeout_ms)},
        )
        try:
            yield session
        finally:
            await stop_exports(session)


SnapshotSessionDep = Annotated[AsyncSession, Depends(get_snapshot_session)]


async def get_writer(request: Request) -> Reader:
    """The lean write path (public proposals): the same pool of plain asyncpg connections; the
    route opens its transaction with `write_transaction` and commits before it answers."""
    database: Database = request.app.state.database
    return await database.reader_pool()


WritePoolDep = Annotated[Reader, Depends(get_writer, scope="function")]


async def raw_connection(session: AsyncSession) -> WriteConnection:
    """The asyncpg connection under a session, in the session's transaction."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return raw  # type: ignore[no-any-return]


@asynccontextmanager
async def write_connection(writer: Reader) -> AsyncIterator[WriteConnection]:
    """A connection for one statement in autocommit (in tests, the test's transaction)."""
    if isinstance(writer, asyncpg.Pool):
        async with writer.acquire() as connection:
            yield connection
    elif isinstance(writer, ReplicaReader):
        raise TypeError("a write never goes to a replica")
    else:
        yield writer
