"""The change feed: a harvester that applies it mirrors the data exactly, deletions included,
even when transactions commit in another order than they started."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.repositories.changes import published_triggers
from app.services.dataset import load_dataset, read_dataset
from app.services.registry import REGISTRY
from tests.conftest import (
    CALL_DATASET,
    TEST_DATABASE_URL,
    migrate,
    plain_url,
    recreate_database,
    start_uvicorn,
)

Mirror = dict[str, dict[str, Any]]


async def sync(client: httpx.AsyncClient, mirror: Mirror, cursor: str | None) -> str:
    """Follow the feed from `cursor` to its end, applying each entry; the cursor to resume."""
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/changes", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        for change in page["items"]:
            records = mirror.setdefault(change["dataset"], {})
            if change["record"] is None:
                records.pop(change["key"], None)
            else:
                records[change["key"]] = change["record"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


async def source(client: httpx.AsyncClient) -> Mirror:
    """Every dataset as its JSON export gives it, keyed like the feed."""
    data: Mirror = {}
    for spec in REGISTRY:
        response = await client.get(f"/v1/datasets/{spec.identifier}.json")
        assert response.status_code == 200
        records = {str(r[spec.key]): r for r in response.json()}
        if records:  # as compact() leaves the mirror
            data[spec.identifier] = records
    return data


def compact(mirror: Mirror) -> Mirror:
    return {dataset: records for dataset, records in mirror.items() if records}


async def settled_source(client: httpx.AsyncClient, mirror: Mirror) -> Mirror:
    """The source once the server's response cache has heard of the last commit (the
    notification arrives a moment after the commit); compared with the mirror by the caller."""
    data = await source(client)
    for _ in range(50):
        if data == compact(mirror):
            break
        await asyncio.sleep(0.05)
        data = await source(client)
    return data


@dataclass
class FeedServer:
    url: str
    dsn: str


@pytest.fixture(scope="module")
async def feed_server() -> AsyncIterator[FeedServer]:
    """The service on a database of its own: the test commits changes and must not disturb the
    others (nor be disturbed by them)."""
    url = TEST_DATABASE_URL + "_feed"
    await recreate_database(url)
    await migrate(url)
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await load_dataset(AsyncSession(bind=connection), read_dataset(CALL_DATASET))
    await engine.dispose()
    process, base = await start_uvicorn(url)
    try:
        yield FeedServer(base, plain_url(url))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


async def test_a_mirror_built_from_the_feed_equals_the_source(feed_server: FeedServer) -> None:
    db = await asyncpg.connect(feed_server.dsn)
    late = await asyncpg.connect(feed_server.dsn)
    async with httpx.AsyncClient(base_url=feed_server.url, timeout=30) as client:
        try:
            mirror: Mirror = {}
            cursor = await sync(client, mirror, None)
            assert compact(mirror) == await source(client)
            assert len(mirror["actions"]) > 10

            # Updates, a link change, a creation, a deletion, a delete-and-recreate.
            await db.execute("UPDATE axis SET title = 'Mobilité (titre révisé)' WHERE code = '1'")
            await db.execute("UPDATE commune SET name = name || ' (test)' WHERE insee = '62498'")
            link = await db.fetchrow(
                "SELECT a.id, a.code FROM action a JOIN action_commune l ON l.action_id = a.id "
                "ORDER BY a.code_path LIMIT 1"
            )
            assert link is not None
            await db.execute("DELETE FROM action_commune WHERE action_id = $1", link["id"])
            async with db.transaction():
                objective = await db.fetchval("SELECT id FROM objective WHERE code = '1.2.1'")
                new_id = await db.fetchval(
                    "INSERT INTO action (code, title, objective_id, status) "
                    "VALUES ('1.2.1.99', 'Action créée', $1, 'planned') RETURNING id",
                    objective,
                )
                await db.execute(
                    "INSERT INTO action_commune VALUES ($1, '62510'), ($1, '62498')", new_id
                )
            deleted = await db.fetchval(
                "DELETE FROM action WHERE code = (SELECT max(code) FROM action WHERE code <> "
                "'1.2.1.99' AND code LIKE '5.%') RETURNING code"
            )
            async with db.transaction():
                row = await db.fetchrow(
                    "DELETE FROM action WHERE code = '1.2.1.1' RETURNING objective_id, title"
                )
                assert row is not None
                await db.execute(
                    "INSERT INTO action (code, title, objective_id) VALUES ('1.2.1.1', $1, $2)",
                    row["title"] + " (recréée)",
                    row["objective_id"],
                )

            cursor = await sync(client, mirror, cursor)
            assert compact(mirror) == await settled_source(client, mirror)
            assert "1.2.1.99" in mirror["actions"]
            assert deleted not in mirror["actions"]
            assert mirror["actions"][link["code"]]["communes"] == []
            assert mirror["communes"]["62498"]["name"].endswith(" (test)")

            # A transaction that began first and commits last: its change must not be skipped.
            first = late.transaction()
            await first.start()
            await late.execute("UPDATE ambition SET title = title || ' (tard)' WHERE code = '1.1'")
            await db.execute("UPDATE objective SET title = title || ' (tôt)' WHERE code = '1.1.1'")
            cursor = await sync(client, mirror, cursor)
            await first.commit()
            cursor = await sync(client, mirror, cursor)
            data = await settled_source(client, mirror)
            assert compact(mirror) == data
            assert data["ambitions"]["1.1"]["title"].endswith(" (tard)")
            assert data["objectives"]["1.1.1"]["title"].endswith(" (tôt)")

            # The tombstone says what was deleted; nothing is left after the end.
            tail = (await client.get("/v1/changes", params={"cursor": cursor})).json()
            assert tail["items"] == []
            assert tail["has_more"] is False
            everything = []
            position = None
            while True:
                params = {"limit": "1000", "dataset": "actions"}
                if position:
                    params["cursor"] = position
                page = (await client.get("/v1/changes", params=params)).json()
                everything += page["items"]
                position = page["next_cursor"]
                if not page["has_more"]:
                    break
            tombstones = [c for c in everything if c["operation"] == "delete"]
            assert deleted in {c["key"] for c in tombstones}
            assert all(c["dataset"] == "actions" for c in everything)
            (gone,) = [c for c in tombstones if c["key"] == deleted]
            assert gone["record"] is None
            assert gone["url"] is None
        finally:
            await db.close()
            await late.close()


async def test_every_published_table_logs_its_changes(session: AsyncSession) -> None:
    triggers = await published_triggers(session)
    logged = {table: dataset for table, dataset, _ in triggers}
    for spec in REGISTRY:
        owned = [table for table in spec.tables if table in logged]
        assert owned, spec.identifier
        assert {logged[table] for table in owned} == {spec.identifier}
        for _table, dataset, key in triggers:
            if dataset == spec.identifier:
                assert key == spec.key
    assert set(logged.values()) <= set(REGISTRY.identifiers())
    # Link tables are logged as a change of their parent.
    touched = await session.execute(
        text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = 'touch_parent'"
        )
    )
    assert set(touched.scalars()) == {
        "action_commune",
        "initiative_action",
        "indicator_ambition",
        "indicator_objective",
        "indicator_action",
    }


CONTACT = "secret-contact-7f3a@example.org"


async def test_the_feed_follows_an_initiative_and_never_gives_its_contact(
    feed_server: FeedServer,
) -> None:
    db = await asyncpg.connect(feed_server.dsn)
    async with httpx.AsyncClient(base_url=feed_server.url, timeout=30) as client:
        try:
            start = (await client.get("/v1/changes?dataset=initiatives&limit=1000")).json()
            cursor = start["next_cursor"]

            async def insert(title: str) -> str:
                return str(
                    await db.fetchval(
                        "INSERT INTO initiative (title, category, status, location_precision, "
                        "contact, published_at, geometry) VALUES ($1, '1', 'published', "
                        "'exact', $2, now(), ST_SetSRID(ST_MakePoint(2.83, 50.43), 4326)) "
                        "RETURNING id",
                        title,
                        CONTACT,
                    )
                )

            created = await insert("Jardin partagé (flux)")
            updated = await insert("Repair café (flux)")
            deleted = await insert("Troc de graines (flux)")
            unpublished = await insert("Fresque du climat (flux)")
            await db.execute(
                "UPDATE initiative SET title = 'Repair café (flux, modifié)' WHERE id = $1",
                int(updated),
            )
            await db.execute("DELETE FROM initiative WHERE id = $1", int(deleted))
            await db.execute(
                "UPDATE initiative SET status = 'submitted' WHERE id = $1", int(unpublished)
            )
            response = await client.get(
                "/v1/changes", params={"dataset": "initiatives", "cursor": cursor, "limit": "1000"}
            )
            assert response.status_code == 200
            assert CONTACT not in response.text
            changes = response.json()["items"]
        finally:
            await db.close()
    by_key: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_key.setdefault(change["key"], []).append(change)
    assert [c["operation"] for c in by_key[created]] == ["insert"]
    assert by_key[created][0]["record"]["title"] == "Jardin partagé (flux)"
    assert by_key[created][0]["url"] == f"{feed_server.url}/v1/initiatives/{created}"
    assert "contact" not in by_key[created][0]["record"]
    assert [c["operation"] for c in by_key[updated]] == ["insert", "update"]
    assert by_key[updated][-1]["record"]["title"] == "Repair café (flux, modifié)"
    assert [c["operation"] for c in by_key[deleted]] == ["insert", "delete"]
    assert by_key[deleted][-1]["record"] is None
    # Unpublished: the record is gone from the public data, so a harvester deletes it.
    assert [c["operation"] for c in by_key[unpublished]] == ["insert", "delete"]
    assert all(c["record"] is None and c["url"] is None for c in by_key[unpublished])
    mirror: Mirror = {}
    for change in changes:
        if change["record"] is None:
            mirror.pop(change["key"], None)
        else:
            mirror[change["key"]] = change["record"]
    assert set(mirror) == {created, updated}


async def test_the_feed_starts_with_everything_published(client: httpx.AsyncClient) -> None:
    page = (await client.get("/v1/changes?dataset=axes&limit=1000")).json()
    assert [c["key"] for c in page["items"]] == ["1", "2", "3", "4", "5"]
    assert {c["operation"] for c in page["items"]} == {"insert"}
    first = page["items"][0]
    assert first["url"] == "http://testserver/v1/axes/1"
    assert first["record"]["title"] == "Mobilité verte"
    assert page["has_more"] is False
    again = (await client.get(f"/v1/changes?dataset=axes&cursor={page['next_cursor']}")).json()
    assert again["items"] == []
    assert again["next_cursor"] == page["next_cursor"]


async def test_bad_cursors_and_filters(client: httpx.AsyncClient) -> None:
    from app.services.pagination import encode_cursor

    for cursor in ("abc", encode_cursor("1"), "ZjE6LTE6MQ", "ZjE6OTk5OTk5OTk5OTk5OTk5OTk5OToxMA"):
        response = await client.get(f"/v1/changes?cursor={cursor}")
        assert response.status_code == 400, cursor
        assert response.json()["errors"][0]["name"] == "cursor"
    unknown = await client.get("/v1/changes?dataset=nothing")
    assert unknown.status_code == 400
    assert "actions" in unknown.json()["detail"]


async def test_a_budget_line_whose_key_changes_is_deleted_under_its_old_key(
    feed_server: FeedServer,
) -> None:
    db = await asyncpg.connect(feed_server.dsn)
    async with httpx.AsyncClient(base_url=feed_server.url, timeout=30) as client:
        try:
            mirror: Mirror = {}
            cursor = await sync(client, mirror, None)
            line = await db.fetchval(
                "INSERT INTO budget_line (action_id, year, nature, planned) "
                "SELECT id, 2024, 'operating', 10 FROM action WHERE code = '1.2.1.1' "
                "RETURNING line_key"
            )
            assert line == "1.2.1.1-2024-operating"
            cursor = await sync(client, mirror, cursor)
            assert set(mirror["budget_lines"]) == {line}
            await db.execute("UPDATE budget_line SET year = 2026 WHERE line_key = $1", line)
            await sync(client, mirror, cursor)
            assert set(mirror["budget_lines"]) == {"1.2.1.1-2026-operating"}
            assert mirror["budget_lines"]["1.2.1.1-2026-operating"]["year"] == 2026
        finally:
            await db.close()
