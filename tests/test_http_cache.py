"""HTTP caching of every GET: strong ETag and Last-Modified, 304 answers, HEAD, gzip, CORS."""

import asyncio
import gzip
import re
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.main import create_app
from tests.conftest import TEST_DATABASE_URL
from tests.proposal_fixtures import KNOWN_TOKEN, insert_proposal
from tests.test_malformed import FOLLOW_UP_EXAMPLES

IDENTITY = {"accept-encoding": "identity"}
EXAMPLES = {
    "code": "1",
    "insee": "62498",
    "dataset": "actions",
    "slug": "not-found",
    "initiative_id": "1",
    "collectionId": "initiatives",
    "featureId": "1",
    # The zoom-10 tile holding Lens.
    "tileMatrix": "10",
    "tileRow": "345",
    "tileCol": "520",
    # Follow-up records of the action below, added by the `routes` fixture.
    "line_key": "1.2.1.1-2024-investment",
    "key": "1.2.1.1-1",
    "token": KNOWN_TOKEN,
}
CODES = {
    "axes": "1",
    "ambitions": "1.2",
    "objectives": "1.2.1",
    "actions": "1.2.1.1",
    "indicators": "bulles-intervalle-pointe",
    "club": "1.2.1.1",  # /v1/club/actions/{code}/…
}


def get_routes(document: dict[str, Any]) -> list[str]:
    """A working URL for every public GET operation of the OpenAPI document. Those that need a
    key, and capability URLs (a secret `{token}` in the path), are private: never cached by
    shared caches, and tested with their routes."""
    urls = []
    for path, item in document["paths"].items():
        if "get" not in item or item["get"].get("security") or "{token}" in path:
            continue
        url = path
        for name in re.findall(r"\{([^}]+)\}", path):
            value = EXAMPLES[name]
            if name == "code":
                value = CODES[path.split("/")[2]]
            if name == "dataset" and path.endswith(".geojson"):
                value = "communes"
            url = url.replace("{" + name + "}", value)
        parameters = item["get"].get("parameters", [])
        required = [p for p in parameters if p.get("required") and p["in"] == "query"]
        if required:
            url += "?" + "&".join(f"{p['name']}=territoire" for p in required)
        urls.append(url)
    return urls


@pytest.fixture
async def routes(client: httpx.AsyncClient, session: AsyncSession) -> list[str]:
    await session.execute(text(FOLLOW_UP_EXAMPLES))
    await insert_proposal(session)  # the one whose status link KNOWN_TOKEN is
    document = (await client.get("/openapi.json")).json()
    value = await session.scalar(
        text(
            "SELECT min(v.id) FROM indicator_value v JOIN indicator i ON i.id = v.indicator_id "
            "WHERE i.code = :code"
        ),
        {"code": CODES["indicators"]},
    )
    EXAMPLES["value_id"] = str(value)
    urls = get_routes(document)
    assert len(urls) >= 20
    return [*urls, "/openapi.json", "/docs", "/redoc"]


async def test_every_get_has_validators_and_answers_304(
    client: httpx.AsyncClient, routes: list[str]
) -> None:
    for url in routes:
        full = await client.get(url, headers=IDENTITY)
        assert full.status_code == 200, (url, full.text[:200])
        etag = full.headers.get("etag")
        assert etag, url
        assert re.fullmatch(r'"[\x21\x23-\x7e]+"', etag), (url, etag)  # strong
        modified = parsedate_to_datetime(full.headers["last-modified"])
        assert modified.tzinfo is not None
        assert full.headers.get("cache-control"), url

        again = await client.get(url, headers={**IDENTITY, "if-none-match": etag})
        assert again.status_code == 304, url
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers.get("cache-control") == full.headers["cache-control"]
        weak_in_list = f'"nope", W/{etag}'
        listed = await client.get(url, headers={**IDENTITY, "if-none-match": weak_in_list})
        assert listed.status_code == 304, url
        since = await client.get(
            url, headers={**IDENTITY, "if-modified-since": full.headers["last-modified"]}
        )
        assert since.status_code == 304, url
        other = await client.get(url, headers={**IDENTITY, "if-none-match": '"other"'})
        assert other.status_code == 200, url

        head = await client.head(url, headers=IDENTITY)
        assert head.status_code == 200, url
        assert head.content == b""
        assert head.headers["etag"] == etag
        assert head.headers.get("content-length") == full.headers.get("content-length"), url


async def test_if_modified_since_before_the_change_is_a_200(client: httpx.AsyncClient) -> None:
    full = await client.get("/v1/plan")
    modified = parsedate_to_datetime(full.headers["last-modified"])
    earlier = format_datetime(modified.replace(year=modified.year - 1), usegmt=True)
    assert (await client.get("/v1/plan", headers={"if-modified-since": earlier})).status_code == 200
    # An invalid date is ignored (RFC 9110), not an error.
    garbage = await client.get("/v1/plan", headers={"if-modified-since": "yesterday"})
    assert garbage.status_code == 200


async def test_star_matches_only_what_exists(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/axes/1", headers={"if-none-match": "*"})).status_code == 304
    missing = await client.get("/v1/axes/9", headers={"if-none-match": "*"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "value", ['W/"unterminated', "abc", '"a" "b"', '"a",,,"b', '"a"; x', '"\x01"', 'W/ "a"']
)
async def test_a_malformed_if_none_match_is_a_400(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/v1/plan", headers={"if-none-match": value})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "location": "header",
            "name": "If-None-Match",
            "reason": response.json()["errors"][0]["reason"],
        }
    ]


async def test_a_change_changes_the_validators(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await client.get("/v1/plan")
    await session.execute(text("UPDATE action SET title = 'Bus' WHERE code = '1.2.1.1'"))
    after = await client.get("/v1/plan", headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert parsedate_to_datetime(after.headers["last-modified"]) >= parsedate_to_datetime(
        before.headers["last-modified"]
    )


async def test_large_bodies_are_compressed(client: httpx.AsyncClient) -> None:
    plain = await client.get("/v1/plan", headers=IDENTITY)
    packed = await client.get("/v1/plan", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert packed.content == plain.content  # httpx decoded it
    assert packed.headers["etag"] != plain.headers["etag"]
    refused = await client.get("/v1/plan", headers={"accept-encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers
    small = await client.get("/health", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers
    raw = await client.get("/v1/plan", headers={"accept-encoding": "gzip"})
    assert gzip.decompress(gzip.compress(raw.content)) == plain.content


async def test_cors_is_open_for_reads(client: httpx.AsyncClient) -> None:
    origin = {"origin": "https://example.org"}
    response = await client.get("/v1/actions?limit=1", headers=origin)
    assert response.headers["access-control-allow-origin"] == "*"
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "link", "last-modified"} <= exposed
    preflight = await client.options(
        "/v1/plan",
        headers={
            **origin,
            "access-control-request-method": "GET",
            "access-control-request-headers": "if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "if-none-match"
    not_modified = await client.get(
        "/v1/plan", headers={**origin, "if-none-match": response.headers["etag"]}
    )
    assert not_modified.headers["access-control-allow-origin"] == "*"


async def test_cors_is_closed_for_writes_but_to_configured_origins() -> None:
    settings = Settings(
        environment="test",
        database_url=TEST_DATABASE_URL,  # type: ignore[arg-type]
        response_cache=False,
        cors_write_origins=["https://admin.example.org"],
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for origin, allowed in (
            ("https://evil.example", False),
            ("https://admin.example.org", True),
        ):
            preflight = await client.options(
                "/v1/territory",
                headers={"origin": origin, "access-control-request-method": "POST"},
            )
            assert (preflight.status_code == 204) is allowed
            assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed
            write = await client.post("/v1/territory", headers={"origin": origin})
            assert write.status_code == 405
            assert (write.headers.get("access-control-allow-origin") == origin) is allowed


async def test_a_cached_entry_keeps_its_etag_and_a_304_skips_it(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        first = await client.get("/v1/plan")
        second = await client.get("/v1/plan")
        assert second.headers["x-cache"] == "hit"
        assert second.headers["etag"] == first.headers["etag"]
        assert second.headers["last-modified"] == first.headers["last-modified"]
        conditional = await client.get("/v1/plan", headers={"if-none-match": first.headers["etag"]})
        assert conditional.status_code == 304
        assert "x-cache" not in conditional.headers  # answered before the response cache
        head = await client.head("/v1/plan")
        assert head.status_code == 200
        assert head.headers["etag"] == first.headers["etag"]
        assert head.headers["content-length"] == first.headers["content-length"]
        export = await client.head("/v1/datasets/actions.csv")
        assert export.status_code == 200
        assert int(export.headers["content-length"]) > 1000


async def test_an_authenticated_read_is_private_and_checked_by_its_route(
    client: httpx.AsyncClient,
) -> None:
    public = await client.get("/v1/axes")
    assert public.headers["cache-control"].startswith("public")
    keyed = await client.get("/v1/axes", headers={"Authorization": "Bearer trk_x"})
    assert keyed.status_code == 200
    assert keyed.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in keyed.headers["vary"]
    # Its validator comes from its body, not from the versions alone: a 304 is still possible.
    again = await client.get(
        "/v1/axes",
        headers={"Authorization": "Bearer trk_x", "If-None-Match": keyed.headers["etag"]},
    )
    assert again.status_code == 304


@pytest.mark.parametrize("response_cache", [True, False])
async def test_a_304_reads_nothing_while_the_listener_is_connected(
    engine: AsyncEngine, response_cache: bool
) -> None:
    """The dataset versions are kept in memory by the change listener, response cache or not:
    a conditional GET whose ETag still matches is answered without a query."""
    settings = Settings(
        environment="test",
        database_url=TEST_DATABASE_URL,  # type: ignore[arg-type]
        response_cache=response_cache,
    )
    app = create_app(settings)
    versions = app.state.data_versions
    read = versions.reader
    reads = 0

    async def counted() -> object:
        nonlocal reads
        reads += 1
        return await read()

    versions.reader = counted
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if versions.connected:
                break
            await asyncio.sleep(0.05)
        assert versions.connected
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            first = await client.get("/v1/plan")
            assert first.status_code == 200
            before = reads
            conditional = {"if-none-match": first.headers["etag"]}
            for _ in range(5):
                again = await client.get("/v1/plan", headers=conditional)
                assert again.status_code == 304
                assert again.headers["etag"] == first.headers["etag"]
            assert reads == before <= 1
