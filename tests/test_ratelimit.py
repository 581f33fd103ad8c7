"""Rate limits of public writes: 429 problem with Retry-After, per client, the client being the
peer address unless a trusted proxy says otherwise; counters in memory or in Redis."""

import socket
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.conftest import TEST_DATABASE_URL
from tests.routers.test_proposals import proposal


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = getattr(request, "param", {})
    return Settings(
        environment="test",
        database_url=TEST_DATABASE_URL,  # type: ignore[arg-type]
        response_cache=False,
        rate_limit_proposals="2/minute",
        rate_limit_supports="3/minute",
        **overrides,
    )


async def test_the_third_proposal_in_a_minute_is_a_429(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post("/v1/proposals", json=proposal())).status_code == 201
    refused = await client.post("/v1/proposals", json=proposal())
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Invalid requests count too (a robot cannot probe for free), and supports have their own.
    assert (await client.post("/v1/proposals", json={})).status_code == 429
    support = await client.post("/v1/initiatives/1/supports", json={"supporter": "someone-1"})
    assert support.status_code == 201


async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    client: httpx.AsyncClient,
) -> None:
    statuses = [
        (
            await client.post(
                "/v1/initiatives/1/supports",
                json={"supporter": f"someone-{n}"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
        ).status_code
        for n in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]


@pytest.mark.parametrize("settings", [{"trusted_proxies": ["127.0.0.1"]}], indirect=True)
async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    client: httpx.AsyncClient,
) -> None:
    # The in-process client's peer address is 127.0.0.1: the proxy.
    for n in range(5):
        response = await client.post(
            "/v1/initiatives/1/supports",
            json={"supporter": f"someone-{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        assert response.status_code == 201


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379")
@pytest.mark.parametrize(
    "settings",
    # A prefix of its own (a fresh limit per run) through a database number unlikely to be used.
    [{"rate_limit_storage": "redis://127.0.0.1:6379/13", "secret_key": uuid.uuid4().hex * 2}],
    indirect=True,
)
async def test_counters_may_live_in_redis(client: httpx.AsyncClient, app: FastAPI) -> None:
    try:
        statuses = [
            (
                await client.post("/v1/initiatives/1/supports", json={"supporter": f"redis-{n}"})
            ).status_code
            for n in range(4)
        ]
    finally:
        await app.state.rate_limiter.close()
    assert statuses == [201, 201, 201, 429]


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production")
    Settings(environment="production", secret_key="s" * 40)  # type: ignore[arg-type]
