"""Tests run against a real PostGIS database, migrated by Alembic, through the real app.

The database named by TEST_DATABASE_URL is recreated once per run, migrated to head and loaded
with the CALL dataset; each test then runs inside a transaction that is rolled back.
"""

import asyncio
import email
import email.policy
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from alembic import command
from app.config import Settings
from app.db import get_reader, get_session, get_snapshot_session, get_writer
from app.main import PROJECT_ROOT, create_app
from app.repositories.publication import dataset_versions
from app.services.dataset import load_dataset, read_dataset

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_test"
)
CALL_DATASET = PROJECT_ROOT / "data" / "call"
# Published initiatives of the CALL dataset (all of its records are published).
CALL_INITIATIVES = len(
    yaml.safe_load((CALL_DATASET / "initiatives.yaml").read_text(encoding="utf-8"))["initiatives"]
)


def plain_url(url: str, database: str | None = None) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    if database is not None:
        parts = parts._replace(path="/" + database)
    return urlunsplit(parts)


async def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    connection = await asyncpg.connect(plain_url(url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await connection.close()


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    return config


async def migrate(url: str, revision: str = "head") -> None:
    # Alembic's env.py runs its own event loop: give it a thread.
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


@pytest.fixture(scope="session")
async def engine() -> AsyncIterator[AsyncEngine]:
    await recreate_database(TEST_DATABASE_URL)
    await migrate(TEST_DATABASE_URL)
    # In UTC, as the service's own connections are (app.db).
    engine = create_async_engine(
        TEST_DATABASE_URL, connect_args={"server_settings": {"TimeZone": "UTC"}}
    )
    async with engine.begin() as connection:
        session = AsyncSession(bind=connection)
        await load_dataset(session, read_dataset(CALL_DATASET))
        await session.flush()
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    # Commits inside the app release a savepoint; the test's transaction is rolled back at the end.
    session = AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    await session.close()


@pytest.fixture
def settings() -> Settings:
    # In-process tests roll back instead of committing, so no change is ever notified: no cache.
    return Settings(
        environment="test",
        database_url=TEST_DATABASE_URL,  # type: ignore[arg-type]
        response_cache=False,
        # The rate limits are tested on their own (tests/test_ratelimit.py).
        rate_limit_proposals="100000/minute",
        rate_limit_supports="100000/minute",
    )


@pytest.fixture
def app(settings: Settings, session: AsyncSession) -> Iterator[object]:
    application = create_app(settings)

    async def test_session() -> AsyncIterator[AsyncSession]:
        # A clean identity map per request, so nothing leaks from one request to the next.
        session.expunge_all()
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()

    async def test_reader() -> AsyncIterator[object]:
        # The hot read paths use asyncpg directly: give them the test transaction's connection.
        # A savepoint each, so that a statement the database refuses (a 400) leaves the test's
        # transaction usable, as an autocommit statement would in production.
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        async with raw.transaction():
            yield raw

    async def test_snapshot_session() -> AsyncIterator[AsyncSession]:
        # Exports and the catalog read the test's transaction too (not a snapshot of their own).
        session.expunge_all()
        yield session

    async def test_versions() -> object:
        # HTTP validators see the test's uncommitted changes, as the routes do.
        return await dataset_versions(session)

    application.dependency_overrides[get_session] = test_session
    application.dependency_overrides[get_reader] = test_reader
    application.dependency_overrides[get_writer] = test_reader
    application.dependency_overrides[get_snapshot_session] = test_snapshot_session
    application.state.data_versions.reader = test_versions
    return application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def call_dataset() -> Path:
    return CALL_DATASET


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
async def live_server(engine: AsyncEngine) -> AsyncIterator[str]:
    """The real service in its own uvicorn process, on the test database (committed data)."""
    process, url = await start_uvicorn(TEST_DATABASE_URL)
    try:
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


async def start_uvicorn(
    database_url: str,
    *,
    port: int | None = None,
    environment: dict[str, str] | None = None,
    log_level: str = "warning",
    output: Any = None,
    workers: int = 1,
) -> tuple[asyncio.subprocess.Process, str]:
    """The service in a uvicorn process of its own on `database_url` (with `workers` worker
    processes under it if more than one), once `/ready` answers (killed if it never does); its
    base URL. `environment` adds to or overrides the service's settings."""
    port = port or free_port()
    spread = ["--workers", str(workers)] if workers > 1 else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        log_level,
        "--no-proxy-headers",
        *spread,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "test",
            **(environment or {}),
        },
        stdout=output,
        stderr=output,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as probe:
        # Each worker imports the app on its own: a 4-worker server takes longer on 2 cores.
        for _ in range(150 + 100 * workers):
            try:
                if (await probe.get(f"{url}/ready")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()  # not a SIGKILL: uvicorn stops its worker processes too
    try:
        await asyncio.wait_for(process.wait(), timeout=20)
    except TimeoutError:
        process.kill()
        await process.wait()
    raise RuntimeError(f"the server on {database_url} did not become ready")


@dataclass
class SmtpInbox:
    """What a local SMTP server received."""

    messages: list[email.message.Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, SmtpInbox]]:
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()
