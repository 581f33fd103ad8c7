"""Read replicas (DATABASE_REPLICA_URLS), against a real streaming standby.

The standby is not one of the shared test server (that server cannot be reconfigured for
replication): tests/replica_cluster.py starts a private primary and a hot standby made with
pg_basebackup -R, the real app runs in uvicorn on the primary with the standby as its replica,
and REPLICA_DEBUG_HEADER makes it say where each request's reads ran (X-Read-From).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.services.dataset import load_dataset, read_dataset
from tests.conftest import CALL_DATASET, migrate, start_uvicorn
from tests.replica_cluster import ReplicaPair, postgres_bin, start_pair
from tests.routers.test_proposals import proposal

APP_PORT = 18210
DATABASE = "territoire"
MAX_LAG = 1.5  # seconds; checked every CHECK
CHECK = 0.2

BIN = postgres_bin()
pytestmark = pytest.mark.skipif(BIN is None, reason="initdb and pg_basebackup are not installed")


@pytest.fixture(scope="module")
async def pair() -> AsyncIterator[ReplicaPair]:
    assert BIN is not None
    running = await start_pair(BIN)
    try:
        connection = await asyncpg.connect(running.primary.url(), timeout=5)
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
        await connection.close()
        url = running.primary.url(DATABASE).replace("postgresql://", "postgresql+asyncpg://")
        await migrate(url)
        engine = create_async_engine(url)
        async with engine.begin() as session_connection:
            await load_dataset(AsyncSession(bind=session_connection), read_dataset(CALL_DATASET))
        await engine.dispose()
        await running.wait_caught_up(DATABASE)
        yield running
    finally:
        await running.close()


@pytest.fixture(scope="module")
async def server(pair: ReplicaPair) -> AsyncIterator[str]:
    environment = {
        "DATABASE_REPLICA_URLS": json.dumps([pair.standby.url(DATABASE)]),
        "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        "REPLICA_CHECK_SECONDS": str(CHECK),
        "REPLICA_DEBUG_HEADER": "true",
        "RATE_LIMIT_PROPOSALS": "100000/minute",
        # Every GET runs its route (and says where it read), instead of a hit answering it.
        "RESPONSE_CACHE": "false",
    }
    process, url = await start_uvicorn(
        pair.primary.url(DATABASE), port=APP_PORT, environment=environment
    )
    try:
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield client


async def read_from(client: httpx.AsyncClient, path: str = "/v1/initiatives") -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.headers["x-read-from"]


async def until_read_from(
    client: httpx.AsyncClient, where: str, path: str = "/v1/initiatives"
) -> None:
    """Polls until a read runs on `where` (the checks run every CHECK seconds)."""
    seen = ""
    for _ in range(100):
        seen = await read_from(client, path)
        if seen == where:
            return
        await asyncio.sleep(CHECK / 2)
    raise AssertionError(f"reads still on {seen!r}, expected {where!r}")


async def on_primary(pair: ReplicaPair, sql: str, *args: Any) -> Any:
    connection = await asyncpg.connect(pair.primary.url(DATABASE), timeout=5)
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


async def pause_replay(pair: ReplicaPair, paused: bool) -> None:
    call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
    await pair.standby.fetchval(f"SELECT {call}", DATABASE)


async def test_public_reads_are_answered_by_the_replica(
    pair: ReplicaPair, client: httpx.AsyncClient
) -> None:
    await until_read_from(client, "replica-1")
    # The GeoJSON reads, and the snapshot reads: the catalog and a whole export.
    for path in ("/v1/initiatives?limit=2", "/v1/datasets", "/v1/datasets/communes.csv"):
        assert await read_from(client, path) == "replica-1", path
    # Seen from the standby itself: the replica pool's connections are there, under their name.
    names = await pair.standby.fetchval(
        "SELECT array_agg(application_name) FROM pg_stat_activity"
        " WHERE datname = current_database()",
        DATABASE,
    )
    assert "territoire-api-replica-1" in names  # type: ignore[operator]


async def test_writes_and_reads_that_may_follow_them_go_to_the_primary(
    pair: ReplicaPair, client: httpx.AsyncClient
) -> None:
    await until_read_from(client, "replica-1")
    # A GET whose route opens a read-write session reads on the primary only.
    assert await read_from(client, "/commune/62001") == "primary"
    # Replay paused: whatever the primary writes from now on, the standby does not have.
    await pause_replay(pair, True)
    try:
        response = await client.post("/v1/proposals", json=proposal(title="Sur le primaire"))
        assert response.status_code == 201, response.text
        assert "replica" not in response.headers["x-read-from"]
        count = await on_primary(
            pair, "SELECT count(*) FROM initiative WHERE title = 'Sur le primaire'"
        )
        assert count == 1
        # The next request reads what that write left: not on the standby, which lacks it.
        assert await read_from(client) == "primary"
    finally:
        await pause_replay(pair, False)
    await pair.wait_caught_up(DATABASE)
    await until_read_from(client, "replica-1")


async def test_a_replica_behind_the_versions_is_not_used(
    pair: ReplicaPair, client: httpx.AsyncClient
) -> None:
    await until_read_from(client, "replica-1")
    initiative = await on_primary(
        pair, "SELECT id FROM initiative WHERE status = 'published' ORDER BY id LIMIT 1"
    )
    path = f"/v1/initiatives/{initiative}"
    before = await client.get(path)
    assert before.headers["x-read-from"] == "replica-1"
    await pause_replay(pair, True)
    try:
        await on_primary(
            pair, "UPDATE initiative SET title = 'Titre neuf' WHERE id = $1", initiative
        )
        # The change is notified, the versions move on: the paused standby cannot answer for them.
        for _ in range(50):
            after = await client.get(path)
            if after.headers["etag"] != before.headers["etag"]:
                break
            await asyncio.sleep(0.05)
        assert after.headers["etag"] != before.headers["etag"]
        assert after.headers["x-read-from"] == "primary"
        assert after.json()["properties"]["title"] == "Titre neuf"
    finally:
        await pause_replay(pair, False)
    await until_read_from(client, "replica-1", path)
    again = await client.get(path)
    assert again.headers["etag"] == after.headers["etag"]
    assert again.json()["properties"]["title"] == "Titre neuf"


async def test_a_lagging_replica_is_left_out_until_it_catches_up(
    pair: ReplicaPair, client: httpx.AsyncClient
) -> None:
    await until_read_from(client, "replica-1")
    await pause_replay(pair, True)
    try:
        # A write no dataset version sees: only the measured lag can tell the standby is late.
        await on_primary(pair, "CREATE TABLE IF NOT EXISTS lag_probe (n int)")
        await on_primary(pair, "INSERT INTO lag_probe VALUES (1)")
        await until_read_from(client, "primary")
    finally:
        await pause_replay(pair, False)
    await until_read_from(client, "replica-1")


async def test_a_replica_killed_under_requests_costs_no_error(
    pair: ReplicaPair, client: httpx.AsyncClient
) -> None:
    await until_read_from(client, "replica-1")
    statuses: list[int] = []
    where: list[str] = []
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            response = await client.get("/v1/initiatives")
            statuses.append(response.status_code)
            where.append(response.headers.get("x-read-from", ""))

    workers = [asyncio.create_task(load()) for _ in range(4)]
    try:
        await asyncio.sleep(0.3)
        await pair.standby.stop("immediate")
        killed_at = len(statuses)
        await until_read_from(client, "primary")
        # A snapshot read (an export) started while the replica is down is made on the primary.
        assert await read_from(client, "/v1/datasets/communes.csv") == "primary"
        await asyncio.sleep(0.5)
        await pair.standby.start("-c hot_standby=on", "-c wal_receiver_status_interval=1s")
        await until_read_from(client, "replica-1")
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert set(statuses) == {200}, sorted(set(statuses))
    assert "replica-1" in where[:killed_at]
    assert any("primary" in seen for seen in where[killed_at:])
    assert where[-1] == "replica-1"
