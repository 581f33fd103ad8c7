"""Database engine and the one dependency that owns each request's transaction."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.services.exports import stop_exports


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Read-only REPEATABLE READ sessions: one snapshot for a whole export or catalog.
    snapshot_sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.engine.dispose()


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for asyncpg used directly."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def create_database(settings: Settings) -> Database:
    engine = create_async_engine(
        str(settings.database_url),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "application_name": "territoire-api",
                "statement_timeout": str(settings.database_statement_timeout_ms),
            }
        },
    )
    snapshot_engine = engine.execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    return Database(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(snapshot_engine, expire_on_commit=False),
    )


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


async def get_snapshot_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a read-only session that sees one snapshot of the data until the response has been
    sent, streamed bodies included (request scope); it never commits."""
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    async with database.snapshot_sessionmaker() as session:
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
