"""Webhooks: subscriptions, signed deliveries from the change log, retries, order per record,
at least once across a killed worker, disabling with the owner told by email, SSRF refusals.

These tests commit: they run on a database of their own (the test database's name + _webhooks),
migrated and loaded like the main one.
"""

import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import Database, create_database
from app.main import PROJECT_ROOT, create_app
from app.services import keys
from app.services.webhooks import LONGEST_DELAY, retry_delay
from app.webhook_worker import WebhookWorker
from tests.committed import committed_database, committed_url
from tests.conftest import free_port

WEBHOOK_DATABASE_URL = committed_url("webhooks")


@dataclass
class Receiver:
    """A local HTTP endpoint that records what it receives; can be told to fail."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failures_left: int = 0
    always_fail: bool = False
    delay: float = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The sender went away mid-body (a killed worker): nothing was delivered.
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.delay:
            await asyncio.sleep(self.delay)
        status = 200
        if self.always_fail or self.failures_left > 0:
            self.failures_left = max(self.failures_left - 1, 0)
            status = 503
        else:
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.received.append((headers, body))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
async def webhook_engine() -> AsyncIterator[AsyncEngine]:
    engine = await committed_database(WEBHOOK_DATABASE_URL)
    yield engine
    await engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(found, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    server.should_exit = True
    await task


def settings_for(**more: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": WEBHOOK_DATABASE_URL,
        "response_cache": False,
        "webhook_allow_private_targets": True,
        "public_base_url": "https://api.example.test",
    }
    values.update(more)
    return Settings(**values)


@dataclass
class Setup:
    settings: Settings
    database: Database
    client: httpx.AsyncClient
    key: str
    worker: WebhookWorker

    async def sql(self, statement: str, **parameters: Any) -> Any:
        async with self.database.sessionmaker() as session, session.begin():
            result = await session.execute(text(statement), parameters)
            return result.all() if result.returns_rows else []

    async def until(self, done: Callable[[], bool], rounds: int = 50) -> None:
        for _ in range(rounds):
            await self.worker.run_once()
            if done():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the worker did not get there")


async def new_key(database: Database, scopes: list[str]) -> str:
    async with database.sessionmaker() as session, session.begin():
        return (await keys.create_key(session, "intégrateur", scopes, None)).secret


@pytest.fixture
async def setup(webhook_engine: AsyncEngine) -> AsyncIterator[Callable[..., Awaitable[Setup]]]:
    made: list[Setup] = []

    async def make(**more: Any) -> Setup:
        settings = settings_for(**more)
        app = create_app(settings)
        database: Database = app.state.database
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        key = await new_key(database, ["editor"])
        worker = WebhookWorker(create_database(settings), settings, lease_seconds=2)
        found = Setup(settings, database, client, key, worker)
        made.append(found)
        return found

    yield make
    for found in made:
        await found.sql("DELETE FROM webhook_subscription")
        await found.client.aclose()
        await found.worker.close()
        await found.worker.database.dispose()
        await found.database.dispose()


async def subscribe(setup: Setup, url: str, events: list[str], **more: Any) -> dict[str, Any]:
    answer = await setup.client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": events, **more},
        headers={"Authorization": f"Bearer {setup.key}"},
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def test_a_change_reaches_the_receiver_signed(
    setup: Callable[..., Awaitable[Setup]], receiver: Receiver
) -> None:
    found = await setup()
    subscription = await subscribe(found, receiver.url, ["axes.updated"])
    assert subscription["secret"].startswith("whsec_")
    listed = await found.client.get(
        "/v1/webhooks", headers={"Authorization": f"Bearer {found.key}"}
    )
    assert "secret" not in listed.json()[0]
    await found.sql("UPDATE axis SET title = title || ' [w]' WHERE code = '1'")
    await found.sql("UPDATE ambition SET title = title || ' [w]' WHERE code = '1.2'")  # not asked
    await found.until(lambda: len(receiver.received) >= 1)
    await found.worker.run_once()
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    expected = hmac.new(subscription["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["territoire-signature"] == f"sha256={expected}"
    event = json.loads(body)
    assert event["type"] == "axes.updated" == headers["territoire-event"]
    assert event["key"] == "1"
    assert event["record"]["title"].endswith("[w]")
    assert event["url"] == "https://api.example.test/v1/axes/1"
    assert event["id"] == headers["territoire-event-id"]
    assert int(headers["territoire-timestamp"]) > 0
    await found.sql("UPDATE axis SET title = replace(title, ' [w]', '') WHERE code = '1'")
    await found.sql("UPDATE ambition SET title = replace(title, ' [w]', '') WHERE code = '1.2'")


async def test_a_failing_receiver_is_retried_with_backoff_then_served(
    setup: Callable[..., Awaitable[Setup]], receiver: Receiver
) -> None:
    found = await setup()
    subscription = await subscribe(found, receiver.url, ["axes.*"])
    receiver.failures_left = 2
    await found.sql("UPDATE axis SET weight = weight + 1 WHERE code = '2'")
    await found.worker.run_once()
    state = await found.sql(
        "SELECT attempts, next_attempt_at - now(), last_status, state FROM webhook_delivery "
        "WHERE subscription_id = :id",
        id=subscription["id"],
    )
    attempts, wait, status, delivery_state = state[0]
    assert (attempts, status, delivery_state) == (1, 503, "pending")
    assert timedelta(seconds=25) < wait <= timedelta(seconds=30)
    # Not sent again before its time.
    await found.worker.run_once()
    assert receiver.received == []
    attempted = await found.sql(
        "SELECT attempts FROM webhook_delivery WHERE subscription_id = :id", id=subscription["id"]
    )
    assert attempted[0][0] == 1
    for _ in range(2):
        await found.sql("UPDATE webhook_delivery SET next_attempt_at = now()")
        await found.worker.run_once()
    assert len(receiver.received) == 1
    log = await found.client.get(
        f"/v1/webhooks/{subscription['id']}/deliveries",
        headers={"Authorization": f"Bearer {found.key}"},
    )
    entry = log.json()["items"][0]
    assert (entry["state"], entry["attempts"], entry["last_status"]) == ("delivered", 3, 200)
    await found.sql("UPDATE axis SET weight = weight - 1 WHERE code = '2'")


def test_the_backoff_doubles_and_retries_last_more_than_a_day() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, 40)]
    assert delays[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert max(delays) == LONGEST_DELAY
    settings = Settings()
    elapsed, attempt = timedelta(0), 0
    while elapsed + retry_delay(attempt + 1) <= timedelta(hours=settings.webhook_retry_hours):
        attempt += 1
        elapsed += retry_delay(attempt)
    assert elapsed >= timedelta(hours=24)
    assert settings.webhook_retry_hours >= 24


async def test_redelivery_sends_the_same_signed_body_again(
    setup: Callable[..., Awaitable[Setup]], receiver: Receiver
) -> None:
    found = await setup()
    subscription = await subscribe(found, receiver.url, ["*"])
    await found.sql("UPDATE axis SET weight = weight + 1 WHERE code = '3'")
    await found.until(lambda: len(receiver.received) >= 1)
    auth = {"Authorization": f"Bearer {found.key}"}
    log = await found.client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=auth)
    delivery = log.json()["items"][0]["id"]
    again = await found.client.post(
        f"/v1/webhooks/{subscription['id']}/deliveries/{delivery}/redeliver", headers=auth
    )
    assert again.status_code == 202
    await found.until(lambda: len(receiver.received) >= 2)
    first, second = receiver.received[0], receiver.received[1]
    assert first[1] == second[1]
    assert first[0]["territoire-signature"] == second[0]["territoire-signature"]
    missing = await found.client.post(
        f"/v1/webhooks/{subscription['id']}/deliveries/999999999/redeliver", headers=auth
    )
    assert missing.status_code == 404
    await found.sql("UPDATE axis SET weight = weight - 1 WHERE code = '3'")


async def test_a_subscription_failing_for_days_is_disabled_and_its_owner_told(
    setup: Callable[..., Awaitable[Setup]], receiver: Receiver, smtp: Any
) -> None:
    controller, inbox = smtp
    found = await setup(smtp_host="127.0.0.1", smtp_port=controller.port)
    subscription = await subscribe(
        found, receiver.url, ["axes.updated"], contact_email="integration@example.org"
    )
    receiver.always_fail = True
    await found.sql("UPDATE axis SET weight = weight + 1 WHERE code = '4'")
    await found.worker.run_once()
    await found.sql("UPDATE webhook_subscription SET failing_since = now() - interval '4 days'; ")
    await found.sql("UPDATE webhook_delivery SET next_attempt_at = now()")
    await found.worker.run_once()
    auth = {"Authorization": f"Bearer {found.key}"}
    shown = (await found.client.get(f"/v1/webhooks/{subscription['id']}", headers=auth)).json()
    assert shown["active"] is False
    assert "failed since" in shown["disabled_reason"]
    for _ in range(50):
        if inbox.messages:
            break
        await asyncio.sleep(0.05)
    [message] = inbox.messages
    assert message["To"] == "integration@example.org"
    kinds = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html"} <= kinds
    # Nothing is sent while disabled; enabled again, the waiting events go out.
    receiver.always_fail = False
    await found.sql("UPDATE webhook_delivery SET next_attempt_at = now()")
    await found.worker.run_once()
    assert receiver.received == []
    enabled = await found.client.post(f"/v1/webhooks/{subscription['id']}/enable", headers=auth)
    assert enabled.json()["active"] is True
    await found.until(lambda: len(receiver.received) >= 1)
    await found.sql("UPDATE axis SET weight = weight - 1 WHERE code = '4'")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://localhost/hook", "loopback"),
        ("ftp://example.org/hook", "http:// or https://"),
        ("http://user:pass@example.org/hook", "credentials"),
    ],
)
async def test_private_and_odd_targets_are_refused(
    setup: Callable[..., Awaitable[Setup]], url: str, reason: str
) -> None:
    found = await setup(webhook_allow_private_targets=False)
    answer = await found.client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": ["*"]},
        headers={"Authorization": f"Bearer {found.key}"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["name"] == "url"
    assert reason in answer.json()["detail"]
    assert (await found.sql("SELECT count(*) FROM webhook_subscription"))[0][0] == 0


async def test_bad_subscriptions_and_other_keys(
    setup: Callable[..., Awaitable[Setup]], receiver: Receiver
) -> None:
    found = await setup()
    auth = {"Authorization": f"Bearer {found.key}"}
    cases = [
        {"url": receiver.url, "event_types": ["axes.renamed"]},
        {"url": receiver.url, "event_types": []},
        {"url": receiver.url, "event_types": ["*"], "extra": 1},
        {"url": "pas une url", "event_types": ["*"]},
        {"url": receiver.url, "event_types": ["*"], "contact_email": "pas-un-email"},
    ]
    for body in cases:
        answer = await found.client.post("/v1/webhooks", json=body, headers=auth)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert (await found.client.post("/v1/webhooks", json=cases[0])).status_code == 401
    mine = await subscribe(found, receiver.url, ["*"])
    other = await new_key(found.database, ["moderator"])
    hidden = await found.client.get(
        f"/v1/webhooks/{mine['id']}", headers={"Authorization": f"Bearer {other}"}
    )
    assert hidden.status_code == 404
    admin = await new_key(found.database, ["admin"])
    seen = await found.client.get(
        f"/v1/webhooks/{mine['id']}", headers={"Authorization": f"Bearer {admin}"}
    )
    assert seen.status_code == 200
    gone = await found.client.delete(f"/v1/webhooks/{mine['id']}", headers=auth)
    assert gone.status_code == 204


async def test_every_event_arrives_in_order_per_record_across_a_killed_worker(
    setup: Callable[..., Awaitable[Setup]], receiver: Receiver
) -> None:
    found = await setup()
    await subscribe(found, receiver.url, ["axes.updated", "ambitions.updated"])
    receiver.delay = 0.01
    records = [("axis", code) for code in ("1", "2", "3", "4", "5")] + [
        ("ambition", code) for code in ("1.2", "2.1", "3.1")
    ]
    rounds = 25
    for _ in range(rounds):
        for table, code in records:
            await found.sql(
                f"UPDATE {table} SET weight = weight + 1 WHERE code = :code",
                code=code,
            )
    expected = rounds * len(records)
    environment = {
        **os.environ,
        "DATABASE_URL": WEBHOOK_DATABASE_URL,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_CONCURRENCY": "8",
    }

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "webhooks", cwd=PROJECT_ROOT, env=environment
        )

    worker = await start()
    for _ in range(600):
        if len(receiver.received) >= expected // 3:
            break
        await asyncio.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    killed_at = len(receiver.received)
    assert 0 < killed_at < expected
    worker = await start()
    try:
        for _ in range(3000):
            ids = {event["id"] for event in receiver.events()}
            if len(ids) >= expected:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), timeout=20)
    events = receiver.events()
    assert len({event["id"] for event in events}) == expected  # every one, at least once
    per_record: dict[str, list[int]] = {}
    for event in events:
        per_record.setdefault(f"{event['dataset']}/{event['key']}", []).append(int(event["id"]))
    for record, received in per_record.items():
        firsts = list(dict.fromkeys(received))
        assert firsts == sorted(firsts), record  # in order per record
        assert len(firsts) == rounds, record
    for table, code in records:
        await found.sql(
            f"UPDATE {table} SET weight = weight - :n WHERE code = :code",
            n=rounds,
            code=code,
        )
