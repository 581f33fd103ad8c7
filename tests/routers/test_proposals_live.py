"""Proposals against the real server and database: concurrency, durability across `kill -9`,
chunked bodies, and privacy (no contact, status token, digest or supporter in any public
response; no email nor client address in the logs).

The server runs on a database of its own (the tests commit) with its rate limits raised through
the environment, and logs at info level (access lines included) to a file the last test reads.
"""

import asyncio
import base64
import hashlib
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.services.dataset import load_dataset, read_dataset
from app.services.registry import REGISTRY
from tests.conftest import (
    CALL_DATASET,
    TEST_DATABASE_URL,
    free_port,
    migrate,
    plain_url,
    recreate_database,
    start_uvicorn,
)
from tests.routers.test_proposals import proposal
from tests.test_http_cache import CODES, EXAMPLES

DATABASE_URL = TEST_DATABASE_URL + "_proposals"
RAISED_LIMITS = {
    # Raised for these tests only: they send thousands of writes from one address.
    "RATE_LIMIT_PROPOSALS": "1000000/minute",
    "RATE_LIMIT_SUPPORTS": "1000000/minute",
    "DATABASE_POOL_SIZE": "20",
}


@dataclass
class Server:
    url: str
    dsn: str
    log: Path
    process: asyncio.subprocess.Process | None = None
    port: int = field(default_factory=free_port)

    async def start(self) -> None:
        with self.log.open("ab") as output:
            self.process, self.url = await start_uvicorn(
                DATABASE_URL,
                port=self.port,
                environment=RAISED_LIMITS,
                log_level="info",
                output=output,
            )

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)
            await asyncio.wait_for(self.process.wait(), timeout=15)
        self.process = None


@pytest.fixture(scope="module")
async def database() -> str:
    await recreate_database(DATABASE_URL)
    await migrate(DATABASE_URL)
    engine = create_async_engine(DATABASE_URL)
    async with engine.begin() as connection:
        await load_dataset(AsyncSession(bind=connection), read_dataset(CALL_DATASET))
    await engine.dispose()
    return plain_url(DATABASE_URL)


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proposals") / "server.log"


@pytest.fixture(scope="module")
async def server(database: str, log_file: Path) -> AsyncIterator[Server]:
    running = Server("", database, log_file)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="module")
def secrets_seen() -> dict[str, list[str]]:
    """What the tests below sent or got that must never be public (filled as they go)."""
    return {"private": [], "unpublished": []}


def remember(secrets: dict[str, list[str]], body: dict[str, Any], answer: dict[str, Any]) -> None:
    token = answer["status_token"]
    digest = hashlib.sha256(token.encode()).digest()
    secrets["private"] += [
        body["contact_email"],
        token,
        digest.hex(),
        base64.b64encode(digest).decode(),
        base64.urlsafe_b64encode(digest).decode().rstrip("="),
    ]


async def count(dsn: str, sql: str, *args: Any) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(sql, *args))
    finally:
        await connection.close()


async def test_200_concurrent_posts_with_one_key_create_one_initiative(
    server: Server, secrets_seen: dict[str, list[str]]
) -> None:
    title = f"Concurrence {uuid.uuid4().hex[:8]}"
    body = proposal(title=title, contact_email=f"same-key-{uuid.uuid4().hex[:8]}@example.org")
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/proposals", json=body, headers=headers) for _ in range(200))
        )
    assert {a.status_code for a in answers} == {201}, {a.status_code for a in answers}
    assert len({a.content for a in answers}) == 1
    assert len({a.headers["location"] for a in answers}) == 1
    assert await count(server.dsn, "SELECT count(*) FROM initiative WHERE title = $1", title) == 1
    remember(secrets_seen, body, answers[0].json())
    secrets_seen["unpublished"].append(title)


async def test_1000_concurrent_distinct_proposals_create_1000(server: Server) -> None:
    prefix = f"Mille {uuid.uuid4().hex[:8]} "
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/v1/proposals",
                    json=proposal(title=f"{prefix}{n}", contact_email=f"m{n}@example.org"),
                )
                for n in range(1000)
            )
        )
    assert [a.status_code for a in answers] == [201] * 1000
    assert len({a.json()["id"] for a in answers}) == 1000
    rows = await count(
        server.dsn, "SELECT count(*) FROM initiative WHERE title LIKE $1", prefix + "%"
    )
    assert rows == 1000


async def test_a_bad_proposal_among_concurrent_ones_fails_alone(server: Server) -> None:
    # Concurrent proposals are stored together, in one statement: one the database refuses (no
    # axis 9) must not take the others with it.
    prefix = f"Lot {uuid.uuid4().hex[:8]} "
    bodies = [proposal(title=f"{prefix}{n}", category="9" if n == 7 else "4") for n in range(40)]
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/v1/proposals",
                    json=body,
                    headers={"Idempotency-Key": f"{prefix.strip().replace(' ', '-')}-{n}"}
                    if n % 2
                    else {},
                )
                for n, body in enumerate(bodies)
            )
        )
    assert [a.status_code for a in answers] == [422 if n == 7 else 201 for n in range(40)]
    assert answers[7].json()["errors"][0]["name"] == "category"
    rows = await count(
        server.dsn, "SELECT count(*) FROM initiative WHERE title LIKE $1", prefix + "%"
    )
    assert rows == 39


async def test_an_acknowledged_proposal_survives_kill_9(server: Server) -> None:
    victim = Server("", server.dsn, server.log)
    await victim.start()
    title = f"Survivante {uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=victim.url, timeout=30) as client:
        response = await client.post("/v1/proposals", json=proposal(title=title))
        assert victim.process is not None
        victim.process.kill()  # SIGKILL, right after the answer
    assert response.status_code == 201
    await victim.process.wait()
    victim.process = None
    assert await count(server.dsn, "SELECT count(*) FROM initiative WHERE title = $1", title) == 1
    await victim.start()  # restarted on the same port
    try:
        async with httpx.AsyncClient(base_url=victim.url, timeout=30) as client:
            status = await client.get(response.json()["status_url"].replace(server.url, ""))
        assert status.status_code == 200
        assert status.json()["title"] == title
        assert status.json()["status"] == "submitted"
    finally:
        await victim.stop()


async def test_an_oversized_chunked_body_is_a_413(server: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(100):
            yield b"x" * 8192
        yield b'"}'

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.post(
            "/v1/proposals", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        declared = await client.post("/v1/proposals", json=proposal(description="x" * 300_000))
        assert declared.status_code == 413

        async def small() -> AsyncIterator[bytes]:
            yield b'{"supporter": '
            yield b'"chunked-supporter-1"}'

        fine = await client.post(
            "/v1/initiatives/1/supports",
            content=small(),
            headers={"content-type": "application/json"},
        )
        assert fine.status_code in (200, 201), fine.text


def tile_of(longitude: float, latitude: float, zoom: int) -> tuple[int, int]:
    import math

    n = 2**zoom
    col = int((longitude + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(latitude))) / math.pi) / 2 * n)
    return row, col


def documented_urls(document: dict[str, Any], examples: dict[str, str]) -> list[str]:
    """Every GET of the OpenAPI document that needs no key, with example parameters; not the
    private status links (a secret token in the path)."""
    urls = []
    for path, item in document["paths"].items():
        get = item.get("get")
        if get is None or get.get("security") or "{token}" in path:
            continue
        url = path
        for name in re.findall(r"\{([^}]+)\}", path):
            value = CODES[path.split("/")[2]] if name == "code" else examples[name]
            if name == "dataset" and path.endswith(".geojson"):
                value = "communes"
            url = url.replace("{" + name + "}", value)
        required = [
            p["name"] for p in get.get("parameters", []) if p.get("required") and p["in"] == "query"
        ]
        if required:
            url += "?" + "&".join(f"{name}=territoire" for name in required)
        urls.append(url)
    return urls


async def public_urls(
    client: httpx.AsyncClient, published: list[int], examples: dict[str, str]
) -> list[str]:
    document = (await client.get("/openapi.json")).json()
    urls = documented_urls(document, examples)
    for spec in REGISTRY:
        urls += [f"/v1/datasets/{spec.identifier}.{ext}" for ext in ("csv", "json")]
        urls.append(f"/v1/schemas/{spec.identifier}.json")
        if spec.geometry:
            urls.append(f"/v1/datasets/{spec.identifier}.geojson")
    urls += [f"/v1/catalog.{ext}" for ext in ("jsonld", "ttl", "rdf")]
    urls += ["/v1/initiatives?limit=1000", "/v1/search?q=jardin", "/v1/search?q=proposition"]
    for collection in ("initiatives", "actions", "communes"):
        urls += [
            f"/ogc/collections/{collection}/items?limit=10000",
            f"/ogc/collections/{collection}/items?limit=10000&f=html",
        ]
    for identifier in published:
        urls += [
            f"/v1/initiatives/{identifier}",
            f"/ogc/collections/initiatives/items/{identifier}",
            f"/ogc/collections/initiatives/items/{identifier}?f=html",
        ]
    for zoom in range(8, 16):
        row, col = tile_of(2.8282, 50.4268, zoom)
        urls.append(f"/ogc/collections/initiatives/tiles/WebMercatorQuad/{zoom}/{row}/{col}")
    return urls


async def test_no_private_data_in_any_public_response(
    server: Server, secrets_seen: dict[str, list[str]]
) -> None:
    marker = uuid.uuid4().hex[:10]
    created: list[tuple[dict[str, Any], dict[str, Any]]] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        for n in range(6):
            body = proposal(
                title=f"Proposition jardin {marker} {n}",
                contact_email=f"prive-{marker}-{n}@example.org",
                address=f"{n} impasse Secrète-{marker}",
                author_name=f"Auteur public {n}",
            )
            headers = {"Idempotency-Key": f"{marker}-{n}"} if n % 2 else {}
            response = await client.post("/v1/proposals", json=body, headers=headers)
            assert response.status_code == 201
            created.append((body, response.json()))
            remember(secrets_seen, body, response.json())
        # Publish half, as a moderator would; reject one.
        published = [answer["id"] for _, answer in created[:3]]
        connection = await asyncpg.connect(server.dsn)
        try:
            await connection.execute(
                "UPDATE initiative SET status = 'published', published_at = now(), "
                "moderated_at = now() WHERE id = ANY($1::bigint[])",
                published,
            )
            await connection.execute(
                "UPDATE initiative SET status = 'rejected', moderation_reason = 'spam' "
                "WHERE id = $1",
                created[3][1]["id"],
            )
        finally:
            await connection.close()
        for body, _ in created[3:]:
            secrets_seen["unpublished"] += [body["title"], body["address"]]
        for n, identifier in enumerate(published):
            supporter = f"soutien-{marker}-{n}@example.org"
            response = await client.post(
                f"/v1/initiatives/{identifier}/supports", json={"supporter": supporter}
            )
            assert response.status_code == 201
            secrets_seen["private"].append(supporter)
        connection = await asyncpg.connect(server.dsn)
        try:
            digests = await connection.fetch("SELECT supporter_digest FROM support")
            # Whatever record each documented URL names, it exists (as the examples say).
            value_id = await connection.fetchval(
                "SELECT min(v.id) FROM indicator_value v JOIN indicator i "
                "ON i.id = v.indicator_id WHERE i.code = $1",
                CODES["indicators"],
            )
            action = await connection.fetchval("SELECT id FROM action WHERE code = '1.2.1.1'")
            await connection.execute(
                "INSERT INTO budget_line (action_id, year, nature, line_key, planned) "
                "VALUES ($1, 2024, 'investment', '', 1000) ON CONFLICT DO NOTHING",
                action,
            )
            await connection.execute(
                "INSERT INTO milestone (action_id, position, milestone_key, milestone_date, title) "
                "VALUES ($1, 1, '', '2024-01-01', 'Exemple') ON CONFLICT DO NOTHING",
                action,
            )
        finally:
            await connection.close()
        examples = {
            **EXAMPLES,
            "value_id": str(value_id),
            "line_key": "1.2.1.1-2024-investment",
            "key": "1.2.1.1-1",
        }
        secrets_seen["private"] += [bytes(row[0]).hex() for row in digests]

        # The feed, from its beginning to its end.
        pages = []
        cursor = None
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            page = await client.get("/v1/changes", params=params)
            pages.append(page.text)
            cursor = page.json()["next_cursor"]
            if not page.json()["has_more"]:
                break

        # Public data reflects the publication (the response cache heard of the commits).
        for _ in range(50):
            listed = (await client.get("/v1/initiatives?limit=1000")).json()
            if set(published) <= {f["id"] for f in listed["features"]}:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("published proposals are not listed")

        bodies = {"/v1/changes (all pages)": "\n".join(pages)}
        for url in await public_urls(client, published, examples):
            response = await client.get(url)
            assert response.status_code == 200, (url, response.text[:200])
            bodies[url] = response.content.decode("utf-8", "replace")
    assert len(bodies) > 60
    leaks = [
        (url, secret)
        for url, text in bodies.items()
        for secret in secrets_seen["private"] + secrets_seen["unpublished"]
        if secret in text
    ]
    assert leaks == []
    # The published ones are public, with their authors' public names.
    assert f"Proposition jardin {marker} 0" in bodies["/v1/initiatives?limit=1000"]
    assert "Auteur public 0" in bodies["/v1/datasets/initiatives.csv"]


async def test_the_logs_hold_no_email_nor_client_address(
    server: Server, secrets_seen: dict[str, list[str]], log_file: Path
) -> None:
    await server.stop()  # flushes the log
    lines = (await asyncio.to_thread(log_file.read_text, encoding="utf-8")).splitlines()
    # uvicorn's own access line, anonymised, and the service's JSON line (territoire.access).
    access = [line for line in lines if line.startswith("INFO:") and '"POST /v1/proposals' in line]
    assert len(access) >= 1000
    assert all(line.startswith("INFO:     - - ") for line in access), access[:3]
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    posts = [entry for entry in logged if entry.get("message") == "POST /v1/proposals 201"]
    assert len(posts) >= 1000
    assert all(entry["route"] == "/v1/proposals" and entry["request_id"] for entry in posts)
    access_all = [line for line in lines if line.startswith("INFO:")]
    startup = "Uvicorn running on http://127.0.0.1:"
    assert [line for line in lines if "127.0.0.1" in line and startup not in line] == []
    assert [line for line in lines if "@example.org" in line] == []
    for secret in secrets_seen["private"]:
        assert all(secret not in line for line in lines)
    status_lines = [line for line in access_all if "/v1/proposals/status/" in line]
    assert status_lines
    assert all("/v1/proposals/status/… " in line for line in status_lines), status_lines[:3]
