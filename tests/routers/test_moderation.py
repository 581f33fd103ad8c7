"""/v1/moderation: the queue, the moderators' actions and edits, and what the public sees."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.cache import CachedResponse, ResponseCache, ResponseCacheMiddleware
from app.main import BODY_VALIDATED
from app.models.participation import AuditLog
from app.services import keys

GARE = "POINT(2.828254 50.426818)"  # in Lens, in tile 10/345/520
CONTACT = "proposant-7d1c@example.org"
ADDRESS = "12 rue Secrète-Zx81, Lens"
SCRIPT = "<script>alert('x')</script>'; DROP TABLE initiative; --"


async def bearer(session: AsyncSession, *scopes: str) -> dict[str, str]:
    made = await keys.create_key(session, "essai " + " ".join(scopes), list(scopes), None)
    return {"Authorization": f"Bearer {made.secret}"}


async def propose(
    session: AsyncSession,
    title: str,
    *,
    status: str = "submitted",
    created_at: str = "2026-01-01T00:00:00Z",
    wkt: str = GARE,
) -> int:
    result = await session.execute(
        text(
            "INSERT INTO initiative (title, description, category, status, location_precision, "
            "author_name, contact, address, geometry, commune_insee, created_at, published_at) "
            "VALUES (:title, 'Une idée', '1', :status, 'address', 'Camille', :contact, "
            ":address, ST_GeomFromText(:wkt, 4326), '62498', "
            "CAST(CAST(:created_at AS text) AS timestamptz), "
            "CASE WHEN :status IN ('published', 'archived') THEN now() END) RETURNING id"
        ),
        {
            "title": title,
            "status": status,
            "contact": CONTACT,
            "address": ADDRESS,
            "wkt": wkt,
            "created_at": created_at,
        },
    )
    return int(result.scalar_one())


@pytest.fixture
async def moderator(session: AsyncSession) -> dict[str, str]:
    headers = await bearer(session, "moderator")
    await session.commit()  # a refused request rolls back what the test had not committed
    return headers


def item(initiative_id: int) -> str:
    return f"/v1/moderation/initiatives/{initiative_id}"


async def test_the_queue_lists_submitted_initiatives_oldest_first_with_private_fields(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    newer = await propose(session, "Plus récente", created_at="2026-03-01T00:00:00Z")
    older = await propose(session, "Plus ancienne", created_at="2026-02-01T00:00:00Z")
    tie = await propose(session, "Même jour", created_at="2026-02-01T00:00:00Z")
    rejected = await propose(session, "Refusée", status="rejected")
    await session.commit()
    first = await client.get("/v1/moderation/initiatives?limit=2", headers=moderator)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in first.headers["vary"]
    assert "x-cache" not in first.headers
    body = first.json()
    assert [i["id"] for i in body["items"]] == [older, tie]
    assert body["items"][0]["contact"] == CONTACT
    assert body["items"][0]["address"] == ADDRESS
    assert body["items"][0]["status"] == "submitted"
    assert body["items"][0]["url"] is None
    assert body["items"][0]["geometry"] == {"type": "Point", "coordinates": [2.828254, 50.426818]}
    assert body["next_cursor"]
    assert 'rel="next"' in first.headers["link"]
    second = await client.get(
        "/v1/moderation/initiatives",
        params={"limit": 2, "cursor": body["next_cursor"]},
        headers=moderator,
    )
    assert [i["id"] for i in second.json()["items"]] == [newer]
    assert second.json()["next_cursor"] is None
    refused = await client.get("/v1/moderation/initiatives?status=rejected", headers=moderator)
    assert [i["id"] for i in refused.json()["items"]] == [rejected]
    published = await client.get(
        "/v1/moderation/initiatives?status=published&limit=1", headers=moderator
    )
    assert published.json()["items"][0]["url"].endswith(
        f"/v1/initiatives/{published.json()['items'][0]['id']}"
    )
    for query, name in (("status=pending", "status"), ("cursor=abc", "cursor"), ("x=1", "x")):
        bad = await client.get(f"/v1/moderation/initiatives?{query}", headers=moderator)
        assert bad.status_code == 400, query
        assert bad.json()["errors"][0]["name"] == name


async def test_one_initiative_with_its_etag_and_304(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    initiative = await propose(session, "Composteur de quartier")
    await session.commit()
    response = await client.get(item(initiative), headers=moderator)
    assert response.status_code == 200
    body = response.json()
    assert body["contact"] == CONTACT
    assert body["address"] == ADDRESS
    assert body["commune"] == "62498"
    assert body["commune_name"] == "Lens"
    assert body["moderation_reason"] is None
    assert "status_token_digest" not in body
    assert "row_version" not in body
    again = await client.get(
        item(initiative), headers={**moderator, "If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    missing = await client.get(item(999_999_999), headers=moderator)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        await client.get("/v1/moderation/initiatives/abc", headers=moderator)
    ).status_code == 400


async def test_moderation_answers_never_enter_the_response_cache() -> None:
    cache = ResponseCache(max_bytes=10_000, max_entry_bytes=1_000)
    cache.connected = True

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"contact": "x"}'})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    middleware = ResponseCacheMiddleware(app, cache, prefixes=("/v1/",), exclude=BODY_VALIDATED)
    for path, headers in (
        ("/v1/moderation/initiatives", []),
        ("/v1/moderation/initiatives/1", []),
        ("/v1/moderation/initiatives", [(b"authorization", b"Bearer trk_x")]),
    ):
        scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
        await middleware(scope, receive, send)
        assert len(cache) == 0, path
    # The same middleware does store a public answer: the exclusion is what keeps these out.
    await middleware(
        {"type": "http", "method": "GET", "path": "/v1/axes", "headers": []}, receive, send
    )
    assert len(cache) == 1
    assert isinstance(cache.get(next(iter(cache._entries))), CachedResponse)


async def test_keys_without_the_moderator_scope_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    editor = await bearer(session, "editor")
    initiative = await propose(session, "Idée")
    await session.commit()
    requests = [
        ("GET", "/v1/moderation/initiatives", None),
        ("GET", item(initiative), None),
        ("PATCH", item(initiative), {"title": "x"}),
        ("POST", item(initiative) + "/publish", None),
        ("POST", item(initiative) + "/reject", {"reason": "spam", "message": "x"}),
        ("POST", item(initiative) + "/archive", None),
        ("POST", item(initiative) + "/reopen", None),
    ]
    for method, url, body in requests:
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert "Bearer" in anonymous.headers["www-authenticate"]
        wrong = await client.request(method, url, json=body, headers=editor)
        assert wrong.status_code == 403, (method, url)
        assert "moderator" in wrong.json()["detail"]
    status = await session.scalar(
        text("SELECT status FROM initiative WHERE id = :id"), {"id": initiative}
    )
    assert status == "submitted"


async def test_the_states_and_the_actions_between_them(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    first = await propose(session, "À publier")
    second = await propose(session, "À refuser")
    await session.commit()

    published = await client.post(item(first) + "/publish", headers=moderator)
    assert published.status_code == 200, published.text
    assert published.headers["content-location"] == item(first)
    body = published.json()
    assert body["status"] == "published"
    assert body["published_at"]
    assert body["moderated_at"]
    assert body["url"].endswith(f"/v1/initiatives/{first}")
    again = await client.post(item(first) + "/publish", headers=moderator)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("/problems/conflict")
    assert "is published" in again.json()["detail"]
    refused = await client.post(
        item(first) + "/reject", json={"reason": "spam", "message": "non"}, headers=moderator
    )
    assert refused.status_code == 409
    assert "is published" in refused.json()["detail"]

    rejected = await client.post(
        item(second) + "/reject",
        json={"reason": "duplicate", "message": "Déjà proposée : " + SCRIPT},
        headers=moderator,
    )
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["status"] == "rejected"
    assert body["moderation_reason"] == "duplicate"
    assert body["moderation_message"] == "Déjà proposée : " + SCRIPT
    assert body["moderated_at"]
    assert body["published_at"] is None
    for action in ("publish", "archive"):
        conflict = await client.post(item(second) + f"/{action}", headers=moderator)
        assert conflict.status_code == 409, action
        assert "is rejected" in conflict.json()["detail"]
    reopened = await client.post(item(second) + "/reopen", headers=moderator)
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "submitted"
    assert reopened.json()["moderation_reason"] is None
    assert (await client.post(item(second) + "/publish", headers=moderator)).status_code == 200

    archived = await client.post(
        item(first) + "/archive",
        json={"reason": "other", "message": "Projet terminé."},
        headers=moderator,
    )
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert archived.json()["url"] is None
    assert archived.json()["moderation_message"] == "Projet terminé."
    for action in ("publish", "archive", "reopen"):
        assert (await client.post(item(first) + f"/{action}", headers=moderator)).status_code == 409
    assert (await client.post(item(999_999_999) + "/publish", headers=moderator)).status_code == 404

    # Each action is audited, with the key that acted.
    audited = (
        await session.execute(
            select(AuditLog.actor, AuditLog.after)
            .where(AuditLog.table_name == "initiative", AuditLog.record_key == str(first))
            .order_by(AuditLog.id)
        )
    ).all()
    assert [after["status"] for _, after in audited if after] == [
        "submitted",
        "published",
        "archived",
    ]
    assert all(actor.startswith("key:") for actor, _ in audited[1:])


async def test_reject_and_archive_bodies_are_checked(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    initiative = await propose(session, "Idée")
    await session.commit()
    cases: list[tuple[Any, set[str]]] = [
        (None, {"body"}),
        ({}, {"reason", "message"}),
        ({"reason": "because", "message": "x"}, {"reason"}),
        ({"reason": "spam", "message": "x" * 2001}, {"message"}),
        ({"reason": "spam", "message": " "}, {"message"}),
        ({"reason": "spam", "message": "x", "extra": 1}, {"extra"}),
        ({"reason": "spam", "message": "nul\u0000"}, {"message"}),
    ]
    for body, names in cases:
        response = await client.post(item(initiative) + "/reject", json=body, headers=moderator)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert {e["name"] for e in response.json()["errors"]} == names, body
    await client.post(item(initiative) + "/publish", headers=moderator)
    archive = await client.post(item(initiative) + "/archive", json={"color": 1}, headers=moderator)
    assert archive.status_code == 422
    assert archive.json()["errors"][0]["name"] == "color"


POLYGON = {
    "type": "Polygon",
    "coordinates": [[[2.82, 50.42], [2.83, 50.42], [2.83, 50.43], [2.82, 50.43], [2.82, 50.42]]],
}


async def test_an_edit_needs_the_current_etag_and_is_validated(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    initiative = await propose(session, "Titre avec fautes")
    await session.commit()
    url = item(initiative)
    etag = (await client.get(url, headers=moderator)).headers["etag"]
    patch = {"title": "Titre corrigé " + SCRIPT, "address": None, "geometry": POLYGON}

    missing = await client.patch(url, json=patch, headers=moderator)
    assert missing.status_code == 428
    assert "If-Match" in missing.json()["detail"]
    malformed = await client.patch(url, json=patch, headers={**moderator, "If-Match": "x"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["name"] == "If-Match"
    stale = await client.patch(url, json=patch, headers={**moderator, "If-Match": '"abc"'})
    assert stale.status_code == 412

    done = await client.patch(
        url,
        content=json.dumps(patch),
        headers={
            **moderator,
            "If-Match": etag,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["title"] == "Titre corrigé " + SCRIPT  # stored and returned verbatim
    assert body["address"] is None
    assert body["contact"] == CONTACT  # untouched
    assert body["geometry"]["type"] == "Polygon"
    assert body["commune"] == "62498"
    assert body["status"] == "submitted"
    now = await client.get(url, headers=moderator)
    assert now.headers["etag"] == done.headers["etag"] != etag
    assert now.json() == body
    again = await client.patch(
        url, json={"title": "Encore"}, headers={**moderator, "If-Match": etag}
    )
    assert again.status_code == 412
    # A change to another initiative leaves this one's ETag valid.
    other = await propose(session, "Autre")
    await session.commit()
    await client.post(
        item(other) + "/reject", json={"reason": "spam", "message": "x"}, headers=moderator
    )
    kept = await client.patch(
        url, json={"description": None}, headers={**moderator, "If-Match": done.headers["etag"]}
    )
    assert kept.status_code == 200
    assert kept.json()["description"] is None
    missing_one = await client.patch(
        item(999_999_999), json={"title": "x"}, headers={**moderator, "If-Match": "*"}
    )
    assert missing_one.status_code == 404


@pytest.mark.parametrize(
    ("patch", "name"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 5001}, "description"),
        ({"address": "x" * 301}, "address"),
        ({"author_name": "x" * 101}, "author_name"),
        ({"category": "9"}, "category"),
        ({"category": "1.2"}, "category"),
        ({"category": None}, "category"),
        ({"geometry": {"type": "Point", "coordinates": [200, 50]}}, "geometry"),
        ({"geometry": {"type": "MultiPoint", "coordinates": [[2.8, 50.4]]}}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [-1.55, 47.21]}}, "geometry"),  # Nantes
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[2.8, 50.4], [2.9, 50.5], [2.9, 50.4], [2.8, 50.5], [2.8, 50.4]]
                    ],
                }
            },
            "geometry",
        ),
        ({"geometry": "POINT(2.8 50.4)"}, "geometry"),
        ({"location_precision": "street"}, "location_precision"),
        ({"status": "published"}, "status"),
        ({"contact": "x@example.org"}, "contact"),
        ({"title": "ok\u0000"}, "title"),
    ],
)
async def test_a_bad_edit_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    session: AsyncSession,
    moderator: dict[str, str],
    patch: dict[str, Any],
    name: str,
) -> None:
    initiative = await propose(session, "Idée")
    await session.commit()
    response = await client.patch(
        item(initiative), json=patch, headers={**moderator, "If-Match": "*"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["name"] for e in response.json()["errors"]] == [name]
    title = await session.scalar(
        text("SELECT title FROM initiative WHERE id = :id"), {"id": initiative}
    )
    assert title == "Idée"


async def test_a_body_that_is_not_json_is_a_422(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    initiative = await propose(session, "Idée")
    await session.commit()
    for content, media in ((b'{"title": ', "application/json"), (b"title=x", "text/plain")):
        response = await client.patch(
            item(initiative),
            content=content,
            headers={**moderator, "If-Match": "*", "Content-Type": media},
        )
        assert response.status_code == 422, content
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_public_sees_an_initiative_only_while_it_is_published(
    client: httpx.AsyncClient, session: AsyncSession, moderator: dict[str, str]
) -> None:
    title = "Potager Zorglub-9q4"
    initiative = await propose(session, title)
    declined = await propose(session, "Rucher Zorglub-9q4 refusé")
    await session.commit()

    async def public_bodies(published: bool = False) -> dict[str, str]:
        # The contact never; the address (moderators' business) not while unpublished.
        private = (CONTACT,) if published else (CONTACT, ADDRESS)
        urls = {
            "list": "/v1/initiatives?limit=1000",
            "item": f"/v1/initiatives/{initiative}",
            "ogc items": "/ogc/collections/initiatives/items?limit=10000",
            "ogc item": f"/ogc/collections/initiatives/items/{initiative}",
            "ogc html": "/ogc/collections/initiatives/items?limit=10000&f=html",
            "search": "/v1/search?q=Zorglub-9q4",
            "csv": "/v1/datasets/initiatives.csv",
            "json": "/v1/datasets/initiatives.json",
            "geojson": "/v1/datasets/initiatives.geojson",
            "changes": "/v1/changes?dataset=initiatives&limit=1000",
        }
        bodies = {}
        for name, url in urls.items():
            response = await client.get(url)
            assert response.status_code in (200, 404), (name, response.text[:200])
            bodies[name] = response.text if response.status_code == 200 else ""
        tile = await client.get("/ogc/collections/initiatives/tiles/WebMercatorQuad/10/345/520")
        assert tile.status_code == 200
        bodies["tile"] = tile.content.decode("utf-8", "replace")
        for name, body in bodies.items():
            for secret in private:
                assert secret not in body, (name, secret)
            assert "Rucher" not in body, name
        return bodies

    def showing(bodies: dict[str, str]) -> set[str]:
        # Not the feed: in-process, what it lists of the test's own transaction depends on the
        # other transactions of the server (the test on the real server checks it).
        return {name for name, body in bodies.items() if title in body and name != "changes"}

    everywhere = {
        "list",
        "item",
        "ogc items",
        "ogc item",
        "ogc html",
        "search",
        "csv",
        "json",
        "geojson",
        "tile",
    }
    assert showing(await public_bodies()) == set()
    await client.post(
        item(declined) + "/reject", json={"reason": "spam", "message": "x"}, headers=moderator
    )
    assert (await client.post(item(initiative) + "/publish", headers=moderator)).status_code == 200
    bodies = await public_bodies(published=True)
    assert showing(bodies) == everywhere
    # Public once published, like the geometry it helped place.
    assert json.loads(bodies["item"])["properties"]["address"] == ADDRESS
    assert (await client.post(item(initiative) + "/archive", headers=moderator)).status_code == 200
    assert showing(await public_bodies()) == set()
    assert (await client.get(f"/v1/initiatives/{initiative}")).status_code == 404


async def feed(client: httpx.AsyncClient, cursor: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The initiatives' changes since `cursor` (all of them without), and the cursor after."""
    changes: list[dict[str, Any]] = []
    while True:
        params = {
            "dataset": "initiatives",
            "limit": "1000",
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await client.get("/v1/changes", params=params)).json()
        changes += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            assert cursor is not None
            return cursor, changes


async def test_concurrent_moderators_on_the_real_server(
    live_server: str, engine: AsyncEngine
) -> None:
    """Committed data, a real server and pool: one edit per ETag, one decision per initiative."""
    async with AsyncSession(engine) as setup:
        made = await keys.create_key(setup, "concurrence", ["moderator"], None)
        first = await propose(setup, "Concurrence (édition)")
        second = await propose(setup, "Concurrence (décision)")
        key_id = made.key.id
        await setup.commit()
    headers = {"Authorization": f"Bearer {made.secret}"}
    try:
        async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
            etag = (await client.get(item(first), headers=headers)).headers["etag"]
            edits = await asyncio.gather(
                *(
                    client.patch(
                        item(first),
                        json={"title": f"Titre n°{n}"},
                        headers={**headers, "If-Match": etag},
                    )
                    for n in range(12)
                )
            )
            statuses = sorted(response.status_code for response in edits)
            assert statuses == [200] + [412] * 11, statuses
            (winner,) = [r.json()["title"] for r in edits if r.status_code == 200]
            now = await client.get(item(first), headers=headers)
            assert now.json()["title"] == winner  # no update lost, none applied twice

            decisions = await asyncio.gather(
                *(
                    client.post(item(second) + "/publish", headers=headers)
                    if n % 2
                    else client.post(
                        item(second) + "/reject",
                        json={"reason": "spam", "message": "non"},
                        headers=headers,
                    )
                    for n in range(12)
                )
            )
            statuses = sorted(response.status_code for response in decisions)
            assert statuses == [200] + [409] * 11, statuses
            (decided,) = [r.json()["status"] for r in decisions if r.status_code == 200]
            final = await client.get(item(second), headers=headers)
            assert final.json()["status"] == decided

            # The change feed: the record while published, then a deletion; never the contact.
            cursor, _ = await feed(client, None)
            assert (await client.post(item(first) + "/publish", headers=headers)).is_success
            cursor, changes = await feed(client, cursor)
            (shown,) = [c for c in changes if c["key"] == str(first)]
            assert shown["record"]["title"] == winner
            assert CONTACT not in json.dumps(changes)
            assert (await client.post(item(first) + "/archive", headers=headers)).is_success
            _, changes = await feed(client, cursor)
            assert [c["record"] for c in changes if c["key"] == str(first)] == [None]
    finally:
        async with AsyncSession(engine) as cleanup:
            await cleanup.execute(
                text("DELETE FROM initiative WHERE id IN (:a, :b)"), {"a": first, "b": second}
            )
            await keys.revoke_key(cleanup, key_id)
            await cleanup.commit()
