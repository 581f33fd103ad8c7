"""Editors' writes of initiatives at their public URLs, and links to actions."""

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.participation import AuditLog
from tests.routers.test_moderation import SCRIPT, bearer, propose

GEOJSON = "application/geo+json"
NEW = {
    "title": "Jardin partagé du 12-14",
    "description": "Des bacs de culture au pied des immeubles.",
    "category": "4",
    "geometry": {"type": "Point", "coordinates": [2.828254, 50.426818]},
    "address": "12 rue de la Gare, Lens",
    "author_name": "Association Les Jardiniers",
}


@pytest.fixture
async def editor(session: AsyncSession) -> dict[str, str]:
    headers = await bearer(session, "editor")
    await session.commit()  # a refused request rolls back what the test had not committed
    return headers


async def create(client: httpx.AsyncClient, editor: dict[str, str], **changes: Any) -> int:
    response = await client.post("/v1/initiatives", json={**NEW, **changes}, headers=editor)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_an_editor_creates_a_published_initiative(
    client: httpx.AsyncClient, session: AsyncSession, editor: dict[str, str]
) -> None:
    response = await client.post("/v1/initiatives", json=NEW, headers=editor)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == GEOJSON
    feature = response.json()
    initiative = feature["id"]
    assert response.headers["location"] == f"http://testserver/v1/initiatives/{initiative}"
    assert feature["geometry"] == NEW["geometry"]
    properties = feature["properties"]
    assert properties["status"] == "published"
    assert properties["title"] == NEW["title"]
    assert properties["commune"] == "62498"
    assert properties["location_precision"] == "exact"
    assert properties["actions"] == []
    assert properties["address"] == NEW["address"]
    public = await client.get(f"/v1/initiatives/{initiative}")
    assert public.status_code == 200
    assert public.json() == feature
    assert public.headers["etag"] == response.headers["etag"]
    listed = await client.get("/v1/initiatives", params={"category": "4", "limit": 1000})
    assert initiative in {f["id"] for f in listed.json()["features"]}
    (actor,) = (
        await session.execute(
            select(AuditLog.actor).where(
                AuditLog.table_name == "initiative",
                AuditLog.record_key == str(initiative),
                AuditLog.operation == "insert",
            )
        )
    ).scalars()
    assert actor.startswith("key:")


async def test_texts_are_stored_inert_and_returned_verbatim(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    texts = {
        "title": SCRIPT,
        "description": "Robert'); DROP TABLE initiative;-- \n<img src=x onerror=alert(1)> {{7*7}}",
        "author_name": '"quoted" & <b>bold</b> \\ é 😀',
    }
    initiative = await create(client, editor, **texts)
    properties = (await client.get(f"/v1/initiatives/{initiative}")).json()["properties"]
    for name, value in texts.items():
        assert properties[name] == value, name
    # Still a table, still searchable.
    assert (await client.get("/v1/initiatives?limit=1")).status_code == 200


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, {"title", "category", "geometry"}),
        ({**NEW, "status": "submitted"}, {"status"}),
        ({**NEW, "contact": "x@example.org", "id": 3}, {"contact", "id"}),
        ({**NEW, "title": "x" * 201}, {"title"}),
        ({**NEW, "description": "x" * 5001}, {"description"}),
        ({**NEW, "category": "7"}, {"category"}),
        ({**NEW, "geometry": {"type": "Point", "coordinates": [2.8]}}, {"geometry"}),
        ({**NEW, "geometry": {"type": "Point", "coordinates": [5.37, 43.3]}}, {"geometry"}),
        ({**NEW, "location_precision": "approximate"}, {"location_precision"}),
    ],
)
async def test_a_bad_creation_is_a_422_naming_the_fields(
    client: httpx.AsyncClient,
    session: AsyncSession,
    editor: dict[str, str],
    body: dict[str, Any],
    names: set[str],
) -> None:
    before = await session.scalar(text("SELECT count(*) FROM initiative"))
    response = await client.post("/v1/initiatives", json=body, headers=editor)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["name"] for e in response.json()["errors"]} == names
    assert await session.scalar(text("SELECT count(*) FROM initiative")) == before


async def next_transaction(session: AsyncSession) -> None:
    """The requests of a test share its transaction, where a dataset's version is bumped once:
    forget that, as a new transaction would."""
    await session.execute(text("SELECT set_config('territoire.bumped_initiatives', '', true)"))
    await session.commit()


async def test_an_update_needs_the_etag_of_the_public_representation(
    client: httpx.AsyncClient, session: AsyncSession, editor: dict[str, str]
) -> None:
    initiative = await create(client, editor)
    await next_transaction(session)
    url = f"/v1/initiatives/{initiative}"
    etag = (await client.get(url)).headers["etag"]
    patch = {"title": "Jardin partagé (agrandi)", "address": None}
    assert (await client.patch(url, json=patch, headers=editor)).status_code == 428
    stale = await client.patch(url, json=patch, headers={**editor, "If-Match": '"stale"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    done = await client.patch(
        url,
        content=json.dumps(patch),
        headers={**editor, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert done.status_code == 200, done.text
    assert done.headers["content-type"] == GEOJSON
    assert done.json()["properties"]["title"] == "Jardin partagé (agrandi)"
    assert done.json()["properties"]["description"] == NEW["description"]
    now = await client.get(url)
    assert now.headers["etag"] == done.headers["etag"] != etag
    assert (
        await client.patch(url, json=patch, headers={**editor, "If-Match": etag})
    ).status_code == 412
    # A client that sends its key on every request gets the same ETag, which a write accepts.
    keyed = await client.get(url, headers=editor)
    assert keyed.headers["cache-control"] == "private, no-cache"
    assert keyed.headers["etag"] == done.headers["etag"]
    await next_transaction(session)
    again = await client.patch(
        url, json={"author_name": None}, headers={**editor, "If-Match": keyed.headers["etag"]}
    )
    assert again.status_code == 200, again.text
    assert again.json()["properties"]["author_name"] is None
    # What the representation does not show leaves its ETag valid (and unlocked by writes here).
    await session.execute(text("UPDATE axis SET title = title || ' (modifié)' WHERE code = '2'"))
    await session.commit()
    assert (await client.get(url)).headers["etag"] == again.headers["etag"] != etag
    bad = await client.patch(url, json={"title": None, "x": 1}, headers={**editor, "If-Match": "*"})
    assert bad.status_code == 422
    assert {e["name"] for e in bad.json()["errors"]} == {"title", "x"}


async def test_editors_change_only_published_initiatives(
    client: httpx.AsyncClient, session: AsyncSession, editor: dict[str, str]
) -> None:
    hidden = await propose(session, "En attente")
    await session.commit()
    url = f"/v1/initiatives/{hidden}"
    headers = {**editor, "If-Match": "*"}
    for response in (
        await client.patch(url, json={"title": "x"}, headers=headers),
        await client.delete(url, headers=editor),
        await client.put(url + "/actions/1.2.1.1", headers=editor),
    ):
        assert response.status_code == 404
        assert "submitted" in response.json()["detail"]
    for response in (
        await client.patch("/v1/initiatives/999999999", json={"title": "x"}, headers=headers),
        await client.delete("/v1/initiatives/99999999999999999999", headers=editor),
    ):
        assert response.status_code == 404
    title = await session.scalar(
        text("SELECT title FROM initiative WHERE id = :id"), {"id": hidden}
    )
    assert title == "En attente"


async def test_a_deletion_leaves_the_public_data_and_the_audit_keeps_it(
    client: httpx.AsyncClient, session: AsyncSession, editor: dict[str, str]
) -> None:
    initiative = await create(client, editor)
    url = f"/v1/initiatives/{initiative}"
    assert (await client.put(url + "/actions/1.2.1.1", headers=editor)).status_code == 204
    etag = (await client.get(url)).headers["etag"]
    stale = await client.delete(url, headers={**editor, "If-Match": '"stale"'})
    assert stale.status_code == 412
    deleted = await client.delete(url, headers={**editor, "If-Match": etag})
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=editor)).status_code == 404
    images = {
        row.table_name: row.before
        for row in (
            await session.execute(
                select(AuditLog).where(AuditLog.operation == "delete", AuditLog.actor.is_not(None))
            )
        ).scalars()
        if row.before
        and str(row.before.get("id", row.before.get("initiative_id"))) == str(initiative)
    }
    assert images["initiative"]["title"] == NEW["title"]
    assert images["initiative"]["address"] == NEW["address"]
    assert images["initiative_action"]["action_code"] == "1.2.1.1"
    # Like every deletion, it is listed and restorable, with its link.
    listed = (await client.get("/v1/deletions", headers=editor)).json()["items"]
    deletion = next(d for d in listed if d["path"] == url)
    restored = await client.post(f"/v1/deletions/{deletion['id']}/restore", headers=editor)
    assert restored.status_code == 200, restored.text
    back = await client.get(url)
    assert back.status_code == 200
    assert back.json()["properties"]["actions"] == ["1.2.1.1"]


async def test_links_to_actions_are_idempotent_and_public(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    initiative = await create(client, editor)
    url = f"/v1/initiatives/{initiative}"
    for _ in range(2):
        assert (await client.put(url + "/actions/1.2.1.1", headers=editor)).status_code == 204
    assert (await client.put(url + "/actions/3.3.1.2", headers=editor)).status_code == 204
    feature = (await client.get(url)).json()
    assert feature["properties"]["actions"] == ["1.2.1.1", "3.3.1.2"]
    found = await client.get("/v1/initiatives", params={"action": "3.3.1.2", "limit": 1000})
    assert initiative in {f["id"] for f in found.json()["features"]}
    ogc = await client.get(f"/ogc/collections/initiatives/items/{initiative}")
    assert ogc.json()["properties"]["actions"] == ["1.2.1.1", "3.3.1.2"]
    for _ in range(2):
        assert (await client.delete(url + "/actions/1.2.1.1", headers=editor)).status_code == 204
    assert (await client.get(url)).json()["properties"]["actions"] == ["3.3.1.2"]
    unknown = await client.put(url + "/actions/9.9.9.9", headers=editor)
    assert unknown.status_code == 404
    assert "9.9.9.9" in unknown.json()["detail"]
    assert (await client.delete(url + "/actions/9.9.9.9", headers=editor)).status_code == 404
    nobody = await client.put("/v1/initiatives/999999999/actions/1.2.1.1", headers=editor)
    assert nobody.status_code == 404
    malformed = await client.put(url + "/actions/1.2", headers=editor)
    assert malformed.status_code == 400


async def test_write_routes_need_the_editor_scope(
    client: httpx.AsyncClient, session: AsyncSession, editor: dict[str, str]
) -> None:
    moderator = await bearer(session, "moderator")
    await session.commit()
    initiative = await create(client, editor)
    url = f"/v1/initiatives/{initiative}"
    requests: list[tuple[str, str, Any]] = [
        ("POST", "/v1/initiatives", NEW),
        ("PATCH", url, {"title": "x"}),
        ("DELETE", url, None),
        ("PUT", url + "/actions/1.2.1.1", None),
        ("DELETE", url + "/actions/1.2.1.1", None),
    ]
    for method, target, body in requests:
        anonymous = await client.request(method, target, json=body)
        assert anonymous.status_code == 401, (method, target)
        assert anonymous.headers["content-type"] == "application/problem+json"
        malformed = await client.request(
            method, target, json=body, headers={"Authorization": "Bearer nope"}
        )
        assert malformed.status_code == 401, (method, target)
        wrong = await client.request(method, target, json=body, headers=moderator)
        assert wrong.status_code == 403, (method, target)
    assert (await client.get(url)).json()["properties"]["title"] == NEW["title"]


async def test_write_routes_declare_their_security(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    secured = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }
    assert {
        "POST /v1/initiatives",
        "PATCH /v1/initiatives/{initiative_id}",
        "DELETE /v1/initiatives/{initiative_id}",
        "PUT /v1/initiatives/{initiative_id}/actions/{code}",
        "DELETE /v1/initiatives/{initiative_id}/actions/{code}",
        "GET /v1/moderation/initiatives",
        "GET /v1/moderation/initiatives/{initiative_id}",
        "PATCH /v1/moderation/initiatives/{initiative_id}",
        "POST /v1/moderation/initiatives/{initiative_id}/publish",
        "POST /v1/moderation/initiatives/{initiative_id}/reject",
        "POST /v1/moderation/initiatives/{initiative_id}/archive",
        "POST /v1/moderation/initiatives/{initiative_id}/reopen",
    } <= secured
    assert "GET /v1/initiatives/{initiative_id}" not in secured
    patch = document["paths"]["/v1/initiatives/{initiative_id}"]["patch"]
    # Declared once, as what it is (the server also reads it sent as application/json).
    assert set(patch["requestBody"]["content"]) == {"application/merge-patch+json"}
