"""Many workers and instances through the real HTTP servers, on one database and one Redis:
instance A is one uvicorn with 4 workers, instance B another uvicorn on another port (2 workers).

- the response cache: a change committed through one process is served by every process once
  notified (bounded deadline), and no process serves the old body after any served the new one;
- rate limits are counted across all processes (counters in Redis);
- one Idempotency-Key sent concurrently to both instances stores one proposal, one answer;
- two webhook workers deliver each event exactly once.

Every request opens a fresh connection, so that the kernel spreads them over the workers.
These tests commit: they run on a database of their own (the test database's name + _scaleout).
"""

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import PROJECT_ROOT
from app.services import keys
from tests.committed import committed_database, committed_url
from tests.conftest import plain_url, start_uvicorn
from tests.routers.test_proposals import proposal
from tests.test_webhooks import Receiver, receiver

__all__ = ["receiver"]  # the fixture, shared with tests/test_webhooks.py

SCALEOUT_DATABASE_URL = committed_url("scaleout")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
SUPPORTS_PER_MINUTE = 6
ACTION = "/v1/actions/1.2.1.1"


def redis_answers() -> bool:
    host_port = REDIS.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_answers(), reason="no Redis for the shared counters")


@dataclass
class Cluster:
    urls: tuple[str, str]  # instance A (4 workers), instance B (2 workers)
    dsn: str
    editor: str
    environment: dict[str, str]


def fresh() -> httpx.AsyncClient:
    """A client that opens a new connection per request (any worker may take it)."""
    return httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    engine = await committed_database(SCALEOUT_DATABASE_URL)
    async with engine.begin() as connection:
        session = AsyncSession(bind=connection)
        editor = await keys.create_key(session, "rédaction", ["editor"], None)
        await session.flush()
    await engine.dispose()
    environment = {
        # 6 processes share the cluster: small pools.
        "DATABASE_POOL_SIZE": "2",
        "RATE_LIMIT_STORAGE": REDIS,
        # A secret of its own: fresh counters (their prefix derives from it) on every run.
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "RATE_LIMIT_SUPPORTS": f"{SUPPORTS_PER_MINUTE}/minute",
        "RATE_LIMIT_PROPOSALS": "1000/minute",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    }
    started = [
        await start_uvicorn(SCALEOUT_DATABASE_URL, environment=environment, workers=workers)
        for workers in (4, 2)
    ]
    try:
        yield Cluster(
            (started[0][1], started[1][1]),
            plain_url(SCALEOUT_DATABASE_URL),
            editor.secret,
            environment,
        )
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            await asyncio.wait_for(process.wait(), timeout=20)


async def title(client: httpx.AsyncClient, url: str) -> tuple[str, str]:
    response = await client.get(url + ACTION)
    assert response.status_code == 200, response.text
    return response.json()["title"], response.headers["x-cache"]


async def test_a_change_through_one_process_is_never_served_stale_by_another(
    cluster: Cluster,
) -> None:
    async with fresh() as client:
        # Warm every worker's cache: enough requests that each worker took some.
        seen = [await title(client, url) for _ in range(12) for url in cluster.urls]
        original = seen[0][0]
        assert {cached for _, cached in seen} >= {"hit"}
        etag = (await client.get(cluster.urls[1] + ACTION)).headers["etag"]
        changed = f"Changé par B {uuid.uuid4().hex[:6]}"
        answer = await client.patch(
            cluster.urls[1] + ACTION,
            json={"title": changed},
            headers={"Authorization": f"Bearer {cluster.editor}", "If-Match": etag},
        )
        assert answer.status_code == 200, answer.text
        # Every later answer from any process, in the order they were received.
        answers: list[tuple[float, str, str]] = []
        new_seen_by = set[str]()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            titles = await asyncio.gather(*(title(client, url) for url in cluster.urls * 4))
            now = time.monotonic()
            for url, (got, _) in zip(cluster.urls * 4, titles, strict=True):
                answers.append((now, url, got))
                if got == changed:
                    new_seen_by.add(url)
            if len(new_seen_by) == 2 and len(answers) >= 64:
                break
        assert new_seen_by == set(cluster.urls), "an instance kept the old body"
        first_new = next(index for index, item in enumerate(answers) if item[2] == changed)
        # Requests sent after the round in which the new body was first seen.
        later = [item for item in answers[first_new:] if item[0] > answers[first_new][0]]
        assert later, "no request after the new body was seen"
        assert all(got == changed for _, _, got in later), [
            (url, got) for _, url, got in later if got != changed
        ]
        assert original != changed


async def test_a_rate_limit_holds_across_instances_and_workers(cluster: Cluster) -> None:
    async with fresh() as client:
        statuses = [
            (
                await client.post(
                    cluster.urls[n % 2] + "/v1/initiatives/1/supports",
                    json={"supporter": f"scaleout-{uuid.uuid4()}"},
                )
            ).status_code
            for n in range(2 * SUPPORTS_PER_MINUTE)
        ]
    assert Counter(statuses) == {201: SUPPORTS_PER_MINUTE, 429: SUPPORTS_PER_MINUTE}, statuses
    assert statuses[:SUPPORTS_PER_MINUTE] == [201] * SUPPORTS_PER_MINUTE


async def test_one_idempotency_key_on_both_instances_stores_one_proposal(
    cluster: Cluster,
) -> None:
    key = str(uuid.uuid4())
    email = f"scaleout-{key[:8]}@example.org"
    body = proposal(contact_email=email, title=f"Un jardin {key[:8]}")
    async with fresh() as client:
        answers = await asyncio.gather(
            *(
                client.post(url + "/v1/proposals", json=body, headers={"Idempotency-Key": key})
                for url in cluster.urls * 3
            )
        )
    assert {answer.status_code for answer in answers} == {201}, [a.text for a in answers]
    assert len({answer.content for answer in answers}) == 1
    connection = await asyncpg.connect(cluster.dsn)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM initiative WHERE title = $1", body["title"]
        )
    finally:
        await connection.close()
    assert stored == 1


async def test_two_webhook_workers_deliver_each_event_once(
    cluster: Cluster, receiver: Receiver
) -> None:
    async with fresh() as client:
        answer = await client.post(
            cluster.urls[0] + "/v1/webhooks",
            json={"url": receiver.url, "event_types": ["axes.updated"]},
            headers={"Authorization": f"Bearer {cluster.editor}"},
        )
    assert answer.status_code == 201, answer.text
    receiver.delay = 0.01
    environment = {
        **os.environ,
        **cluster.environment,
        "DATABASE_URL": SCALEOUT_DATABASE_URL,
        "WEBHOOK_CONCURRENCY": "4",
        "WEBHOOK_POLL_SECONDS": "0.1",
    }
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "webhooks", cwd=PROJECT_ROOT, env=environment
        )
        for _ in range(2)
    ]
    connection = await asyncpg.connect(cluster.dsn)
    rounds, codes = 10, ("1", "2", "3", "4", "5")
    try:
        for _ in range(rounds):
            for code in codes:
                await connection.execute(
                    "UPDATE axis SET weight = weight + 1 WHERE code = $1", code
                )
        expected = rounds * len(codes)
        for _ in range(1500):
            if len(receiver.received) >= expected:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)  # time for a second delivery, were there one
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            await asyncio.wait_for(worker.wait(), timeout=20)
        await connection.execute(
            "UPDATE axis SET weight = weight - $1 WHERE code = ANY($2)", rounds, list(codes)
        )
        await connection.execute("DELETE FROM webhook_subscription")
        await connection.close()
    ids = Counter(event["id"] for event in receiver.events())
    assert len(ids) == expected
    assert set(ids.values()) == {1}, [event for event, count in ids.items() if count > 1]
