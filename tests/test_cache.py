"""The response cache: served from memory, dropped as soon as a change is committed."""

import asyncio
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache import CachedResponse, ResponseCache, ResponseCacheMiddleware, Send
from app.models.publication import TRIGGER_WRITTEN_TABLES, UNPUBLISHED_TABLES
from tests.conftest import TEST_DATABASE_URL, plain_url


def entry(size: int) -> CachedResponse:
    return CachedResponse(200, [], b"x" * size)


def test_a_response_computed_across_a_change_is_not_stored() -> None:
    cache = ResponseCache(max_bytes=1000, max_entry_bytes=100)
    cache.connected = True
    started_at = cache.generation
    cache.invalidate()  # a change is committed while the response is computed
    cache.put((b"k",), entry(10), started_at)
    assert cache.get((b"k",)) is None
    cache.put((b"k",), entry(10), cache.generation)
    assert cache.get((b"k",)) is not None


def test_nothing_is_stored_while_the_listener_is_disconnected() -> None:
    cache = ResponseCache(max_bytes=1000, max_entry_bytes=100)
    cache.put((b"k",), entry(10), cache.generation)
    assert len(cache) == 0
    assert not cache.active


def test_the_cache_is_bounded_in_bytes_least_recently_used_first() -> None:
    cache = ResponseCache(max_bytes=100, max_entry_bytes=60)
    cache.connected = True
    cache.put((b"a",), entry(40), cache.generation)
    cache.put((b"b",), entry(40), cache.generation)
    assert cache.get((b"a",)) is not None  # a is now the most recently used
    cache.put((b"c",), entry(40), cache.generation)
    assert cache.get((b"b",)) is None
    assert cache.get((b"a",)) is not None
    cache.put((b"big",), entry(61), cache.generation)
    assert cache.get((b"big",)) is None


async def notifying(session: AsyncSession) -> dict[str, bool]:
    result = await session.execute(
        text(
            "SELECT tablename, EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c "
            "ON c.oid = t.tgrelid WHERE c.relname = tablename "
            "AND t.tgname = 'trg_' || tablename || '_notify') FROM pg_tables "
            "WHERE schemaname = 'public' "
            "AND tablename NOT IN ('alembic_version', 'spatial_ref_sys')"
        )
    )
    return {str(table): bool(notifies) for table, notifies in result}


async def test_every_table_notifies_its_changes(session: AsyncSession) -> None:
    tables = await notifying(session)
    silent = [table for table, notifies in tables.items() if not notifies]
    assert sorted(silent) == sorted(TRIGGER_WRITTEN_TABLES + UNPUBLISHED_TABLES)


async def test_tables_written_by_triggers_change_only_with_a_notifying_table(
    session: AsyncSession,
) -> None:
    # Nothing but the triggers of notifying tables writes them: a change to a published row
    # fills both in its own transaction, and that transaction notifies.
    before = await session.scalar(text("SELECT count(*) FROM change_log"))
    await session.execute(text("UPDATE axis SET title = title || ' (modifié)' WHERE code = '1'"))
    after = await session.scalar(text("SELECT count(*) FROM change_log"))
    assert after == (before or 0) + 1
    result = await session.execute(
        text(
            "SELECT DISTINCT p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = ANY(:tables) "
            "AND NOT t.tgisinternal"
        ),
        {"tables": list(TRIGGER_WRITTEN_TABLES)},
    )
    # Only the guard that keeps the audit log append-only, which writes nothing.
    assert list(result.scalars()) == ["refuse_audit_change"]


async def title_of_axis_1(client: httpx.AsyncClient, url: str) -> tuple[str, str]:
    response = await client.get(url + "/v1/plan")
    assert response.status_code == 200
    return response.json()["axes"][0]["title"], response.headers["x-cache"]


async def test_a_committed_change_is_served_at_once(live_server: str) -> None:
    connection = await asyncpg.connect(plain_url(TEST_DATABASE_URL))
    async with httpx.AsyncClient() as client:
        original, _ = await title_of_axis_1(client, live_server)
        assert (await title_of_axis_1(client, live_server))[1] == "hit"
        try:
            await connection.execute("UPDATE axis SET title = 'Changé' WHERE code = '1'")
            for _ in range(50):
                title, cached = await title_of_axis_1(client, live_server)
                if title == "Changé":
                    break
                await asyncio.sleep(0.05)
            assert title == "Changé"
            assert cached == "miss"
        finally:
            await connection.execute("UPDATE axis SET title = $1 WHERE code = '1'", original)
            await connection.close()
        for _ in range(50):
            if (await title_of_axis_1(client, live_server))[0] == original:
                break
            await asyncio.sleep(0.05)
        assert (await title_of_axis_1(client, live_server))[0] == original


async def test_errors_and_authenticated_requests_are_not_cached(live_server: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            missing = await client.get(live_server + "/v1/axes/9")
            assert missing.status_code == 404
            assert missing.headers.get("x-cache") is None or missing.headers["x-cache"] == "miss"
        for _ in range(2):
            private = await client.get(
                live_server + "/v1/territory", headers={"Authorization": "Bearer x"}
            )
            assert "x-cache" not in private.headers


async def test_a_hit_and_its_304_are_answered_from_the_stored_headers() -> None:
    cache = ResponseCache(max_bytes=10_000, max_entry_bytes=1_000)
    cache.connected = True
    calls = 0
    stored = [
        (b"content-type", b"application/json"),
        (b"content-length", b"2"),
        (b"etag", b'"abc"'),
        (b"last-modified", b"Sat, 28 Nov 2026 00:00:00 GMT"),
        (b"cache-control", b"public, max-age=60"),
        (b"vary", b"Accept-Encoding"),
        (b"x-request-id", b"one-exchange"),
        (b"access-control-allow-origin", b"*"),
    ]

    async def app(scope: dict[str, object], receive: object, send: Send) -> None:
        nonlocal calls
        calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": stored})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def get(method: str = "GET", *headers: tuple[bytes, bytes]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": "/v1/axes", "headers": list(headers)}
        await middleware(scope, receive, send)
        return sent

    middleware = ResponseCacheMiddleware(app, cache, prefixes=("/v1/",))
    assert (await get())[0]["headers"][-1] == (b"x-cache", b"miss")
    hit = await get()
    assert calls == 1
    names = [name for name, _ in hit[0]["headers"]]
    assert (b"x-cache", b"hit") in hit[0]["headers"]
    assert b"x-request-id" not in names
    assert hit[1]["body"] == b"{}"
    head = await get("HEAD")
    assert head[0]["headers"] == hit[0]["headers"]
    assert head[1]["body"] == b""
    not_modified = await get("GET", (b"if-none-match", b'"abc"'))
    assert calls == 1
    assert not_modified[0]["status"] == 304
    assert not_modified[0]["headers"] == [
        (b"etag", b'"abc"'),
        (b"cache-control", b"public, max-age=60"),
        (b"last-modified", b"Sat, 28 Nov 2026 00:00:00 GMT"),
        (b"vary", b"Accept-Encoding"),
        (b"access-control-allow-origin", b"*"),
    ]
    # Another tag, or a condition the cache does not judge: the request goes past it.
    await get("GET", (b"if-none-match", b'"other"'))
    await get("GET", (b"if-modified-since", b"Sat, 28 Nov 2026 00:00:00 GMT"))
    assert calls == 3
