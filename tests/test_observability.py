"""Request ids, JSON access logs and Prometheus metrics, through the real app."""

import asyncio
import io
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import SecretStr

from app import access_log
from app.access_log import JsonLines
from app.config import Settings
from app.main import PROJECT_ROOT, create_app
from app.observability import ACCESS_LOGGER
from tests.conftest import TEST_DATABASE_URL, start_uvicorn

# Ports of this file's own servers.


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of an exposition text with these labels (0 when none)."""
    value = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            value += float(line.rsplit(" ", 1)[1])
    return value


@pytest.fixture
def access_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger(ACCESS_LOGGER).addHandler(handler)
    yield records
    logging.getLogger(ACCESS_LOGGER).removeHandler(handler)


async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "lb-42.a:b_c"})
    assert response.headers["x-request-id"] == "lb-42.a:b_c"


@pytest.mark.parametrize("sent", ["x" * 129, "with space", "semi;colon", "é"])
async def test_an_insane_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": sent.encode()})
    made = response.headers["x-request-id"]
    assert made != sent
    assert re.fullmatch(r"[0-9a-f]{32}", made)


async def test_each_request_gets_its_own_id_errors_included(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    missing = await client.get("/v1/actions/9.9.9.9")
    unrouted = await client.get("/no/such/thing")
    invalid = await client.get("/v1/axes", params={"limit": "many"})
    ids = [r.headers["x-request-id"] for r in (first, missing, unrouted, invalid)]
    assert [missing.status_code, unrouted.status_code, invalid.status_code] == [404, 404, 400]
    assert len(set(ids)) == 4


async def test_access_log_is_one_json_object_without_personal_data(
    client: httpx.AsyncClient, access_records: list[logging.LogRecord]
) -> None:
    token = "secret-status-token-1234567890abcdef"
    response = await client.get(
        f"/v1/proposals/status/{token}",
        headers={"X-Request-ID": "trace-7", "X-Forwarded-For": "203.0.113.9"},
    )
    record = next(r for r in access_records if r.fields["request_id"] == "trace-7")  # type: ignore[attr-defined]
    handler = logging.getLogger(ACCESS_LOGGER).handlers[0]
    line = handler.format(record)
    assert "\n" not in line
    fields = orjson.loads(line)
    assert fields["route"] == "/v1/proposals/status/{token}"
    assert fields["status"] == response.status_code
    assert fields["method"] == "GET"
    assert fields["duration_ms"] >= 0
    assert token not in line
    for address in ("127.0.0.1", "203.0.113.9", "testclient"):
        assert address not in line


async def test_metrics_count_by_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    for code in ("1", "1.1", "9.9.9.9"):
        await client.get(f"/v1/actions/{code}")
    await client.get("/no/such/thing")
    after = (await client.get("/metrics")).text
    assert after.startswith("# HELP") or "# HELP" in after
    route = "/v1/actions/{code}"
    counted = sample(after, "territoire_http_requests_total", route=route, status="404")
    was = sample(before, "territoire_http_requests_total", route=route, status="404")
    assert counted - was >= 1
    total_after = sample(after, "territoire_http_requests_total", route=route)
    total_before = sample(before, "territoire_http_requests_total", route=route)
    assert total_after - total_before == 3
    assert "9.9.9.9" not in after
    assert "/no/such/thing" not in after
    assert sample(after, "territoire_http_requests_total", route="<unrouted>", status="404") >= 1
    assert sample(after, "territoire_http_request_duration_seconds_count", route=route) >= 3
    assert 'territoire_db_pool_max{pool="sqlalchemy"}' in after
    assert sample(after, "territoire_metrics_database_up") == 1
    for gauge in ("webhook_queue_depth", "digest_queue_depth", "webhook_queue_oldest_age_seconds"):
        assert f"territoire_{gauge} " in after


async def test_metrics_are_not_in_the_public_description(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]


async def test_metrics_token(settings: Settings) -> None:
    guarded = create_app(settings.model_copy(update={"metrics_token": SecretStr("t0ken")}))
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer t0ken"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert right.status_code == 200
    assert "territoire_http_requests" in right.text


async def test_metrics_off(settings: Settings) -> None:
    quiet = create_app(settings.model_copy(update={"metrics": False}))
    transport = httpx.ASGITransport(app=quiet)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics")
        health = await client.get("/health")
    assert response.status_code == 404
    assert health.headers["x-request-id"]


async def test_cache_hits_are_counted(settings: Settings) -> None:
    # A cache that is connected (its listener on the test database) answers the second GET.
    cached = create_app(settings.model_copy(update={"response_cache": True}))
    transport = httpx.ASGITransport(app=cached)
    async with (
        cached.router.lifespan_context(cached),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        for _ in range(50):
            if cached.state.change_listener.cache.connected:
                break
            await asyncio.sleep(0.05)
        before = (await client.get("/metrics")).text
        first = await client.get("/v1/axes")
        second = await client.get("/v1/axes")
        after = (await client.get("/metrics")).text
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    for result in ("hit", "miss"):
        delta = sample(after, "territoire_response_cache_total", result=result) - sample(
            before, "territoire_response_cache_total", result=result
        )
        assert delta == 1


async def started(settings: Settings, **update: object) -> tuple[object, httpx.AsyncClient]:
    application = create_app(settings.model_copy(update=update))
    transport = httpx.ASGITransport(app=application)
    return application, httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.mark.parametrize("response_cache", [True, False])
async def test_answers_given_before_routing_are_counted_and_logged_under_their_route(
    settings: Settings, access_records: list[logging.LogRecord], response_cache: bool
) -> None:
    """A cache hit and a 304 (from the cache, or from the dataset versions without it) never
    reach the router: still counted, and logged with their request id, under the route."""
    application, client = await started(settings, response_cache=response_cache)
    async with application.router.lifespan_context(application), client:  # type: ignore[attr-defined]
        for _ in range(50):
            if application.state.change_listener.cache.connected:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        before = (await client.get("/metrics")).text
        first = await client.get("/v1/axes", headers={"X-Request-ID": "first-1"})
        again = await client.get("/v1/axes", headers={"X-Request-ID": "again-1"})
        tag = first.headers["etag"]
        unchanged = await client.get(
            "/v1/axes", headers={"X-Request-ID": "unchanged-1", "If-None-Match": tag}
        )
        after = (await client.get("/metrics")).text
    assert (first.status_code, again.status_code, unchanged.status_code) == (200, 200, 304)
    if response_cache:
        assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert unchanged.headers["x-request-id"] == "unchanged-1"

    def counted(status: str) -> float:
        labels = {"route": "/v1/axes", "method": "GET", "status": status}
        name = "territoire_http_requests_total"
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert (counted("200"), counted("304")) == (2, 1)
    logged = {r.fields["request_id"]: r.fields for r in access_records}  # type: ignore[attr-defined]
    for rid, status in (("first-1", 200), ("again-1", 200), ("unchanged-1", 304)):
        assert (logged[rid]["route"], logged[rid]["status"]) == ("/v1/axes", status)
    assert logged["unchanged-1"]["bytes"] == 0


async def test_access_lines_are_written_directly_when_the_log_is_as_configured(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its own handler only, a request's line is written as one write, without logging's
    record: the same JSON object as through logging."""
    path = tmp_path / "access.log"
    with path.open("w") as stream:
        handler = JsonLines(stream)
        assert handler.fd is not None
        monkeypatch.setattr(logging.getLogger(ACCESS_LOGGER), "handlers", [handler])

        def no_record(*_: object, **__: object) -> None:
            raise AssertionError("the line went through logging")

        monkeypatch.setattr(access_log.access_logger, "info", no_record)
        token = "secret-status-token-1234567890abcdef"
        await client.get(
            f"/v1/proposals/status/{token}",
            headers={"X-Request-ID": "direct-1", "X-Forwarded-For": "203.0.113.9"},
        )
        await client.get("/health", headers={"X-Request-ID": "direct-2"})
    text = path.read_text()
    lines = [orjson.loads(line) for line in text.splitlines()]
    assert [line["request_id"] for line in lines] == ["direct-1", "direct-2"]
    assert list(lines[1]) == [
        "time", "level", "logger", "message",
        "request_id", "method", "route", "status", "duration_ms", "bytes",
    ]  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[1]["time"])
    assert (lines[1]["message"], lines[1]["logger"]) == ("GET /health 200", ACCESS_LOGGER)
    assert lines[0]["route"] == "/v1/proposals/status/{token}"
    for secret in (token, "203.0.113.9", "127.0.0.1", "testclient"):
        assert secret not in text


def test_a_line_written_directly_is_the_line_logging_makes() -> None:
    stream = io.StringIO()  # no file descriptor: written through the stream
    handler = JsonLines(stream)
    assert handler.fd is None
    fields = {"request_id": "r-1", "method": "GET", "route": "/health", "status": 200}
    handler.write("GET /health 200", fields)
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, "GET /health 200", (), None)
    record.fields = fields
    direct, through_logging = orjson.loads(stream.getvalue()), orjson.loads(handler.format(record))
    assert stream.getvalue().count("\n") == 1
    for line in (direct, through_logging):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("time"))
    assert direct == through_logging


async def test_several_workers_add_up(tmp_path: Path) -> None:
    """Two uvicorn workers share PROMETHEUS_MULTIPROC_DIR: whichever answers the scrape, the
    counts are those of both."""
    folder = tmp_path / "metrics"
    environment = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "ENVIRONMENT": "test",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "ACCESS_LOG": "false",
    }
    reset = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "metrics-reset", cwd=PROJECT_ROOT, env=environment
    )
    assert await reset.wait() == 0
    assert folder.is_dir()
    process, url = await start_uvicorn(
        TEST_DATABASE_URL,
        environment={"PROMETHEUS_MULTIPROC_DIR": str(folder), "ACCESS_LOG": "false"},
        workers=2,
    )
    try:
        # New connections each time, so that both workers take some.
        for _ in range(40):
            async with httpx.AsyncClient(base_url=url) as fresh:
                assert (await fresh.get("/health")).status_code == 200
        scrapes = []
        for _ in range(6):
            async with httpx.AsyncClient(base_url=url) as fresh:
                scrapes.append((await fresh.get("/metrics")).text)
        files = {path.name.rsplit("_", 1)[-1] for path in folder.glob("counter_*.db")}
        assert len(files) == 2, "both workers should have counted requests"
        counts = {
            sample(text, "territoire_http_requests_total", route="/health") for text in scrapes
        }
        assert counts == {40.0}
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=20)
