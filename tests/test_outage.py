"""PostgreSQL stopped under the real service, then started again (a private cluster).

The API runs in a uvicorn process of its own with its response cache on, beside the webhook
worker and the digest loop (`territoire webhooks`, `territoire digests`), all on a PostgreSQL
cluster of this module's own. While the cluster is stopped (`pg_ctl stop -m fast`, then
`-m immediate`), every request that needs the database gets a 503 problem with Retry-After
quickly, /health stays 200 and /ready turns 503; once it is back, the same processes serve the
data as it now is (a change committed in SQL meanwhile is visible: nothing stale from the cache
or the validators), and the webhook and digest that the changes made are delivered.
"""

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy.exc import DBAPIError

from app.db import create_database
from app.main import PROJECT_ROOT
from app.outage import database_unavailable
from app.services import keys
from tests.committed import committed_database
from tests.conftest import SmtpInbox, plain_url, start_uvicorn
from tests.private_cluster import PrivateCluster, postgres_bin
from tests.test_webhooks import Receiver

CLUSTER_PORT = 55401
API_PORT = 18111
RECEIVER_PORT = 18112
SMTP_PORT = 18113
DB_ROUTES = ("/v1/axes", "/v1/actions/{code}", "/v1/communes", "/v1/initiatives", "/v1/changes")

BIN = postgres_bin()
needs_initdb = pytest.mark.skipif(BIN is None, reason="no PostgreSQL server binaries (initdb)")


@dataclass
class Stack:
    cluster: PrivateCluster
    url: str
    api: str
    code: str
    receiver: Receiver
    inbox: SmtpInbox
    workers: list[asyncio.subprocess.Process]
    log: Path
    subscribed_at: int = 0  # the last change-log entry when the subscription was made

    async def sql(self, statement: str, *arguments: Any) -> Any:
        connection = await asyncpg.connect(plain_url(self.url), timeout=2)
        try:
            return await connection.fetch(statement, *arguments)
        finally:
            await connection.close()


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[PrivateCluster]:
    assert BIN is not None
    made = PrivateCluster.create(BIN, CLUSTER_PORT)
    try:
        await made.astart()
        yield made
    finally:
        made.remove()


async def _worker(command: str, environment: dict[str, str], log: Any) -> Any:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", command, cwd=PROJECT_ROOT, env=environment,
        stdout=log, stderr=log,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def stack(cluster: PrivateCluster, tmp_path_factory: Any) -> AsyncIterator[Stack]:
    url = cluster.url("territoire_outage")
    engine = await committed_database(url)
    await engine.dispose()
    receiver = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=RECEIVER_PORT, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    inbox = SmtpInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    smtp.start()
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "ENVIRONMENT": "test",
        "RESPONSE_CACHE": "true",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_POLL_SECONDS": "0.2",
        "DIGEST_POLL_SECONDS": "0.5",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(SMTP_PORT),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{API_PORT}",
    }
    log_path = tmp_path_factory.mktemp("outage") / "processes.log"
    log = log_path.open("wb")
    database = create_database(Settings_for(url))
    async with database.sessionmaker() as session, session.begin():
        key = (await keys.create_key(session, "outage", ["editor"], None)).secret
    await database.dispose()
    process, api = await start_uvicorn(url, port=API_PORT, environment=environment, output=log)
    workers = [process]
    try:
        workers.append(await _worker("webhooks", environment, log))
        workers.append(await _worker("digests", environment, log))
        async with httpx.AsyncClient(base_url=api) as client:
            subscribed = await client.post(
                "/v1/webhooks",
                json={"url": f"http://127.0.0.1:{RECEIVER_PORT}/hook", "event_types": ["*"]},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert subscribed.status_code == 201, subscribed.text
        found = Stack(cluster, url, api, "", receiver, inbox, workers, log_path)
        found.code = (await found.sql("SELECT code FROM action ORDER BY code LIMIT 1"))[0][0]
        found.subscribed_at = (await found.sql("SELECT coalesce(max(id), 0) FROM change_log"))[0][0]
        # A member who follows the action and wants each change at once.
        await found.sql(
            """
            INSERT INTO member (display_name, email, profile_type, status, digest_frequency,
                                digest_cursor_transaction, digest_cursor_sequence)
            SELECT 'Camille', 'camille@example.test', 'resident', 'active', 'immediate',
                   coalesce(max(transaction_id), 0), coalesce(max(id), 0) FROM change_log
            """
        )
        await found.sql(
            "INSERT INTO member_follow (member_id, target_type, target_key) "
            "SELECT id, 'action', $1 FROM member",
            found.code,
        )
        yield found
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.terminate()
                await asyncio.wait_for(worker.wait(), timeout=20)
        smtp.stop()
        server.should_exit = True
        await serving
        log.close()


def Settings_for(url: str) -> Any:  # noqa: N802
    from app.config import Settings

    return Settings(environment="test", database_url=url)  # type: ignore[arg-type]


async def _unavailable(client: httpx.AsyncClient, path: str) -> None:
    started = time.monotonic()
    response = await client.get(path)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, (path, response.status_code, response.text)
    assert elapsed < 2, (path, elapsed)
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["x-request-id"]
    assert response.json()["status"] == 503


async def _until(check: Any, seconds: float) -> float:
    """Poll `check` until it returns true; the time it took (fails after `seconds`)."""
    started = time.monotonic()
    while True:
        try:
            if await check():
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.1)


async def _outage_round(stack: Stack, mode: str, title: str) -> None:
    action = f"/v1/actions/{stack.code}"
    routes = [route.format(code=stack.code) for route in DB_ROUTES]
    async with httpx.AsyncClient(base_url=stack.api, timeout=10) as client:

        async def cached() -> bool:  # the listener connected: the cache answers
            return (await client.get(action)).headers.get("x-cache") == "hit"

        await _until(cached, 5)
        etag = (await client.get(action)).headers["etag"]
        # A change just before the outage: its webhook may or may not leave before the stop.
        await stack.sql(
            "UPDATE action SET title = $1 WHERE code = $2", f"{title} (avant)", stack.code
        )
        await stack.cluster.astop(mode)

        # Several at once, as under load: every one answered 503 quickly, none hangs.
        await asyncio.gather(*(_unavailable(client, path) for path in routes * 4))
        await _unavailable(client, "/ready")
        assert (await client.get("/health")).status_code == 200
        scrape = await client.get("/metrics")
        assert scrape.status_code == 200
        assert "territoire_metrics_database_up 0.0" in scrape.text

        await stack.cluster.astart()
        # Committed as soon as the database is back, likely before the service reconnects.
        await stack.sql("UPDATE action SET title = $1 WHERE code = $2", title, stack.code)

        async def fresh() -> bool:
            response = await client.get(action, headers={"If-None-Match": etag})
            return response.status_code == 200 and response.json()["title"] == title

        took = await _until(fresh, 5)
        print(f"{mode}: served afresh {took:.2f} s after the restart")
        for path in routes:
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/ready")).status_code == 200
    for worker in stack.workers:
        assert worker.returncode is None, stack.log.read_text()


@needs_initdb
@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_an_outage_gives_503s_then_the_same_processes_serve_fresh_data(
    stack: Stack, mode: str
) -> None:
    title = f"Titre changé pendant la panne ({mode})"
    await _outage_round(stack, mode, title)

    # Every change of the action, the one just before the stop and the one just after the
    # start included, reaches the webhook receiver.
    rows = await stack.sql(
        "SELECT id FROM change_log WHERE dataset = 'actions' AND record_key = $1 AND id > $2",
        stack.code,
        stack.subscribed_at,
    )
    changes = {str(row[0]) for row in rows}
    assert len(changes) >= 2

    async def delivered() -> bool:
        return changes <= {event["id"] for event in stack.receiver.events()}

    await _until(delivered, 15)

    async def digested() -> bool:
        return any(title in _plain(message) for message in stack.inbox.messages)

    try:
        await _until(digested, 15)
    except AssertionError:
        raise AssertionError([_plain(m) for m in stack.inbox.messages]) from None


def _plain(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def _wrapped(error: BaseException) -> BaseException:
    """An error as SQLAlchemy's asyncpg dialect raises it: a DBAPIError caused by `error`."""
    try:
        try:
            raise error
        except BaseException as cause:
            raise DBAPIError("SELECT 1", None, cause) from cause  # type: ignore[arg-type]
    except DBAPIError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        _wrapped(ConnectionResetError()),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("starting up")),
    ],
)
def test_outage_errors_are_recognised(error: BaseException) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.InterfaceError("another operation is in progress"),
        _wrapped(asyncpg.exceptions.DataError("invalid input")),
    ],
)
def test_other_errors_are_not_outages(error: BaseException) -> None:
    assert not database_unavailable(error)
